/**
 * Modal submissions. Validation that needs no I/O (catalog, durations, required fields) answers inside the ack
 * as inline errors on the offending input. A valid submission is recorded in the inbox, then acknowledged, then
 * processed (inboxed.ts) and reported to the person ephemerally in the channel the command came from, or by DM. Inputs arrive cleaned (blocks/request-modal.ts
 * inputValue); the id in a modal's private_metadata is read with core/ids.ts only, and anything but a decimal id is
 * refused by name, by DM, changing nothing.
 */
import type { App } from '@slack/bolt';
import { BrokerError } from '../../../core/errors.js';
import { notAnId } from '../../../core/ids.js';
import { validateAnyRequest } from '../../../core/asking.js';
import { parseDuration } from '../../../core/duration.js';
import { parseDenyModal } from '../blocks/deny-modal.js';
import { errorText, inlineErrorText } from '../blocks/ephemeral.js';
import { parseExtendModal } from '../blocks/extend-modal.js';
import { parseRequestModal, requestModalChannel, requestModalFor } from '../blocks/request-modal.js';
import { DENY_MODAL, EXTEND_MODAL, REQUEST_MODAL, INPUT } from '../ids.js';
import type { SlackContext } from './context.js';
import { processSlackAction, recordSlackAction } from './inboxed.js';

/** A submission's trigger id (view_submission carries one; view_closed does not). */
function triggerOf(body: object): { triggerId?: string } {
  const t = (body as { trigger_id?: unknown }).trigger_id;
  return typeof t === 'string' ? { triggerId: t } : {};
}

/** The modal input block a BrokerError's field belongs to. */
function blockFor(field: string | undefined): string | undefined {
  switch (field) {
    case 'database':
      return INPUT.database.block;
    case 'level':
      return INPUT.level.block;
    case 'duration':
      return INPUT.duration.block;
    case 'reason':
      return INPUT.reason.block;
    case 'ticket':
      return INPUT.ticket.block;
    default:
      return undefined;
  }
}

export function registerViews(app: App, ctx: SlackContext): void {
  app.view(REQUEST_MODAL, async ({ ack, view, body, client, context }) => {
    const values = parseRequestModal(view.state.values);
    const input = {
      database: values.database ?? '',
      level: values.level ?? '',
      duration: values.duration ?? '',
      reason: values.reason ?? '',
      ...(values.ticket && { ticket: values.ticket }),
      ...(values.incident && { incident: values.incident }),
    };
    try {
      validateAnyRequest(ctx.core, input);
    } catch (err) {
      const block = err instanceof BrokerError ? blockFor(err.details.field) : undefined;
      if (err instanceof BrokerError && block) {
        await ack({ response_action: 'errors', errors: { [block]: inlineErrorText(err) } });
        return;
      }
      throw err;
    }
    const channelId = requestModalChannel(view.private_metadata);
    const forWhom = requestModalFor(view.state.values);
    const who = { userId: body.user.id, ...(body.user.name && { userName: body.user.name }) };
    const action = await recordSlackAction(ctx, {
      ...who,
      kind: 'request',
      payload: { input, ...(forWhom && { for: forWhom }) },
      reply: { source: 'view', ...(channelId && { channelId }) },
      context,
      ...triggerOf(body),
    });
    await ack();
    if (action) await processSlackAction(ctx, client, action);
  });

  app.view(DENY_MODAL, async ({ ack, view, body, client, context }) => {
    const { requestId, reason } = parseDenyModal(view);
    if (requestId === undefined) {
      await ack();
      await client.chat.postMessage({
        channel: body.user.id,
        text: errorText(notAnId(view.private_metadata, 'request')),
      });
      return;
    }
    if (!reason?.trim()) {
      await ack({
        response_action: 'errors',
        errors: { [INPUT.reason.block]: 'Say why, so the requester knows what to do next.' },
      });
      return;
    }
    const who = { userId: body.user.id, ...(body.user.name && { userName: body.user.name }) };
    const action = await recordSlackAction(ctx, {
      ...who,
      kind: 'deny',
      requestId,
      payload: { requestId, reason },
      reply: { source: 'view' },
      context,
      ...triggerOf(body),
    });
    await ack();
    if (action) await processSlackAction(ctx, client, action);
  });

  app.view(EXTEND_MODAL, async ({ ack, view, body, client, context }) => {
    const { grantId, duration, reason } = parseExtendModal(view);
    if (grantId === undefined) {
      await ack();
      await client.chat.postMessage({
        channel: body.user.id,
        text: errorText(notAnId(view.private_metadata, 'grant')),
      });
      return;
    }
    if (!duration || parseDuration(duration) === undefined) {
      await ack({ response_action: 'errors', errors: { [INPUT.duration.block]: 'A duration such as 30m or 1h.' } });
      return;
    }
    const who = { userId: body.user.id, ...(body.user.name && { userName: body.user.name }) };
    const payload = { grantId, duration, reason: reason?.trim() || 'extension requested' };
    const action = await recordSlackAction(ctx, {
      ...who,
      kind: 'extend',
      grantId,
      payload,
      reply: { source: 'view' },
      context,
      ...triggerOf(body),
    });
    await ack();
    if (action) await processSlackAction(ctx, client, action);
  });
}
