/**
 * Chaos at the chat edge: the Slack Web API double answers 429 with Retry-After and 5xx; Slack redelivers the same
 * Approve click; the provisioning job is delivered twice to two workers. The broker runs in-process exactly as
 * `db-access all` (HTTP + Slack + worker) next to a second worker process; the target is a real PostgreSQL with
 * password auth. The invariant checker runs after each case.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { APPROVE } from '../../src/chat/slack/ids.js';
import { buttonsIn, startSlackDouble, type SlackCall, type SlackDouble } from '../../dev/slack/double.js';
import { blockActionsPayload, postInteraction, postSlashCommand, slashCommand } from '../../dev/slack/sign.js';
import { startBroker, type TestBroker } from '../support/broker.js';
import { pgProbe, startChaosStage, type ChaosStage } from '../support/chaos-harness.js';
import { setupPgTarget, startScramCluster, type PgCluster, type PgTarget } from '../support/pg-cluster.js';
import { rid } from '../support/ids.js';

const SECRET = 'chaos-signing-secret-0123456789abcdef';
const CHANNEL = 'C0CHAOS';
const ALICE = 'U0ALICE';
const BOB = 'U0BOB';

describe('chaos: Slack rate limits, errors and redeliveries', () => {
  let cluster: PgCluster;
  let target: PgTarget;
  let slack: SlackDouble;
  let stage: ChaosStage;
  let broker: TestBroker;

  const db = () => target.entry.name;
  const dmPosts = () =>
    slack.callsTo('chat.postMessage').filter((c) => [ALICE, slack.dmChannelId(ALICE)].includes(String(c.args.channel)));
  const delivered = (calls: SlackCall[]) => calls.filter((c) => c.ok);

  /** alice asks inline; resolves with the approval message and the request id. */
  async function requestAccess(duration: string) {
    const before = slack.messagesIn(CHANNEL).length;
    const responseUrl = slack.respondUrl(undefined, { userId: ALICE, channel: CHANNEL });
    const res = await postSlashCommand(
      broker.baseUrl,
      SECRET,
      slashCommand({ userId: ALICE, text: `${db()} read ${duration} INC-1 chaos`, channelId: CHANNEL, responseUrl }),
    );
    expect(res.status).toBe(200);
    await slack.waitUntil(() => slack.messagesIn(CHANNEL).length > before, { timeoutMs: 10_000 });
    const msg = slack.messagesIn(CHANNEL).at(-1)!;
    return { msg, requestId: Number(buttonsIn(msg).find((b) => b.actionId === APPROVE)!.value) };
  }

  /** The exact bytes of one Approve click by bob; posting it again is a Slack redelivery. */
  function approveClick(msg: { ts: string }, requestId: number) {
    const payload = blockActionsPayload({
      userId: BOB,
      actionId: APPROVE,
      value: String(requestId),
      channelId: CHANNEL,
      message: msg,
      triggerId: slack.issueTriggerId({ userId: BOB }),
    });
    return () => postInteraction(broker.baseUrl, SECRET, payload);
  }

  /** The approval message was edited to "Active until" despite the fault, and ends "Expired". */
  async function messageWentThrough(ts: string) {
    const edits = slack
      .callsTo('chat.update')
      .filter((c) => c.ok && c.args.ts === ts)
      .map((c) => slack.renderText(c.args as never));
    expect(edits.some((t) => /Active until/.test(t))).toBe(true);
    await slack.waitUntil(() => /Expired/.test(slack.renderText(slack.messageAt(CHANNEL, ts)!)), { timeoutMs: 15_000 });
  }

  async function grantOf(requestId: number) {
    const g = await stage.deps.store.getGrantByRequest(rid(requestId));
    if (!g) throw new Error(`no grant for request #${requestId}`);
    return g;
  }

  beforeAll(async () => {
    cluster = await startScramCluster();
    target = await setupPgTarget(cluster);
    slack = await startSlackDouble();
    slack.addUser({ id: ALICE, email: 'alice@example.com', name: 'alice' });
    slack.addUser({ id: BOB, email: 'bob@example.com', name: 'bob' });
    slack.addChannel(CHANNEL, { name: 'db-approvals', members: [ALICE, BOB] });
    const slackEnv = { SLACK_BOT_TOKEN: slack.botToken, SLACK_SIGNING_SECRET: SECRET, SLACK_API_URL: slack.url };
    stage = await startChaosStage('slack', [target.entry], slackEnv, {
      perEntry: () => ({ approval: { slackChannel: CHANNEL, approvers: [{ email: 'bob@example.com' }], required: 1 } }),
    });
    broker = await startBroker(stage.env);
  });

  afterEach(() => slack.clearFaults());

  afterAll(async () => {
    await broker?.stop();
    await stage?.close();
    await slack?.stop();
    await cluster?.stop();
  });

  it('429 with Retry-After on the credentials DM and the message update: waited out, then delivered once; access unaffected [I1 I3 I4 I5 I6]', async () => {
    const { msg, requestId } = await requestAccess('6s');
    slack.failNext('chat.postMessage', { status: 429, retryAfterSeconds: 2 });
    slack.failNext('chat.update', { status: 429, retryAfterSeconds: 1 });
    const from = slack.calls.length;
    await approveClick(msg, requestId)();
    await slack.waitUntil(() => delivered(dmPosts()).length === 1, { timeoutMs: 20_000 });
    const limited = slack.calls.slice(from).find((c) => c.method === 'chat.postMessage' && c.status === 429)!;
    const dm = delivered(dmPosts())[0]!;
    expect(dm.at - limited.at).toBeGreaterThanOrEqual(2_000); // Retry-After respected, no tight loop
    expect(slack.calls.slice(from).filter((c) => c.status === 429)).toHaveLength(2);
    const ended = await stage.grantIn((await grantOf(requestId)).id, ['revoked']);
    expect(ended.revokedAt!).toBeGreaterThanOrEqual(ended.expiresAt);
    await messageWentThrough(msg.ts);
    expect(await stage.violations([pgProbe(target)])).toEqual([]);
  });

  it('5xx from Slack on the DM and the message update: retried, delivered once; access unaffected [I1 I3 I4 I5 I6]', async () => {
    const { msg, requestId } = await requestAccess('6s');
    const dmsBefore = delivered(dmPosts()).length;
    slack.failNext('chat.postMessage', { status: 503 }, { times: 2 });
    slack.failNext('chat.update', { status: 500 });
    const from = slack.calls.length;
    await approveClick(msg, requestId)();
    await slack.waitUntil(() => delivered(dmPosts()).length === dmsBefore + 1, { timeoutMs: 20_000 });
    expect(
      slack.calls
        .slice(from)
        .filter((c) => c.injected)
        .map((c) => c.status)
        .sort(),
    ).toEqual([500, 503, 503]);
    const ended = await stage.grantIn((await grantOf(requestId)).id, ['revoked']);
    expect(ended.revokedAt!).toBeGreaterThanOrEqual(ended.expiresAt);
    await messageWentThrough(msg.ts);
    expect(await stage.violations([pgProbe(target)])).toEqual([]);
  });

  it('duplicate deliveries: the same Approve click redelivered 5× at once, the provisioning job enqueued twice, two workers — one grant, one user, one DM [I1 I3 I4 I5 I6]', async () => {
    await stage.worker(); // a second worker besides the broker's own
    const { msg, requestId } = await requestAccess('8s');
    const dmsBefore = delivered(dmPosts()).length;
    const click = approveClick(msg, requestId);
    const answers = await Promise.all(Array.from({ length: 5 }, () => click()));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const grant = await grantOf(requestId);
    await stage.deps.scheduler.provision(grant.id); // at-least-once delivery of the job, again
    await stage.grantIn(grant.id, ['active']);
    await stage.deps.scheduler.provision(grant.id);
    expect((await stage.deps.store.listGrants({})).filter((g) => g.requestId === requestId)).toHaveLength(1);
    await slack.waitUntil(() => delivered(dmPosts()).length > dmsBefore, { timeoutMs: 15_000 });
    const ended = await stage.grantIn(grant.id, ['revoked']);
    expect(ended.revokedAt!).toBeGreaterThanOrEqual(ended.expiresAt);
    expect(delivered(dmPosts()).length - dmsBefore).toBe(1);
    expect(await stage.deps.store.listAudit({ grantId: grant.id, type: 'grant.provisioned' })).toHaveLength(1);
    expect(await stage.violations([pgProbe(target)])).toEqual([]);
    await stage.stopWorkers();
  });
});
