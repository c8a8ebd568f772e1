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
import { buttonsIn, type Renderable } from '../dev/slack/double.js';
import {
  blockActionsPayload,
  postInteraction,
  postSlashCommand,
  slashCommand,
  type SlackPostResult,
} from '../dev/slack/sign.js';
import { perUnit, type CpuCosts, type CpuMeter } from './costs.js';
import { busyPercent, coreTimes } from './process-cpu.js';
import { APPROVER, CHANNEL, SECRET, type Stage } from './stage.js';

export interface JourneySample {
  userId: string;
  /** Epoch ms (performance.timeOrigin-based) of the click and of the credentials DM, to line up with state DB times. */
  clickedAtEpoch: number;
  credentialsAtEpoch: number;
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
  /** Share of all cores' time busy (every process on the machine) from the first click to the last DM, in %. */
  coresBusyPercent: number;
  /** CPU per grant from the first click to the last DM (the sustained rate's window), by process. */
  windowCpuPerGrant: CpuCosts;
}

function ok(res: SlackPostResult, what: string): SlackPostResult {
  if (res.status !== 200) throw new Error(`${what}: HTTP ${res.status} ${res.body.slice(0, 200)}`);
  return res;
}

/**
 * Resolves with the `performance.now()` at which each user's credentials DM (a DM carrying Show credentials) was
 * recorded, once all have been (or rejects at the deadline). Only calls recorded from now on count. Each call is
 * looked at once, in O(1): the Slack double shares this process and its clock, so the scan must stay cheap.
 */
function credentialsTimes(stage: Stage, users: readonly string[], timeoutMs: number): Promise<Map<string, number>> {
  const { slack } = stage;
  const userByChannel = new Map<string, string>();
  for (const u of users) {
    userByChannel.set(u, u);
    userByChannel.set(slack.dmChannelId(u), u);
  }
  const seen = new Map<string, number>();
  let scanned = slack.calls.length;
  return slack.waitUntil(
    () => {
      const now = performance.now();
      for (; scanned < slack.calls.length; scanned++) {
        const call = slack.calls[scanned]!;
        if (call.method !== 'chat.postMessage' || !call.ok) continue;
        const user = userByChannel.get(String(call.args.channel));
        if (!user || seen.has(user)) continue;
        if (buttonsIn(call.args as Renderable).some((b) => b.actionId === REVEAL)) seen.set(user, now);
      }
      return seen.size === users.length ? seen : undefined;
    },
    { timeoutMs, description: `credentials DMs to ${users.length} requesters` },
  );
}

function command(stage: Stage, userId: string, text: string): Promise<SlackPostResult> {
  const responseUrl = stage.slack.respondUrl(undefined, { userId, channel: CHANNEL });
  return postSlashCommand(stage.baseUrl, SECRET, slashCommand({ userId, text, channelId: CHANNEL, responseUrl }));
}

function approve(stage: Stage, message: PostedMessage): Promise<SlackPostResult> {
  const value = buttonsIn(message).find((b) => b.actionId === APPROVE)?.value;
  if (!value) throw new Error(`no Approve button on the approval message ${message.ts}`);
  return postInteraction(
    stage.baseUrl,
    SECRET,
    blockActionsPayload({
      userId: APPROVER,
      actionId: APPROVE,
      value,
      channelId: CHANNEL,
      message,
      ...stage.slack.interaction(APPROVER, { channelId: CHANNEL, messageTs: message.ts }),
    }),
  );
}

/** An approval message as the approver's client shows it when the broker posted it. */
interface PostedMessage {
  ts: string;
  text?: string;
  blocks?: unknown[];
}

/**
 * Approval messages by the token in their reason, read from the recorded `chat.postMessage` calls (each call
 * looked at once: the double's `messagesIn` clones whole channels, far too slow to run on every recorded call).
 */
class ApprovalIndex {
  private scanned = 0;
  private readonly byToken = new Map<string, PostedMessage>();
  constructor(private readonly stage: Stage) {}

