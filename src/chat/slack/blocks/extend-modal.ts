/** The dialog behind Extend: how much longer, and why. Submitting extends at once within the self-extension policy, else files an extension request. */
import { formatDuration } from '../../../core/duration.js';
import { parseGrantId } from '../../../core/ids.js';
import { MAX_REASON_LENGTH } from '../../../core/asking.js';
import type { RequestView } from '../../../core/view.js';
import { EXTEND_MODAL, INPUT } from '../ids.js';
import * as L from '../limits.js';
import { code, slackDate } from '../mrkdwn.js';
import { plain, section, type ModalView } from './kit.js';
import { inputValue, type ModalValues } from './request-modal.js';
import type { GrantId } from '../../../core/model.js';

/**
 * private_metadata = the grant id. Given the view, the modal also says when the access ends now; the database's
 * maximum (ms), when given, is named in the hint.
 */
export function extendModal(target: RequestView | number, opts: { maxDurationMs?: number } = {}): ModalView {
  const g = typeof target === 'number' ? undefined : target.grant;
  const grantId = typeof target === 'number' ? target : (g?.id ?? target.request.extendsGrantId ?? 0);
  const now = g
    ? `Your ${code(g.level)} access to ${code(g.database)} ends ${slackDate(g.expiresAt)}.`
    : `Extend grant #${grantId}.`;
  const max = opts.maxDurationMs ? ` The time left may not exceed ${formatDuration(opts.maxDurationMs)} in all.` : '';
  return {
    type: 'modal',
    callback_id: EXTEND_MODAL,
    title: plain('Extend access', L.VIEW_TITLE),
    submit: plain('Ask to extend', L.VIEW_TITLE),
    close: plain('Cancel', L.VIEW_TITLE),
    private_metadata: String(grantId),
    blocks: [
      section(now),
      {
        type: 'input',
        block_id: INPUT.duration.block,
        label: plain('Extend by'),
        hint: plain(`Such as 30m or 1h.${max}`, L.INPUT_HINT),
        element: {
          type: 'plain_text_input',
          action_id: INPUT.duration.action,
          placeholder: plain('30m', L.PLACEHOLDER),
          max_length: 20,
        },
      },
      {
        type: 'input',
        block_id: INPUT.reason.block,
        label: plain('Reason'),
        hint: plain('The approvers see this.', L.INPUT_HINT),
        element: {
          type: 'plain_text_input',
          action_id: INPUT.reason.action,
          multiline: true,
          max_length: MAX_REASON_LENGTH,
        },
      },
    ],
  };
}

export function parseExtendModal(submitted: { private_metadata: string; state: { values: ModalValues } }): {
  grantId?: GrantId;
  duration?: string;
  reason?: string;
} {
  const grantId = parseGrantId(submitted.private_metadata);
  const duration = inputValue(submitted.state.values, 'duration');
  const reason = inputValue(submitted.state.values, 'reason');
  return {
    ...(grantId !== undefined && { grantId }),
    ...(duration !== undefined && { duration }),
    ...(reason !== undefined && { reason }),
  };
}
