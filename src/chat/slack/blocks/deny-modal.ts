/** The reason dialog behind the Deny button. The decision is made only when it is submitted. */
import { parseRequestId } from '../../../core/ids.js';
import { MAX_REASON_LENGTH } from '../../../core/asking.js';
import type { RequestView } from '../../../core/view.js';
import { DENY_MODAL, INPUT } from '../ids.js';
import * as L from '../limits.js';
import { mention } from '../mrkdwn.js';
import { summary } from './describe.js';
import { plain, section, type ModalView } from './kit.js';
import { inputValue, type ModalValues } from './request-modal.js';
import type { RequestId } from '../../../core/model.js';

/** private_metadata = the request id. Given the view, the modal also restates what is being denied. */
export function denyModal(target: RequestView | number): ModalView {
  const id = typeof target === 'number' ? target : target.request.id;
  return {
    type: 'modal',
    callback_id: DENY_MODAL,
    title: plain(`Deny request #${id}`, L.VIEW_TITLE),
    submit: plain('Deny', L.VIEW_TITLE),
    close: plain('Cancel', L.VIEW_TITLE),
    private_metadata: String(id),
    blocks: [
      ...(typeof target === 'number'
        ? []
        : [section(`${mention(target.request.requester)} asked for ${summary(target)}.`)]),
      {
        type: 'input',
        block_id: INPUT.reason.block,
        label: plain('Why are you denying it?'),
        hint: plain('The requester sees this, and it is kept in the audit log.', L.INPUT_HINT),
        element: {
          type: 'plain_text_input',
          action_id: INPUT.reason.action,
          multiline: true,
          min_length: 1,
          max_length: MAX_REASON_LENGTH,
        },
      },
    ],
  };
}

export function parseDenyModal(submitted: { private_metadata: string; state: { values: ModalValues } }): {
  requestId?: RequestId;
  reason?: string;
} {
  const requestId = parseRequestId(submitted.private_metadata);
  const reason = inputValue(submitted.state.values, 'reason');
  return { ...(requestId !== undefined && { requestId }), ...(reason !== undefined && { reason }) };
}