  find(tokens: readonly string[]): Map<string, PostedMessage> | undefined {
    const { slack } = this.stage;
    for (; this.scanned < slack.calls.length; this.scanned++) {
      const call = slack.calls[this.scanned]!;
      if (
        call.method !== 'chat.postMessage' ||
        !call.ok ||
        call.args.channel !== CHANNEL ||
        call.args.thread_ts !== undefined
      )
        continue;
      const message = call.args as Renderable;
      if (!buttonsIn(message).some((b) => b.actionId === APPROVE)) continue;
      const t = /tok(U0[A-Z0-9]+)x/.exec(slack.renderText(message))?.[0];
      const ts = (call.response as { ts?: string } | undefined)?.ts;
      if (t && ts)
        this.byToken.set(t, {
          ts,
          text: String(message.text ?? ''),
          blocks: Array.isArray(message.blocks) ? message.blocks : [],
        });
    }
    if (!tokens.every((t) => this.byToken.has(t))) return undefined;
    return new Map(tokens.map((t) => [t, this.byToken.get(t)!]));
  }
}

const token = (userId: string) => `tok${userId}x`;

/** One journey at a time, `users.length` times: the unloaded latencies. */
export async function latencyPhase(
  stage: Stage,
  database: string,
  users: readonly string[],
  seconds: number,
): Promise<JourneySample[]> {
  const samples: JourneySample[] = [];
  const index = new ApprovalIndex(stage);
  for (const userId of users) {
    const sent = performance.now();
    const cmd = ok(
      await command(stage, userId, `${database} read ${seconds}s BENCH-1 ${token(userId)} latency`),
      'slash command',
    );
    const [message] = (
      await stage.slack.waitUntil(() => index.find([token(userId)]), {
        timeoutMs: 15_000,
        description: 'the approval message',
      })
    ).values();
    const posted = performance.now();
    const dm = credentialsTimes(stage, [userId], 30_000);
    const clicked = performance.now();
    const click = ok(await approve(stage, message!), 'Approve click');
    const delivered = (await dm).get(userId)!;
    samples.push({
      userId,
      clickedAtEpoch: performance.timeOrigin + clicked,
      credentialsAtEpoch: performance.timeOrigin + delivered,
      commandAckMs: cmd.elapsedMs,
      toApprovalMessageMs: posted - sent,
      clickAckMs: click.elapsedMs,
      clickToCredentialsMs: delivered - clicked,
    });
  }
  return samples;
}

/** Starts, then stops, the broker's windowed CPU profile (bench/cpu-profile.mjs) when one was asked for. */
function profileWindow(stage: Stage): void {
  if (process.env.BENCH_CPU_PROFILE_WINDOW === '1') process.kill(stage.broker.child.pid!, 'SIGUSR2');
}

/** `users.length` requests filed together, then all approved at once: the sustained grant rate. */
export async function burstPhase(
  stage: Stage,
  meter: CpuMeter,
  database: string,
  users: readonly string[],
  seconds: number,
): Promise<BurstResult> {
  await Promise.all(
    users.map(async (u) =>
      ok(await command(stage, u, `${database} read ${seconds}s BENCH-2 ${token(u)} burst`), 'slash command'),
    ),
  );
  const index = new ApprovalIndex(stage);
  const tokens = users.map(token);
  const messages = await stage.slack.waitUntil(() => index.find(tokens), {
    timeoutMs: 60_000,
    description: `${users.length} approval messages`,
  });
  const dms = credentialsTimes(stage, users, 120_000);
  const clickedAt = new Map<string, number>();
  const acks: number[] = [];
  const cpu = await meter.read();
  const cores = await coreTimes();
  profileWindow(stage);
  const first = performance.now();
  await Promise.all(
    users.map(async (u) => {
      clickedAt.set(u, performance.now());
      acks.push(ok(await approve(stage, messages.get(token(u))!), 'Approve click').elapsedMs);
    }),
  );
  const delivered = await dms;
  profileWindow(stage);
  const coresBusyPercent = busyPercent(cores, await coreTimes());
  const windowCpuPerGrant = perUnit(cpu, await meter.read(), users.length);
  const last = Math.max(...delivered.values());
  const wallMs = last - first;
  return {
    grants: users.length,
    wallMs,
    grantsPerSecond: users.length / (wallMs / 1000),
    clickToCredentialsMs: users.map((u) => delivered.get(u)! - clickedAt.get(u)!),
    clickAckMs: acks,
    coresBusyPercent: Number(coresBusyPercent.toFixed(1)),
    windowCpuPerGrant,
  };
}
