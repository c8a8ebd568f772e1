/**
 * Teams answers an action only once it is done (botbuilder answers the HTTP request with the handler's result),
 * so a crash before the answer is a click that failed in Teams: nothing changed, and the person's retry works.
 * Real processes: `db-access all` on a SQLite state store, Activities POSTed in local anonymous mode, the Bot
 * Connector double, a PostgreSQL target with password auth.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actionActivity, cardOf, messageActivity, postActivity, type Where } from '../../dev/teams/activities.js';
import { startTeamsConnectorDouble, type TeamsConnectorDouble, teamsUser } from '../../dev/teams/connector-double.js';
import { migrateLatest, openStateStore, type OpenStateStore } from '../../src/store/index.js';
import { teamsAnonymousEnv } from '../support/broker.js';
import { writeCatalog } from '../support/catalog.js';
import { setupPgTarget, startScramCluster, type PgCluster, type PgTarget } from '../support/pg-cluster.js';
import { startWorker, type WorkerProcess } from '../support/processes.js';
import { freePort, sharedRedisUrl, uniquePrefix } from '../support/redis.js';
import { waitFor } from '../support/wait.js';
import { rid } from '../support/ids.js';

const CHANNEL = '19:db-approvals@thread.tacv2';
const ALICE = teamsUser(1, 'alice');
const BOB = teamsUser(2, 'bob');

describe('Teams: a crash before the answer is a failed click the person can retry', () => {
  let cluster: PgCluster;
  let target: PgTarget;
  let teams: TeamsConnectorDouble;
  let store: OpenStateStore;
  let proc: WorkerProcess | undefined;
  let env: Record<string, string>;
  let dir: string;
  let baseUrl: string;

  const where = (conversation: string, replyToId?: string): Where => ({
    serviceUrl: teams.url,
    tenantId: teams.tenantId,
    conversation,
    ...(replyToId && { replyToId }),
  });
  const cards = () => teams.messagesIn(CHANNEL).filter((m) => !m.replyToId);
  async function start(extra: Record<string, string> = {}, group = false): Promise<void> {
    const port = await freePort();
    proc = await startWorker({ ...env, ...extra, PORT: String(port) }, 'all', { group });
    baseUrl = `http://127.0.0.1:${port}`;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'teams-crash-'));
    const stateUrl = `sqlite:${join(dir, 'state.sqlite')}`;
    await migrateLatest(stateUrl);
    store = await openStateStore(stateUrl);
    cluster = await startScramCluster();
    target = await setupPgTarget(cluster);
    teams = await startTeamsConnectorDouble();
    for (const u of [ALICE, BOB]) {
      teams.addUser(u);
      teams.install(u.aadObjectId);
    }
    const catalog = writeCatalog([target.entry], {
      perEntry: () => ({
        approval: { teamsChannel: CHANNEL, approvers: [{ email: 'bob@example.com' }], required: 1, timeout: '30m' },
      }),
    });
    env = {
      ...catalog.env,
      ...teamsAnonymousEnv(teams),
      CATALOG_PATH: catalog.path,
      DATABASE_URL: stateUrl,
      REDIS_URL: sharedRedisUrl,
      QUEUE_PREFIX: uniquePrefix('teams-crash'),
      SWEEP_INTERVAL: '1s',
      LOG_LEVEL: 'info',
    };
    await start();
  }, 120_000);

  afterAll(async () => {
    await proc?.stop();
    await teams?.stop();
    await store?.close();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('Approve held, process group killed: no answer and nothing changed; after a restart the same click approves once', async () => {
    expect(
      (
        await postActivity(
          baseUrl,
          messageActivity(ALICE, where('personal'), `db-access ${target.entry.name} read 30m INC-9 crash test`),
        )
      ).status,
    ).toBe(200);
    const card = await teams.waitUntil(() => cards().at(-1), { timeoutMs: 15_000, what: 'an approval card' });
    const requestId = Number(
      (cardOf(card.activity) as { actions?: Array<{ verb?: string; data?: { requestId?: number } }> }).actions?.find(
        (a) => a.verb === 'approve',
      )?.data?.requestId,
    );
    expect((await store.getRequest(rid(requestId)))?.status).toBe('pending');

    await proc!.stop();
    await start({ DB_ACCESS_FAILPOINT: 'teams.before-process' }, true);
    const clicked = postActivity(baseUrl, actionActivity(BOB, where(CHANNEL, card.id), 'approve', { requestId })).then(
      (r) => r.status,
      (err: unknown) => `no answer: ${err instanceof Error ? err.message : String(err)}`,
    );
    await waitFor(
      'the click to reach the held handler',
      () => proc!.output().includes('failpoint: holding here until killed'),
      { timeoutMs: 15_000 },
    );
    await proc!.kill();
    expect(await clicked).toMatch(/^no answer/);
    expect((await store.getRequest(rid(requestId)))?.status).toBe('pending');
    expect(await store.listApprovals(rid(requestId))).toEqual([]);
    expect(await store.getGrantByRequest(rid(requestId))).toBeUndefined();
    expect(await store.listInboxActions()).toEqual([]); // Teams actions are not inboxed: nothing was promised

    await start();
    const retry = await postActivity(baseUrl, actionActivity(BOB, where(CHANNEL, card.id), 'approve', { requestId }));
    expect(retry.status).toBe(200);
    expect((retry.body as { type?: string }).type).toBe('application/vnd.microsoft.card.adaptive');
    expect((await store.getRequest(rid(requestId)))?.status).toBe('approved');
    expect(await store.listApprovals(rid(requestId))).toHaveLength(1);
    const grant = await waitFor(
      'the grant active',
      async () => {
        const g = await store.getGrantByRequest(rid(requestId));
        return g?.status === 'active' ? g : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    const roles = (await target.query('SELECT rolname FROM pg_roles WHERE rolname = $1', [grant.username])).length;
    expect(roles).toBe(1);
  }, 180_000);
});
