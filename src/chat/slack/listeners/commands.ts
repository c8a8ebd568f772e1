/**
 * `/db-access …`. The grammar is read first (pure). A command that changes state (a request, revoke, extend) is
 * recorded in the inbox, then acknowledged (Slack allows 3 s), then processed and answered ephemerally through the
 * response_url (inboxed.ts). Everything else is acknowledged at once: no argument opens the request modal (its
 * trigger_id is only good for 3 s, so that happens right after the ack, before any I/O); help, usage and list
 * change nothing.
 */
import type { App, RespondFn } from '@slack/bolt';
import { BrokerError } from '../../../core/errors.js';
import { errorText, helpText, listText } from '../blocks/ephemeral.js';
import { parseCommand } from '../../grammar.js';
import type { SlackContext } from './context.js';
import { decodeCommandText, readableMentions } from '../command-text.js';
import { processSlackAction, recordSlackAction, type SlackActionRecord } from './inboxed.js';
import { openRequestModal } from './request-modal-open.js';

export function registerCommands(app: App, ctx: SlackContext, command = '/db-access'): void {
  app.command(command, async ({ command: cmd, ack, respond, client, context }) => {
    const parsed = parseCommand(decodeCommandText(cmd.text ?? ''));
    const who = { userId: cmd.user_id, ...(cmd.user_name && { userName: cmd.user_name }) };
    const base = {
      ...who,
      reply: { source: 'command' as const, responseUrl: cmd.response_url, channelId: cmd.channel_id },
      context,
      triggerId: cmd.trigger_id,
    };
    let record: SlackActionRecord | undefined;
    switch (parsed.kind) {
      case 'request':
        record = {
          ...base,
          kind: 'request',
          payload: {
            input: { ...parsed.input, reason: readableMentions(parsed.input.reason, cmd.text ?? '') },
            ...(parsed.breakGlass && { breakGlass: true }),
            ...(parsed.forWhom && { for: parsed.forWhom }),
          },
        };
        break;
      case 'revoke':
        record = { ...base, kind: 'revoke', grantId: parsed.grantId, payload: { grantId: parsed.grantId } };
        break;
      case 'extend':
        record = {
          ...base,
          kind: 'extend',
          grantId: parsed.grantId,
          payload: {
            grantId: parsed.grantId,
            duration: parsed.duration,
            reason: parsed.reason ?? 'extension requested',
          },
        };
        break;
    }
    if (record) {
      const action = await recordSlackAction(ctx, record);
      await ack();
      if (action) await processSlackAction(ctx, client, action);
      return;
    }
    await ack();
    const reply = (text: string) => respond({ response_type: 'ephemeral', text });
    try {
      switch (parsed.kind) {
        case 'modal':
          await openRequestModal(ctx, client, cmd.trigger_id, cmd.user_id, { channelId: cmd.channel_id });
          return;
        case 'help':
          await reply(helpText(ctx.core.catalog));
          return;
        case 'invalid':
          await reply(`${parsed.problem}\n\n${helpText(ctx.core.catalog)}`);
          return;
        case 'list':
          await reply(listText(await ctx.viewsOf(await ctx.people.actor(cmd.user_id, cmd.user_name))));
          return;
      }
    } catch (err) {
      await answerError(ctx, reply, err);
    }
  });
}

/** A BrokerError becomes one friendly sentence; anything else is logged and answered without detail. */
export async function answerError(
  ctx: SlackContext,
  reply: (text: string) => Promise<unknown>,
  err: unknown,
): Promise<void> {
  if (err instanceof BrokerError) {
    await reply(errorText(err)).catch(() => undefined);
    return;
  }
  ctx.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'slack command failed');
  await reply(
    'Something went wrong on our side; nothing was changed. Try again, or ask in the approval channel.',
  ).catch(() => undefined);
}

export type { RespondFn };
