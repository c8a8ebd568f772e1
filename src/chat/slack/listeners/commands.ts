/**
 * `/db-access …`: ack at once (Slack allows 3 s; the state DB may be slower), then do the work and answer
 * ephemerally through the response_url. No argument opens the request modal (its trigger_id is only good for 3 s,
 * so that happens right after the ack, before any I/O).
 */
import type { App, RespondFn } from '@slack/bolt';
import { BrokerError } from '../../../core/errors.js';
import { revokeAsUser } from '../../../core/lifecycle.js';
import { requestAccess, requestExtension } from '../../../core/requests.js';
import { loadRequestView } from '../../../core/view.js';
import { errorText, helpText, listText, requestSentText } from '../blocks/ephemeral.js';
import { requestModal } from '../blocks/request-modal.js';
import { parseCommand } from '../../grammar.js';
import type { SlackContext } from './context.js';

export function registerCommands(app: App, ctx: SlackContext, command = '/db-access'): void {
  app.command(command, async ({ command: cmd, ack, respond, client }) => {
    await ack();
    const parsed = parseCommand(cmd.text ?? '');
    const reply = (text: string) => respond({ response_type: 'ephemeral', text });
    try {
      switch (parsed.kind) {
        case 'modal':
          await client.views.open({ trigger_id: cmd.trigger_id, view: requestModal(ctx.core.catalog, { channelId: cmd.channel_id }) });
          return;
        case 'help':
          await reply(helpText(ctx.core.catalog));
          return;
        case 'invalid':
          await reply(`${parsed.problem}\n\n${helpText(ctx.core.catalog)}`);
          return;
      }
      const actor = await ctx.people.actor(cmd.user_id, cmd.user_name);
      switch (parsed.kind) {
        case 'list':
          await reply(listText(await ctx.viewsOf(actor)));
          return;
        case 'revoke': {
          const res = await revokeAsUser(ctx.core, parsed.grantId, actor);
          await reply(res.receipt ? `Grant #${parsed.grantId} revoked: ${res.receipt.sessionsTerminated} session(s) terminated, user ${res.receipt.userOutcome === 'dropped' ? 'dropped' : 'was already absent'}.` : `Grant #${parsed.grantId} had already ended.`);
          return;
        }
        case 'extend': {
          const req = await requestExtension(ctx.core, actor, parsed.grantId, parsed.duration, parsed.reason ?? 'extension requested');
          await reply(requestSentText(await loadRequestView(ctx.core, req.id)));
          return;
        }
        case 'request': {
          const req = await requestAccess(ctx.core, actor, parsed.input, { breakGlass: parsed.breakGlass ?? false });
          // A request just opened for the approvers has no decision and no grant yet: its view needs no read.
          const fresh = req.status === 'pending' && req.extendsGrantId === undefined;
          await reply(requestSentText(await loadRequestView(ctx.core, req.id, fresh ? { grant: null, ahead: Promise.resolve([req, []]) } : {})));
          return;
        }
      }
    } catch (err) {
      await answerError(ctx, reply, err);
    }
  });
}

/** A BrokerError becomes one friendly sentence; anything else is logged and answered without detail. */
export async function answerError(ctx: SlackContext, reply: (text: string) => Promise<unknown>, err: unknown): Promise<void> {
  if (err instanceof BrokerError) {
    await reply(errorText(err)).catch(() => undefined);
    return;
  }
  ctx.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'slack command failed');
  await reply('Something went wrong on our side; nothing was changed. Try again, or ask in the approval channel.').catch(() => undefined);
}

export type { RespondFn };
