/**
 * Drives the Slack journey as Slack would, with signed requests on the real `/slack/events` endpoint:
 * `/db-access <db> read <n>s …` from a requester, then the approver's Approve click on the message the broker
 * posted. "Credentials" is the moment the Slack double records the requester's "access active" DM carrying
 * **Show credentials** (the broker's last step of activation; from then on the requester can get the password).
 *
 * Times are `performance.now()` in this process: the click is stamped just before its POST is signed and sent,
 * the DM when the double records the call (its waiters run synchronously as each call is recorded), so a sample
 * is the broker's whole path — HTTP, Bolt, state DB, queue, provisioning on the target, the Slack calls — and
 * nothing of ours but loopback HTTP.
 */
import { performance } from 'node:perf_hooks';
import { APPROVE, REVEAL } from '../src/chat/slack/ids.js';
import { buttonsIn, type SlackCall, type SlackMessage } from '../src/dev/slack-double.js';
import { blockActionsPayload, postInteraction, postSlashCommand, slashCommand, type SlackPostResult } from '../src/dev/slack-sign.js';
import { APPROVER, CHANNEL, SECRET, type Stage } from './stage.js';

export interface JourneySample {
  /** HTTP answer time of the slash command POST (Slack needs the ack within 3 s). */
  commandAckMs: number;
  /** Command sent → approval message posted in the channel. */
  toApprovalMessageMs: number;
  /** HTTP answer time of the Approve click POST. */
  clickAckMs: number;
  /** Approve click sent → credentials DM recorded. */
  clickToCredentialsMs: number;
}

export interface BurstResult {
  grants: number;
  /** First Approve click sent → last credentials DM recorded. */
  wallMs: number;
  grantsPerSecond: number;
  /** Per grant, click → credentials while every other grant of the burst is in flight. */
  clickToCredentialsMs: number[];
  clickAckMs: number[];
}

function ok(res: SlackPostResult, what: string): SlackPostResult {
  if (res.status !== 200) throw new Error(`${what}: HTTP ${res.status} ${res.body.slice(0, 200)}`);
  return res;
}

/** True when `call` is the DM to `userId` that carries Show credentials. */
function isCredentialsDm(stage: Stage, call: SlackCall, userId: string): boolean {
  if (call.method !== 'chat.postMessage' || !call.ok) return false;
  const channel = call.args.channel;
  if (channel !== userId && channel !== stage.slack.dmChannelId(userId)) return false;
  return buttonsIn(call.args as { text?: string; blocks?: never[] }).some((b) => b.actionId === REVEAL);
}

/**
 * Resolves with the `performance.now()` at which each user's credentials DM was recorded, once all have been
 * (or rejects at the deadline). Only calls recorded from now on count.
 */
function credentialsTimes(stage: Stage, users: readonly string[], timeoutMs: number): Promise<Map<string, number>> {
  const { slack } = stage;
  const waiting = new Set(users);
  const seen = new Map<string, number>();
  let scanned = slack.calls.length;
  return slack.waitUntil(
    () => {
      const now = performance.now();
      for (; scanned < slack.calls.length; scanned++) {
        const call = slack.calls[scanned]!;
        for (const u of waiting) {
          if (!isCredentialsDm(stage, call, u)) continue;
          seen.set(u, now);
          waiting.delete(u);
          break;
        }
      }
      return waiting.size === 0 ? seen : undefined;
    },
    { timeoutMs, description: `credentials DMs to ${waiting.size} requesters` },
  );
}

function command(stage: Stage, userId: string, text: string): Promise<SlackPostResult> {
  const responseUrl = stage.slack.respondUrl(undefined, { userId, channel: CHANNEL });
  return postSlashCommand(stage.baseUrl, SECRET, slashCommand({ userId, text, channelId: CHANNEL, responseUrl }));
}

