/**
 * "Nothing acknowledged is lost" with real processes: chat actions are answered HTTP 200 while their processing is
 * held (DB_ACCESS_FAILPOINT=inbox.before-process), then every process group is SIGKILLed. After a restart without
 * the failpoint each action took effect exactly once — users on the target, DMs, message states, audit rows — on a
 * SQLite and a PostgreSQL state store, with one web process (`all`) and with two (`serve` ×2 + `worker`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { denyModal } from '../../src/chat/slack/blocks/deny-modal.js';
import { APPROVE, DONE, REVEAL, REVOKE } from '../../src/chat/slack/ids.js';
import type { AccessRequest, AuditEvent } from '../../src/core/model.js';
import { buttonsIn, startSlackDouble, type SlackDouble, type SlackMessage } from '../../dev/slack/double.js';
import {
  blockActionsPayload,
  postInteraction,
  postSlashCommand,
  slashCommand,
  viewSubmissionPayload,
} from '../../dev/slack/sign.js';
import { migrateLatest, openStateStore, type OpenStateStore } from '../../src/store/index.js';
import { writeCatalog } from '../support/catalog.js';
import { setupPgTarget, startScramCluster, type PgCluster, type PgTarget } from '../support/pg-cluster.js';
import { startWorker, type WorkerProcess } from '../support/processes.js';
import { freePort, sharedRedisUrl, uniquePrefix } from '../support/redis.js';
import { waitFor } from '../support/wait.js';
import { rid } from '../support/ids.js';

const SECRET = 'inbox-crash-secret';
const CHANNEL = 'C0APPROVALS';
const BOB = 'U0BOB';
const user = (i: number) => `U0R${i}`;
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k);
/** Requesters: 0–7 are approved during the crash, 8–9 denied, 10–12 hold grants revoked, 13–17 file new requests. */
const APPROVED = range(0, 8);
const DENIED = range(8, 10);
const REVOKED = range(10, 13);
const FILED = range(13, 18);

interface Setup {
  name: string;
  store: 'sqlite' | 'postgres';
  webs: 1 | 2;
}

const SETUPS: Setup[] = [
  { name: 'SQLite state store, one web process (all)', store: 'sqlite', webs: 1 },
  { name: 'SQLite state store, two web processes and a worker', store: 'sqlite', webs: 2 },
  { name: 'PostgreSQL state store, one web process (all)', store: 'postgres', webs: 1 },
  { name: 'PostgreSQL state store, two web processes and a worker', store: 'postgres', webs: 2 },
];

