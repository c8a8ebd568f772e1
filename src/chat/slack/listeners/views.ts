/**
 * Modal submissions. Validation that needs no I/O (catalog, durations, required fields) answers inside the ack
 * as inline errors on the offending input; everything else happens after the ack and is reported to the person
 * ephemerally in the channel the command came from, or by DM. Inputs arrive cleaned (blocks/request-modal.ts
 * inputValue); the id in a modal's private_metadata is read with core/ids.ts only, and anything but a decimal id is
 * refused by name, by DM, changing nothing.
 */
import type { App } from '@slack/bolt';
import { BrokerError } from '../../../core/errors.js';
import { notAnId } from '../../../core/ids.js';
import { deny, requestAccess, requestExtension, validateRequest } from '../../../core/requests.js';
import { parseDuration } from '../../../core/duration.js';
import { loadRequestView } from '../../../core/view.js';
import { parseDenyModal } from '../blocks/deny-modal.js';
import { errorText, inlineErrorText, requestSentText } from '../blocks/ephemeral.js';
import { parseExtendModal } from '../blocks/extend-modal.js';
import { parseRequestModal, requestModalChannel } from '../blocks/request-modal.js';
import { DENY_MODAL, EXTEND_MODAL, REQUEST_MODAL, INPUT } from '../ids.js';
import type { SlackContext } from './context.js';

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
  app.view(REQUEST_MODAL, async ({ ack, view, body, client }) => {
    const values = parseRequestModal(view.state.values);
    const input = {
      database: values.database ?? '',
      level: values.level ?? '',
      duration: values.duration ?? '',
      reason: values.reason ?? '',
      ...(values.ticket && { ticket: values.ticket }),
    };
    try {
      validateRequest(ctx.core, input);
    } catch (err) {
      const block = err instanceof BrokerError ? blockFor(err.details.field) : undefined;
      if (err instanceof BrokerError && block) {
        await ack({ response_action: 'errors', errors: { [block]: inlineErrorText(err) } });
        return;
      }
      throw err;
    }
    await ack();
    const channelId = requestModalChannel(view.private_metadata);
    const tell = async (text: string) => {
      if (channelId) {
        const ok = await client.chat.postEphemeral({ channel: channelId, user: body.user.id, text }).then(() => true, () => false);
        if (ok) return;
      }
      await client.chat.postMessage({ channel: body.user.id, text });
    };
    try {
      const actor = await ctx.people.actor(body.user.id, body.user.name);
      const req = await requestAccess(ctx.core, actor, input);
      await tell(requestSentText(await loadRequestView(ctx.core, req.id)));
    } catch (err) {
      await tell(err instanceof BrokerError ? errorText(err) : 'Something went wrong on our side; nothing was changed.');
      if (!(err instanceof BrokerError)) ctx.logger.error({ err: String(err) }, 'request modal failed');
    }
  });

  app.view(DENY_MODAL, async ({ ack, view, body, client }) => {
    const { requestId, reason } = parseDenyModal(view);
    if (requestId === undefined) {
      await ack();
      await client.chat.postMessage({ channel: body.user.id, text: errorText(notAnId(view.private_metadata, 'request')) });
      return;
    }
    if (!reason?.trim()) {
      await ack({ response_action: 'errors', errors: { [INPUT.reason.block]: 'Say why, so the requester knows what to do next.' } });
      return;
    }
    await ack();
    try {
      await deny(ctx.core, requestId, await ctx.people.actor(body.user.id, body.user.name), reason);
    } catch (err) {
      const text = err instanceof BrokerError ? errorText(err) : 'Something went wrong on our side; nothing was changed.';
      await client.chat.postMessage({ channel: body.user.id, text });
    }
  });

  app.view(EXTEND_MODAL, async ({ ack, view, body, client }) => {
    const { grantId, duration, reason } = parseExtendModal(view);
    if (grantId === undefined) {
      await ack();
      await client.chat.postMessage({ channel: body.user.id, text: errorText(notAnId(view.private_metadata, 'grant')) });
      return;
    }
    if (!duration || parseDuration(duration) === undefined) {
      await ack({ response_action: 'errors', errors: { [INPUT.duration.block]: 'A duration such as 30m or 1h.' } });
      return;
    }
    await ack();
    try {
      const actor = await ctx.people.actor(body.user.id, body.user.name);
      const req = await requestExtension(ctx.core, actor, grantId, duration, reason?.trim() || 'extension requested');
      await client.chat.postMessage({ channel: body.user.id, text: requestSentText(await loadRequestView(ctx.core, req.id)) });
    } catch (err) {
      const text = err instanceof BrokerError ? errorText(err) : 'Something went wrong on our side; nothing was changed.';
      await client.chat.postMessage({ channel: body.user.id, text });
    }
  });
}