function approve(stage: Stage, message: SlackMessage): Promise<SlackPostResult> {
  const value = buttonsIn(message).find((b) => b.actionId === APPROVE)?.value;
  if (!value) throw new Error(`no Approve button on the approval message ${message.ts}`);
  return postInteraction(
    stage.baseUrl,
    SECRET,
    blockActionsPayload({ userId: APPROVER, actionId: APPROVE, value, channelId: CHANNEL, message, ...stage.slack.interaction(APPROVER, { channelId: CHANNEL, messageTs: message.ts }) }),
  );
}

/**
 * Approval messages by the token in their reason. Each message is rendered once (the double re-runs waiters on
 * every recorded call, and the double shares this process with the clock: scanning must stay cheap).
 */
class ApprovalIndex {
  private readonly seen = new Set<string>();
  private readonly tsByToken = new Map<string, string>();
  constructor(private readonly stage: Stage) {}

  find(tokens: readonly string[]): Map<string, SlackMessage> | undefined {
    const { slack } = this.stage;
    for (const m of slack.messagesIn(CHANNEL)) {
      if (this.seen.has(m.ts)) continue;
      this.seen.add(m.ts);
      const t = /tok(U0[A-Z0-9]+)x/.exec(slack.renderText(m))?.[0];
      if (t && buttonsIn(m).some((b) => b.actionId === APPROVE)) this.tsByToken.set(t, m.ts);
    }
    if (!tokens.every((t) => this.tsByToken.has(t))) return undefined;
    return new Map(tokens.map((t) => [t, slack.messageAt(CHANNEL, this.tsByToken.get(t)!)!]));
  }
}

const token = (userId: string) => `tok${userId}x`;

/** One journey at a time, `users.length` times: the unloaded latencies. */
export async function latencyPhase(stage: Stage, database: string, users: readonly string[], seconds: number): Promise<JourneySample[]> {
  const samples: JourneySample[] = [];
  const index = new ApprovalIndex(stage);
  for (const userId of users) {
    const sent = performance.now();
    const cmd = ok(await command(stage, userId, `${database} read ${seconds}s BENCH-1 ${token(userId)} latency`), 'slash command');
    const [message] = (await stage.slack.waitUntil(() => index.find([token(userId)]), { timeoutMs: 15_000, description: 'the approval message' })).values();
    const posted = performance.now();
    const dm = credentialsTimes(stage, [userId], 30_000);
    const clicked = performance.now();
    const click = ok(await approve(stage, message!), 'Approve click');
    const delivered = (await dm).get(userId)!;
    samples.push({ commandAckMs: cmd.elapsedMs, toApprovalMessageMs: posted - sent, clickAckMs: click.elapsedMs, clickToCredentialsMs: delivered - clicked });
  }
  return samples;
}

/** `users.length` requests filed together, then all approved at once: the sustained grant rate. */
export async function burstPhase(stage: Stage, database: string, users: readonly string[], seconds: number): Promise<BurstResult> {
  await Promise.all(users.map(async (u) => ok(await command(stage, u, `${database} read ${seconds}s BENCH-2 ${token(u)} burst`), 'slash command')));
  const index = new ApprovalIndex(stage);
  const tokens = users.map(token);
  const messages = await stage.slack.waitUntil(() => index.find(tokens), { timeoutMs: 60_000, description: `${users.length} approval messages` });
  const dms = credentialsTimes(stage, users, 120_000);
  const clickedAt = new Map<string, number>();
  const acks: number[] = [];
  const first = performance.now();
  await Promise.all(
    users.map(async (u) => {
      clickedAt.set(u, performance.now());
      acks.push(ok(await approve(stage, messages.get(token(u))!), 'Approve click').elapsedMs);
    }),
  );
  const delivered = await dms;
  const last = Math.max(...delivered.values());
  const wallMs = last - first;
  return {
    grants: users.length,
    wallMs,
    grantsPerSecond: users.length / (wallMs / 1000),
    clickToCredentialsMs: users.map((u) => delivered.get(u)! - clickedAt.get(u)!),
    clickAckMs: acks,
  };
}
