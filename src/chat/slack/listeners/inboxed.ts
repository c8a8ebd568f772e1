/**
 * The listener rule for state-changing actions: verify (Bolt and the guards did) → record in the inbox → ack →
 * process → answer. Recording is one insert; if it fails the action is not acknowledged (ActionNotRecorded: Slack
 * shows the person an error and nothing was promised). A redelivery of an action already recorded is acknowledged and dropped.
 */
import type { WebClient } from '@slack/web-api';
import { describeError } from '../../../core/errors.js';
import { processAction, recordAction, type InboxPayloads, type InboxResult } from '../../../core/inbox.js';
import type { InboxAction, InboxKind } from '../../../core/ports.js';
import type { SlackContext } from './context.js';
import { slackInboxEdge, type SlackReplyTo } from './inbox-edge.js';
import type { GrantId, RequestId } from '../../../core/model.js';

export interface SlackActionRecord<K extends InboxKind = InboxKind> {
  kind: K;
  userId: string;
  userName?: string;
  requestId?: RequestId;
  grantId?: GrantId;
  payload: InboxPayloads[K];
  reply: SlackReplyTo;
  /** Bolt's context: carries the verified signature's digest in HTTP mode. */
  context: Record<string, unknown>;
  /** The interaction's trigger id (Socket Mode's de-duplication key, where there is no signature). */
  triggerId?: string;
}

/**
 * The inbox could not record an action, so it must not be acknowledged: the Slack app rethrows this from its error
 * handler, and the receiver then answers HTTP 500 at once (Socket Mode: leaves the envelope unacknowledged). Slack
 * tells the person it failed (and redelivers events); nothing was changed or promised.
 */
export class ActionNotRecorded extends Error {
  override readonly name = 'ActionNotRecorded';
  constructor(cause: unknown) {
    super(`the inbox could not record a chat action: ${describeError(cause)}`, { cause });
  }
}

/** Records the action (call before ack()). Undefined for a redelivery; rejects with ActionNotRecorded. */
export async function recordSlackAction<K extends InboxKind>(
  ctx: SlackContext,
  a: SlackActionRecord<K>,
): Promise<InboxAction | undefined> {
  const digest = a.context.slackSignatureDigest;
  const dedupeKey = typeof digest === 'string' ? `sig:${digest}` : a.triggerId ? `trigger:${a.triggerId}` : undefined;
  const recorded = recordAction(ctx.core, {
    platform: 'slack',
    kind: a.kind,
    actorId: a.userId,
    ...(a.userName && { actorName: a.userName }),
    ...(a.requestId !== undefined && { requestId: a.requestId }),
    ...(a.grantId !== undefined && { grantId: a.grantId }),
    payload: { ...a.payload, reply: { ...a.reply } },
    ...(dedupeKey && { dedupeKey }),
  });
  try {
    return await recorded;
  } catch (err) {
    throw new ActionNotRecorded(err);
  }
}

/** Processes a just-recorded action (after ack()) and answers the person. */
export async function processSlackAction(
  ctx: SlackContext,
  client: WebClient,
  action: InboxAction,
): Promise<InboxResult> {
  const edge = slackInboxEdge(ctx, client);
  const result = await processAction(ctx.core, action, edge);
  await edge.answer(action, result);
  return result;
}
