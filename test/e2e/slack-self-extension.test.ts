/**
 * Self-extension by policy through Slack, end to end: signed slash commands, clicks and modal submissions against
 * the real HTTP server, the local Slack double, a real PostgreSQL target, real Redis and state store.
 * `appdb` allows one self-extension (lifetime 3 × maxDuration); `appdb-short` allows three but a lifetime of 15 s
 * from activation, so its limit is reached within the test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APPROVE, DONE, EXTEND_OPEN } from '../../src/chat/slack/ids.js';
import type { Grant } from '../../src/core/model.js';
import { revoke } from '../../src/core/lifecycle.js';
import { journeyEnv, startBroker, type TestBroker } from '../support/broker.js';
import { writeCatalog } from '../support/catalog.js';
import { setupPgTarget, startScramCluster, type PgCluster, type PgTarget } from '../support/pg-cluster.js';
import { buttonsIn, RESPONSE_URL_METHOD, startSlackDouble, type SlackDouble } from '../../dev/slack/double.js';
import {
  blockActionsPayload,
  postInteraction,
  postSlashCommand,
  slashCommand,
  viewSubmissionPayload,
} from '../../dev/slack/sign.js';
import { waitFor } from '../support/wait.js';
import { rid } from '../support/ids.js';

const SECRET = 'test-signing-secret-0123456789abcdef';
const CHANNEL = 'C0APPROVALS';
const INCIDENT = 'C0INCIDENT';
const ALICE = 'U0ALICE';
const BOB = 'U0BOB';
const MALLORY = 'U0MALLORY';

describe('Slack: self-extension by policy', () => {
  let cluster: PgCluster;
  let target: PgTarget;
  let slack: SlackDouble;
  let broker: TestBroker;

  const store = () => broker.app.deps.store;
  const text = (m: Parameters<SlackDouble['renderText']>[0]) => slack.renderText(m);
  const approvalMessages = () => slack.messagesIn(CHANNEL);

  /** `/db-access <text>` as `userId`; resolves with what the bot answered on the response URL. */
  async function command(userId: string, cmdText: string): Promise<string> {
    const responseUrl = slack.respondUrl(undefined, { userId, channel: INCIDENT });
    const res = await postSlashCommand(
      broker.baseUrl,
      SECRET,
      slashCommand({ userId, text: cmdText, channelId: INCIDENT, responseUrl }),
    );
    expect(res.status).toBe(200);
    const answer = await slack.waitForCall(
      RESPONSE_URL_METHOD,
      (c) => c.responseUrlId !== undefined && responseUrl.endsWith(c.responseUrlId),
      { timeoutMs: 10_000 },
    );
    return slack.renderText({ text: String(answer.args.text) });
  }

  async function click(userId: string, actionId: string, value: string, message: { ts: string }, channelId: string) {
    const triggerId = slack.issueTriggerId({ userId });
    await postInteraction(
      broker.baseUrl,
      SECRET,
      blockActionsPayload({ userId, actionId, value, channelId, message, triggerId }),
    );
    return triggerId;
  }

  /** alice asks, bob approves, the grant is active: its approval message and the grant. */
  async function activeGrant(cmd: string): Promise<{ msg: { ts: string }; grant: Grant }> {
    const before = approvalMessages().length;
    await command(ALICE, cmd);
    await slack.waitUntil(() => approvalMessages().length > before, { timeoutMs: 10_000 });
    const msg = approvalMessages().at(-1)!;
    const requestId = Number(buttonsIn(msg).find((b) => b.actionId === APPROVE)!.value);
    await click(BOB, APPROVE, String(requestId), msg, CHANNEL);
    const grant = await waitFor('grant active', async () => {
      const g = await store().getGrantByRequest(rid(requestId));
      return g?.status === 'active' ? g : undefined;
    });
    return { msg, grant };
  }

  const threadOf = (ts: string) => (slack.messageAt(CHANNEL, ts)!.replies ?? []).map((r) => text(r));

  beforeAll(async () => {
    cluster = await startScramCluster();
    target = await setupPgTarget(cluster);
    slack = await startSlackDouble();
    slack.addUser({ id: ALICE, email: 'alice@example.com', name: 'alice' });
    slack.addUser({ id: BOB, email: 'bob@example.com', name: 'bob' });
    slack.addUser({ id: MALLORY, email: 'mallory@example.com', name: 'mallory' });
    slack.addChannel(CHANNEL, { name: 'db-approvals', members: [ALICE, BOB, MALLORY] });
    slack.addChannel(INCIDENT, { name: 'incident', members: [ALICE, BOB, MALLORY] });
    const approval = { slackChannel: CHANNEL, approvers: [{ email: 'bob@example.com' }], required: 1 };
    const catalog = writeCatalog([target.entry, { ...target.entry, name: 'appdb-short' }], {
      perEntry: (d) =>
        d.name === 'appdb'
          ? { approval, limits: { selfExtensions: 1 } }
          : { approval, maxDuration: '15s', limits: { selfExtensions: 3, maxLifetime: '15s' } },
    });
    broker = await startBroker({
      ...journeyEnv(catalog, 'slack-selfext'),
      SLACK_BOT_TOKEN: slack.botToken,
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_API_URL: slack.url,
    });
  }, 120_000);

  afterAll(async () => {
    await broker?.stop();
    await slack?.stop();
    await cluster?.stop();
  }, 60_000);

  it("the reminder's Extend applies a self-extension at once; the next one goes to the approvers; nobody extends someone else's grant", async () => {
    // 8 s from activation: the reminder (5 s before expiry) comes within seconds.
    const { msg, grant } = await activeGrant('appdb read 8s INC-1 stuck orders');
    expect(grant.expiresAt).toBe(grant.activatedAt! + 8_000);
    const reminder = await slack.waitUntil(
      () => slack.dmOf(ALICE).find((m) => buttonsIn(m).some((b) => b.actionId === EXTEND_OPEN)),
      { timeoutMs: 15_000 },
    );
    const triggerId = await click(ALICE, EXTEND_OPEN, String(grant.id), reminder, slack.dmChannelId(ALICE));
    const opened = await slack.waitForCall('views.open', (c) => c.args.trigger_id === triggerId, { timeoutMs: 5_000 });
    const view = {
      ...(opened.args.view as object),
      id: String((opened.response as { view?: { id?: string } }).view?.id),
    } as never;
    const requestsBefore = (await store().listRequests({})).length;
    const dmsBefore = slack.dmOf(ALICE).length;
    await postInteraction(
      broker.baseUrl,
      SECRET,
      viewSubmissionPayload({
        userId: ALICE,
        view,
        values: { duration: { duration_input: '8s' }, reason: { reason_input: 'still digging' } },
      }),
    );

    // Applied at once: the expiry moved by 8 s, counted, audited; no approval message was posted for it.
    const extended = await waitFor('the expiry to move', async () => {
      const g = (await store().getGrant(grant.id))!;
      return g.selfExtensions === 1 ? g : undefined;
    });
    expect(extended.expiresAt).toBe(grant.expiresAt + 8_000);
    const [audit] = await store().listAudit({ type: 'grant.self_extended', grantId: grant.id });
    expect(audit?.actor.id).toBe(ALICE);
    expect(audit?.detail).toMatchObject({ from: grant.expiresAt, to: extended.expiresAt, count: 1, of: 1 });
    expect((await store().listRequests({})).length).toBe(requestsBefore + 1);
    expect(approvalMessages().filter((m) => /Extension request/.test(text(m)))).toHaveLength(0);
    // alice is told the new expiry; the approval thread gets a line; the approval message shows the new expiry.
    const told = await slack.waitUntil(
      () =>
        slack
          .dmOf(ALICE)
          .slice(dmsBefore)
          .find((m) => /Extended/.test(text(m))),
      {
        timeoutMs: 10_000,
      },
    );
    expect(text(told)).toMatch(/Extended: active until/);
    await slack.waitUntil(() => threadOf(msg.ts).some((t) => /without approval \(self-extension 1 of 1\)/.test(t)), {
      timeoutMs: 10_000,
    });

    // The second is beyond the policy: an extension request for the approvers, the expiry unchanged.
    const second = await command(ALICE, `extend ${grant.id} 8s more`);
    expect(second).toMatch(/Extension request #\d+ .* sent to @bob/);
    await slack.waitUntil(() => /Extension request/.test(text(approvalMessages().at(-1)!)), { timeoutMs: 10_000 });
    expect((await store().getGrant(grant.id))!.expiresAt).toBe(extended.expiresAt);

    // mallory cannot extend alice's grant: refused, explained, audited; nothing moves.
    const refused = await command(MALLORY, `extend ${grant.id} 8s mine now`);
    expect(refused).toMatch(/not yours/i);
    const refusal = await store().listAudit({ type: 'access.refused', grantId: grant.id });
    expect(refusal.some((e) => e.actor.id === MALLORY && e.detail.action === 'extend')).toBe(true);
    const after = (await store().getGrant(grant.id))!;
    expect(after.expiresAt).toBe(extended.expiresAt);
    expect(after.selfExtensions).toBe(1);
    expect(await store().listAudit({ type: 'grant.self_extended', grantId: grant.id })).toHaveLength(1);

    // Ended early by its holder from the DM.
    const dm = slack.dmOf(ALICE).find((m) => buttonsIn(m).some((b) => b.actionId === DONE))!;
    await click(ALICE, DONE, String(grant.id), dm, slack.dmChannelId(ALICE));
    await waitFor('the grant to end', async () => (await store().getGrant(grant.id))!.status === 'revoked');
  }, 60_000);

  it('a self-extension past the lifetime is held to it; with no lifetime left the next goes to the approvers', async () => {
    // maxDuration = maxLifetime = 15 s; granted 10 s: 5 s of lifetime are left for extensions.
    const { msg, grant } = await activeGrant('appdb-short read 10s INC-2 quick look');
    // Time passes, so 7 s more stays within maxDuration from now (while the lifetime allows only 5 s).
    await waitFor('3 s since activation', () => Date.now() >= grant.activatedAt! + 3_000);
    const first = await command(ALICE, `extend ${grant.id} 7s a bit longer`);
    expect(first).toMatch(/Extended: active until .* · self-extended by alice \(1 of 3\): held to 5s/);
    const held = (await store().getGrant(grant.id))!;
    expect(held.expiresAt).toBe(grant.activatedAt! + 15_000);
    expect(held.selfExtensions).toBe(1);
    const [audit] = await store().listAudit({ type: 'grant.self_extended', grantId: grant.id });
    expect(audit?.detail).toMatchObject({ askedMs: 7_000, extraMs: 5_000, capped: true, count: 1, of: 3 });
    await slack.waitUntil(() => threadOf(msg.ts).some((t) => /held to the limit/.test(t)), { timeoutMs: 10_000 });

    // Self-extensions remain (1 of 3) but no lifetime does: the next one is for the approvers.
    const before = approvalMessages().length;
    const next = await command(ALICE, `extend ${grant.id} 1s one more second`);
    expect(next).toMatch(/Extension request #\d+ .* sent to @bob/);
    await slack.waitUntil(() => approvalMessages().length > before, { timeoutMs: 10_000 });
    const after = (await store().getGrant(grant.id))!;
    expect(after.expiresAt).toBe(held.expiresAt);
    expect(after.selfExtensions).toBe(1);
    await revoke(broker.app.deps, grant.id);
  }, 60_000);
});