describe.each(SETUPS)('an acknowledged action survives SIGKILL: $name', (setup) => {
  let cluster: PgCluster;
  let target: PgTarget;
  let slack: SlackDouble;
  let store: OpenStateStore;
  let procs: WorkerProcess[] = [];
  let webs: string[] = [];
  let env: Record<string, string>;
  let dir: string;
  const dbName = `dbaccess_inbox_${process.pid}_${Date.now() % 100000}_${setup.webs}`;

  /** The web processes (serve, or all) and, with two, a worker; `group`: each in its own process group. */
  async function start(extra: Record<string, string> = {}, group = false): Promise<void> {
    procs = [];
    webs = [];
    const ports = await Promise.all(range(0, setup.webs).map(() => freePort()));
    const role = setup.webs === 1 ? 'all' : 'serve';
    for (const port of ports) {
      procs.push(await startWorker({ ...env, ...extra, PORT: String(port) }, role, { group }));
      webs.push(`http://127.0.0.1:${port}`);
    }
    if (setup.webs === 2) procs.push(await startWorker({ ...env, ...extra }, 'worker', { group }));
  }

  const requestOf = async (i: number): Promise<AccessRequest[]> =>
    store.listRequests({ requestedBy: { platform: 'slack', id: user(i) } });
  const messageOf = async (requestId: number): Promise<SlackMessage> => {
    // The reference is saved just after the message is posted.
    const ref = await waitFor(
      `request #${requestId}'s message reference`,
      async () =>
        (await store.getMessageRefs(rid(requestId))).find((r) => r.platform === 'slack' && r.kind === 'approval'),
      {
        timeoutMs: 10_000,
        intervalMs: 100,
      },
    );
    return slack.messageAt(ref.channel, ref.messageId)!;
  };
  const command = (i: number, web: string) => {
    const { responseUrl } = slack.interaction(user(i), { channelId: CHANNEL });
    return postSlashCommand(
      web,
      SECRET,
      slashCommand({
        userId: user(i),
        text: `${target.entry.name} read 30m INC-7 crash test ${i}`,
        channelId: CHANNEL,
        responseUrl,
      }),
    );
  };
  const click = (who: string, actionId: string, value: string, message: SlackMessage, channelId: string, web: string) =>
    postInteraction(
      web,
      SECRET,
      blockActionsPayload({
        userId: who,
        actionId,
        value,
        channelId,
        message,
        ...slack.interaction(who, { channelId, messageTs: message.ts }),
      }),
    );

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'inbox-crash-'));
    let stateUrl: string;
    if (setup.store === 'postgres') {
      const admin = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${dbName}`);
      await admin.end();
      stateUrl = `postgres://postgres@127.0.0.1:5432/${dbName}`;
    } else {
      stateUrl = `sqlite:${join(dir, 'state.sqlite')}`;
    }
    await migrateLatest(stateUrl);
    store = await openStateStore(stateUrl);
    cluster = await startScramCluster();
    target = await setupPgTarget(cluster);
    slack = await startSlackDouble();
    slack.addUser({ id: BOB, email: 'bob@example.com', name: 'bob' });
    for (const i of range(0, 18)) slack.addUser({ id: user(i), email: `r${i}@example.com`, name: `r${i}` });
    slack.addChannel(CHANNEL, { name: 'db-approvals' });
    const catalog = writeCatalog([target.entry], {
      perEntry: () => ({ approval: { slackChannel: CHANNEL, approvers: [{ email: 'bob@example.com' }] } }),
    });
    env = {
      ...catalog.env,
      CATALOG_PATH: catalog.path,
      DATABASE_URL: stateUrl,
      REDIS_URL: sharedRedisUrl,
      QUEUE_PREFIX: uniquePrefix('inbox'),
      SLACK_BOT_TOKEN: slack.botToken,
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_API_URL: slack.url,
      LOG_LEVEL: 'info',
      SWEEP_INTERVAL: '1s',
      REQUEST_RATE: '1000/1s',
    };
    await start();
  }, 180_000);

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await slack?.stop();
    await store?.close();
    await cluster?.stop();
    if (setup.store === 'postgres') {
      const admin = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
      await admin.end();
    }
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it("8 Approve clicks, 5 slash commands, 3 Revoke / I'm done clicks and 2 Deny submissions answered 200, then SIGKILL: after a restart each took effect exactly once", async () => {
    // Before: 10 requests waiting for a decision and 3 live grants, made through chat with nothing held.
    const opened = await Promise.all(
      [...APPROVED, ...DENIED, ...REVOKED].map((i) => command(i, webs[i % webs.length]!)),
    );
    expect(opened.every((r) => r.status === 200)).toBe(true);
    await slack.waitUntil(() => slack.messagesIn(CHANNEL).length === 13, {
      timeoutMs: 30_000,
      description: '13 approval messages',
    });
    for (const i of REVOKED) {
      const [req] = await requestOf(i);
      expect((await click(BOB, APPROVE, String(req!.id), await messageOf(req!.id), CHANNEL, webs[0]!)).status).toBe(
        200,
      );
    }
    const live = await waitFor(
      '3 grants active',
      async () => {
        const gs = await store.listGrants({ statuses: ['active'] });
        return gs.length === 3 ? gs : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    // The requester of the first grant ends it from its DM ("I'm done"); bob revokes the others from the channel.
    const doneDm = await slack.waitUntil(
      () => slack.dmOf(user(REVOKED[0]!)).find((m) => buttonsIn(m).some((b) => b.actionId === DONE)),
      { timeoutMs: 15_000 },
    );
    const before = { audit: (await store.listAudit({})).length, inbox: (await store.listInboxActions()).length };
    expect(await store.listInboxActions({ statuses: ['pending', 'failed'] })).toEqual([]);

    // Every process restarts with processing held: acks go out, nothing is done.
    await Promise.all(procs.map((p) => p.stop()));
    await start({ DB_ACCESS_FAILPOINT: 'inbox.before-process' }, true);
    const web = (k: number) => webs[k % webs.length]!;
    const pendingReqs = new Map<number, AccessRequest>();
    for (const i of [...APPROVED, ...DENIED]) pendingReqs.set(i, (await requestOf(i))[0]!);
    const grantOf = (i: number) => live.find((g) => g.requester.id === user(i))!;
    const sends = await Promise.all([
      ...APPROVED.map(async (i, k) =>
        click(BOB, APPROVE, String(pendingReqs.get(i)!.id), await messageOf(pendingReqs.get(i)!.id), CHANNEL, web(k)),
      ),
      ...FILED.map((i, k) => command(i, web(k + 1))),
      click(
        user(REVOKED[0]!),
        DONE,
        String(grantOf(REVOKED[0]!).id),
        doneDm,
        slack.dmChannelId(user(REVOKED[0]!)),
        web(0),
      ),
      ...REVOKED.slice(1).map(async (i, k) => {
        const g = grantOf(i);
        return click(BOB, REVOKE, String(g.id), await messageOf(g.requestId), CHANNEL, web(k + 1));
      }),
      ...DENIED.map((i, k) => {
        const id = pendingReqs.get(i)!.id;
        return postInteraction(
          web(k),
          SECRET,
          viewSubmissionPayload({
            userId: BOB,
            view: { ...denyModal(id), id: `VDENY${id}` },
            values: { reason: { reason_input: `not now ${i}` } },
          }),
        );
      }),
    ]);
    expect(sends.map((r) => r.status)).toEqual(Array(18).fill(200));
    // Acknowledged and recorded, not done: the held processes have changed nothing.
    const held = await store.listInboxActions({ statuses: ['pending'] });
    expect(held).toHaveLength(18);
    expect(held.map((a) => a.kind).sort()).toEqual(
      [
        ...Array(8).fill('approve'),
        ...Array(2).fill('deny'),
        ...Array(5).fill('request'),
        ...Array(3).fill('revoke'),
      ].sort(),
    );
    for (const r of pendingReqs.values()) expect((await store.getRequest(r.id))!.status).toBe('pending');
    expect(await store.listGrants({ statuses: ['active'] })).toHaveLength(3);
    for (const i of FILED) expect(await requestOf(i)).toEqual([]);

    await Promise.all(procs.map((p) => p.kill()));
    for (const p of procs) expect((await p.exited).signal).toBe('SIGKILL');
    await start();

    // After: every action done, once.
    await waitFor(
      'every inbox action done',
      async () => ((await store.listInboxActions({ statuses: ['pending'] })).length === 0 ? true : undefined),
      {
        timeoutMs: 60_000,
        intervalMs: 250,
      },
    );
    const inbox = await store.listInboxActions();
    expect(inbox).toHaveLength(before.inbox + 18);
    expect(inbox.filter((a) => a.status !== 'done')).toEqual([]);
    const recovered = inbox.slice(before.inbox);
    expect(recovered.every((a) => a.attempts === 2 && !/^refused|^failed/.test(a.outcome ?? ''))).toBe(true);

    // 8 approvals: one grant each, its user on the target, one credentials DM, the message active.
    const approvedGrants = await waitFor(
      '8 approved grants active',
      async () => {
        const gs = (await store.listGrants({ statuses: ['active'] })).filter((g) =>
          APPROVED.some((i) => g.requester.id === user(i)),
        );
        return gs.length === 8 ? gs : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    for (const i of APPROVED) {
      const req = (await store.getRequest(pendingReqs.get(i)!.id))!;
      expect(req.status).toBe('approved');
      expect(await store.listGrants({ heldBy: { platform: 'slack', id: user(i) } })).toHaveLength(1);
    }
    const roles = (await target.query("SELECT rolname FROM pg_roles WHERE rolname LIKE 'jit!_%' ESCAPE '!'")).map((r) =>
      String(r.rolname),
    );
    for (const g of approvedGrants) expect(roles).toContain(g.username);
    await slack.waitUntil(
      () =>
        APPROVED.every(
          (i) => slack.dmOf(user(i)).filter((m) => buttonsIn(m).some((b) => b.actionId === REVEAL)).length === 1,
        ),
      {
        timeoutMs: 30_000,
        description: 'one credentials DM per approved requester',
      },
    );
    const approvalMessages = await Promise.all(APPROVED.map(async (i) => (await messageOf(pendingReqs.get(i)!.id)).ts));
    await slack.waitUntil(
      () =>
        approvalMessages.every((ts) => /Active until/.test(slack.renderText(slack.messageAt(CHANNEL, ts)! as never))),
      {
        timeoutMs: 30_000,
        description: "every approved request's message active",
      },
    );

    // 2 denials: denied with the reason, the message says so.
    for (const i of DENIED) {
      const req = (await store.getRequest(pendingReqs.get(i)!.id))!;
      expect(req.status).toBe('denied');
      expect(req.decisionNote).toContain(`not now ${i}`);
      expect(slack.renderText((await messageOf(req.id)) as never)).toMatch(/Denied by @bob/);
    }

    // 3 revocations: each grant ended once, its user gone.
    const ended = await waitFor(
      '3 grants revoked',
      async () => {
        const gs = await store.listGrants({ statuses: ['revoked'] });
        return gs.length === 3 ? gs : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    expect(ended.map((g) => g.id).sort()).toEqual(live.map((g) => g.id).sort());
    const rolesAfter = (await target.query("SELECT rolname FROM pg_roles WHERE rolname LIKE 'jit!_%' ESCAPE '!'")).map(
      (r) => String(r.rolname),
    );
    for (const g of ended) expect(rolesAfter).not.toContain(g.username);
    expect(ended.find((g) => g.requester.id === user(REVOKED[0]!))!.endReason).toMatch(/ended early by/);

    // 5 slash commands: one request each, one approval message each, answered on their response_url.
    for (const i of FILED) {
      const reqs = await requestOf(i);
      expect(reqs).toHaveLength(1);
      expect(reqs[0]!.status).toBe('pending');
    }
    await slack.waitUntil(() => slack.messagesIn(CHANNEL).length === 18, {
      timeoutMs: 30_000,
      description: '5 more approval messages',
    });
    await slack.waitUntil(
      () =>
        FILED.every((i) => slack.ephemeralsFor(user(i)).some((e) => /Request #\d+/.test(slack.renderText(e as never)))),
      {
        timeoutMs: 30_000,
        description: 'each filer told their request was sent',
      },
    );

    // The audit: one row per effect, received before it was processed, and the chain holds.
    const audit = (await store.listAudit({})).slice(before.audit);
    const count = (type: AuditEvent['type'], pred: (e: AuditEvent) => boolean = () => true) =>
      audit.filter((e) => e.type === type && pred(e)).length;
    for (const i of APPROVED) expect(count('request.approved', (e) => e.requestId === pendingReqs.get(i)!.id)).toBe(1);
    for (const i of DENIED) expect(count('request.denied', (e) => e.requestId === pendingReqs.get(i)!.id)).toBe(1);
    for (const g of ended) {
      expect(count('grant.revoke_requested', (e) => e.grantId === g.id)).toBe(1);
      expect(count('grant.revoked', (e) => e.grantId === g.id)).toBe(1);
    }
    for (const i of FILED) expect(count('request.created', (e) => e.actor.id === user(i))).toBe(1);
    expect(count('access.refused')).toBe(0);
    const byInbox = new Map(recovered.map((a) => [`${a.kind}:${a.requestId ?? a.grantId}`, a]));
    for (const e of audit.filter((x) =>
      ['request.approved', 'request.denied', 'grant.revoke_requested'].includes(x.type),
    )) {
      const receivedAt = e.detail.receivedAt as number;
      const key =
        e.type === 'grant.revoke_requested'
          ? `revoke:${e.grantId}`
          : `${e.type === 'request.denied' ? 'deny' : 'approve'}:${e.requestId}`;
      expect(receivedAt).toBe(byInbox.get(key)!.receivedAt);
      expect(e.at).toBeGreaterThan(receivedAt); // processed after the restart
    }
    expect((await store.verifyAudit()).ok).toBe(true);
  }, 300_000);
});
