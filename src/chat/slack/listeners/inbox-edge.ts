/**
 * Slack's side of the chat inbox (core/inbox.ts): who acted, and how they are told what came of it — right after
 * the acknowledgement and, the same way, after a crash. Where the answer goes is recorded with the action
 * (`payload.reply`): a slash command answers through its response_url while Slack accepts it (30 minutes), a
 * button ephemerally in its channel, a modal in the channel it was opened from; anything else, or when those fail,
 * by DM.
 */
import type { WebClient } from '@slack/web-api';
import { BrokerError } from '../../../core/errors.js';
import type { InboxEdge, InboxResult } from '../../../core/inbox.js';
import type { InboxAction } from '../../../core/ports.js';
import { viewOfReturned } from '../../../core/view.js';
import { notesOfReturned } from '../../../core/auto-approve.js';
import { errorText, requestSentText } from '../blocks/ephemeral.js';
import type { SlackContext } from './context.js';

/** Slack accepts answers on a response_url for 30 minutes. */
const RESPONSE_URL_TTL_MS = 30 * 60 * 1000;

/** Where the person is answered; recorded with the action. */
export interface SlackReplyTo {
  source: 'command' | 'button' | 'view';
  responseUrl?: string;
  /** The channel the action came from (a button's message, the channel a modal was opened in). */
  channelId?: string;
}

export const OOPS = 'Something went wrong on our side; nothing was changed.';
const OOPS_COMMAND = `${OOPS} Try again, or ask in the approval channel.`;

export function slackInboxEdge(ctx: SlackContext, client: WebClient): InboxEdge {
  return {
    actor: (action) => ctx.people.actor(action.actorId, action.actorName),
    person: (userId) => ctx.people.person(userId),
    answer: async (action, result) => {
      try {
        if (result.ok === true && result.effect.kind === 'review') {
          await ctx.notifier?.breakGlassReviewed(result.effect.view);
        }
        const text = await answerText(ctx, action, result);
        if (text) await deliver(client, action, text, ctx.core.clock.now());
      } catch (err) {
        ctx.logger.warn(
          { inboxId: action.id, err: err instanceof Error ? err.message : String(err) },
          'slack: could not answer a chat action',
        );
      }
    },
  };
}

function replyTo(action: InboxAction): SlackReplyTo {
  const r = (action.payload.reply ?? {}) as Partial<SlackReplyTo>;
  return {
    source: r.source ?? 'view',
    ...(r.responseUrl && { responseUrl: r.responseUrl }),
    ...(r.channelId && { channelId: r.channelId }),
  };
}

/** What the person is told; undefined when the changed messages say it (an approval, a denial, a review). */
async function answerText(ctx: SlackContext, action: InboxAction, result: InboxResult): Promise<string | undefined> {
  if (result.ok === 'done') return undefined;
  if (result.ok === false) {
    if (result.error instanceof BrokerError) return errorText(result.error);
    return replyTo(action).source === 'command' ? OOPS_COMMAND : OOPS;
  }
  const effect = result.effect;
  switch (effect.kind) {
    case 'approve':
    case 'deny':
    case 'review':
      return undefined;
    case 'revoke': {
      const { receipt, grant } = effect.result;
      if (!receipt) return `Grant #${grant.id} had already ended.`;
      if (replyTo(action).source !== 'command') return undefined;
      return `Grant #${grant.id} revoked: ${receipt.sessionsTerminated} session(s) terminated, user ${receipt.userOutcome === 'dropped' ? 'dropped' : 'was already absent'}.`;
    }
    case 'request':
    case 'extend':
      return requestSentText(await viewOfReturned(ctx.core, effect.request), notesOfReturned(effect.request));
  }
}

async function deliver(client: WebClient, action: InboxAction, text: string, now: number): Promise<void> {
  const to = replyTo(action);
  const user = action.actorId;
  if (to.source !== 'command' && to.channelId) {
    if (
      await client.chat.postEphemeral({ channel: to.channelId, user, text }).then(
        () => true,
        () => false,
      )
    )
      return;
  }
  if (to.source !== 'view' && to.responseUrl && now - action.receivedAt < RESPONSE_URL_TTL_MS) {
    if (await respond(to.responseUrl, text)) return;
  }
  await client.chat.postMessage({ channel: user, text });
}

/** An ephemeral answer on a response_url; false when Slack did not take it. */
async function respond(url: string, text: string): Promise<boolean> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ response_type: 'ephemeral', replace_original: false, text }),
      signal: AbortSignal.timeout(10_000),
    });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}
