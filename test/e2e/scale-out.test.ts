/**
 * Scale-out: two `db-access serve` and two `db-access worker` processes on one Redis and one PostgreSQL state
 * store. 200 requests approved concurrently across both web processes → exactly 200 users, 200 credential
 * deliveries, all revoked at expiry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { APPROVE, REVEAL } from '../../src/chat/slack/ids.js';
import { buttonsIn, startSlackDouble, type SlackDouble } from '../../dev/slack/double.js';
import { blockActionsPayload, postInteraction, postSlashCommand, slashCommand } from '../../dev/slack/sign.js';
import { migrateLatest, openStateStore, type OpenStateStore } from '../../src/store/index.js';
import { writeCatalog } from '../support/catalog.js';
import { setupPgTarget, startScramCluster, type PgCluster, type PgTarget } from '../support/pg-cluster.js';
import { startWorker, type WorkerProcess } from '../support/processes.js';
import { freePort, sharedRedisUrl, uniquePrefix } from '../support/redis.js';
import { waitFor } from '../support/wait.js';

const N = 200;
const SECRET = 'scale-out-secret';
const CHANNEL = 'C0APPROVALS';

describe('scale-out: two web and two worker processes', () => {
  let cluster: PgCluster;
  let target: PgTarget;
  let slack: SlackDouble;
  let store: OpenStateStore;
  const procs: WorkerProcess[] = [];
  const webs: string[] = [];
  const dbName = `dbaccess_scale_${process.pid}_${Date.now() % 100000}`;

  beforeAll(async () => {
    const admin = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    await admin.end();
    const stateUrl = `postgres://postgres@127.0.0.1:5432/${dbName}`;
    await migrateLatest(stateUrl);
    store = await openStateStore(stateUrl);
    cluster = await startScramCluster();
    target = await setupPgTarget(cluster);
    slack = await startSlackDouble();
    slack.addUser({ id: 'U0BOB', email: 'bob@example.com', name: 'bob' });
    for (let i = 0; i < N; i++) slack.addUser({ id: `U0R${i}`, email: `r${i}@example.com`, name: `r${i}` });
    slack.addChannel(CHANNEL, { name: 'db-approvals' });
    const catalog = writeCatalog(
      [{ ...target.entry, levels: new Map([['read', { ...target.levels.read, guardRails: { connectionLimit: 2 } }]]) }],
      {
        perEntry: () => ({ approval: { slackChannel: CHANNEL, approvers: [{ email: 'bob@example.com' }] } }),
      },
    );
    const env = {
      ...catalog.env,
      CATALOG_PATH: catalog.path,
      DATABASE_URL: stateUrl,
      REDIS_URL: sharedRedisUrl,
      QUEUE_PREFIX: uniquePrefix('scale'),
      SLACK_BOT_TOKEN: slack.botToken,
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_API_URL: slack.url,
      LOG_LEVEL: 'info',
      SWEEP_INTERVAL: '2s',
    };
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      procs.push(await startWorker({ ...env, PORT: String(port) }, 'serve'));
      webs.push(`http://127.0.0.1:${port}`);
      procs.push(await startWorker(env, 'worker'));
    }
  }, 180_000);

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await slack?.stop();
    await store?.close();
    await cluster?.stop();
    const admin = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  }, 120_000);

  it(`${N} requests approved concurrently across both web processes: ${N} users, ${N} credential deliveries, all revoked at expiry`, async () => {
    // Requests arrive through both web processes.
    const sent = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        postSlashCommand(
          webs[i % 2]!,
          SECRET,
          slashCommand({
            userId: `U0R${i}`,
            text: `${target.entry.name} read 90s INC-1 scale test ${i}`,
            channelId: CHANNEL,
          }),
        ),
      ),
    );
    expect(sent.every((r) => r.status === 200)).toBe(true);
    await slack.waitUntil(() => slack.messagesIn(CHANNEL).length >= N, { timeoutMs: 60_000 });
    const messages = slack.messagesIn(CHANNEL);
    expect(messages).toHaveLength(N);

    // bob approves all of them at once, alternating between the two web processes.
    const clicks = await Promise.all(
      messages.map((m, i) => {
        const value = buttonsIn(m).find((b) => b.actionId === APPROVE)!.value!;
        return postInteraction(
          webs[i % 2]!,
          SECRET,
          blockActionsPayload({ userId: 'U0BOB', actionId: APPROVE, value, channelId: CHANNEL, message: m }),
        );
      }),
    );
    expect(clicks.every((r) => r.status === 200)).toBe(true);

    const active = await waitFor(
      `${N} grants active`,
      async () => {
        const gs = await store.listGrants({ statuses: ['active'] });
        return gs.length === N ? gs : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 500 },
    );
    expect((await store.listGrants({})).length).toBe(N); // exactly one grant per request
    // The issued users (the cluster's own admin, jit_admin, also starts with jit_: compare against the grants).
    const issued = (rows: Array<Record<string, unknown>>) =>
      rows.map((r) => String(r.rolname)).filter((n) => active.some((g) => g.username === n));
    const roles = () => target.query("SELECT rolname FROM pg_roles WHERE rolname LIKE 'jit!_%' ESCAPE '!'");
    expect(issued(await roles())).toHaveLength(N);
    // One credentials DM per requester.
    await slack.waitUntil(
      () =>
        Array.from(
          { length: N },
          (_, i) => slack.dmOf(`U0R${i}`).filter((m) => buttonsIn(m).some((b) => b.actionId === REVEAL)).length,
        ).every((n) => n === 1),
      {
        timeoutMs: 30_000,
      },
    );

    // All revoked at expiry, never early.
    const latest = Math.max(...active.map((g) => g.expiresAt));
    const ended = await waitFor(
      'every grant revoked',
      async () => {
        const gs = await store.listGrants({ statuses: ['revoked'] });
        return gs.length === N ? gs : undefined;
      },
      { timeoutMs: Math.max(30_000, latest - Date.now() + 60_000), intervalMs: 500 },
    );
    for (const g of ended) expect(g.revokedAt!).toBeGreaterThanOrEqual(g.expiresAt);
    expect(issued(await roles())).toHaveLength(0);
    expect((await store.verifyAudit()).ok).toBe(true);
  }, 300_000);
});
