/**
 * "What was done with the access", from the servers' own statistics, on real targets: PostgreSQL with
 * pg_stat_statements preloaded in a throwaway scram cluster, and MariaDB with performance_schema on. The granted
 * user connects with a named application from 127.0.0.1 and runs a known number of statements (one carrying a
 * distinctive literal); a sweep samples the sessions; the revocation reads the statements before the drop. The
 * receipt (Slack and Teams renderings of the real notification), the audit export, grantActivity and the report page
 * (HTML and CSV) say where the sessions came from and what ran — and the literal appears in none of them, nor in the
 * logs or the state DB.
 * Then the cost: with 1,000 live grants on one server (spread over two catalog databases there), a sweep asks that
 * server ONE sampling query, counted by the server's own statement statistics.
 */
import { Client } from 'pg';
import { createConnection, type Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseEntry } from '../../src/core/catalog.js';
import type { CoreDeps } from '../../src/core/deps.js';
import { createAdminGrant } from '../../src/core/asking.js';
import { generateUsername } from '../../src/core/identifiers.js';
import { provision, revoke } from '../../src/core/lifecycle.js';
import { Sweeper } from '../../src/core/sweeper.js';
import { exportAudit } from '../../src/audit/export.js';
import { pageActivity, reportPageCsv, reportPageData, reportPageRows } from '../../src/audit/report-page.js';
import { reportPage } from '../../src/http/report-html.js';
import { revocationReceipt } from '../../src/chat/slack/blocks/receipt.js';
import { receiptMessage } from '../../src/chat/teams/cards/replies.js';
import { accessEndedDm } from '../../src/chat/slack/blocks/dm.js';
import { accessEndedMessage } from '../../src/chat/teams/cards/dm.js';
import { dumpTables, migrateLatest, openStateStore, type OpenStateStore } from '../../src/store/index.js';
import { CatalogEngines } from '../../src/targets/registry.js';
import { tempSqliteUrl } from '../support/catalog.js';
import { coreDeps } from '../support/core-deps.js';
import { capturingLogger } from '../support/logs.js';
import { MARIADB_HOST, MARIADB_PORT, setupMariadbTarget } from '../support/mariadb-target.js';
import { recordingNotifier } from '../support/notifiers.js';
import { setupPgTarget, startScramCluster } from '../support/pg-cluster.js';
import { waitFor } from '../support/wait.js';

const LITERAL = 'secret-literal-42';
const APP = 'orders-report';
const STATEMENTS = 5; // run by the test, all SELECTs: 3 in the first session, 2 in the second

interface Session {
  query(sql: string): Promise<unknown>;
  close(): Promise<void>;
}

interface Target {
  /** Two catalog databases on the same server (the second only for the 1,000-grant sample). */
  entries: [DatabaseEntry, DatabaseEntry];
  /** A session of the issued user from 127.0.0.1, named APP. */
  connect(username: string, password: string): Promise<Session>;
  /** A SELECT with LITERAL in its WHERE, and a plain one. */
  sql: { withLiteral: string; plain: string };
  /** How often the server has run the broker's sampling query so far, and their total time (its own statistics). */
  samplingQueries(): Promise<{ calls: number; totalMs: number }>;
  /** A third catalog database on the server whose admin was NOT given what statement statistics need. */
  bare: DatabaseEntry;
  /** Why the bare one has no statement figures, and the fix `check` names. */
  bareWhy: RegExp;
  bareFix: RegExp;
  /** What the receipt's statement part must say. */
  expectedStatements: { source: string; topHasPlaceholder: boolean };
  teardown(): Promise<void>;
}

const targets: Array<[string, () => Promise<Target>]> = [
  [
    'PostgreSQL (pg_stat_statements preloaded)',
    async () => {
      const cluster = await startScramCluster(undefined, { preload: ['pg_stat_statements'] });
      const t = await setupPgTarget(cluster);
      const t2 = await setupPgTarget(cluster, { database: 'appdb2', adminUser: 'jit_admin2' });
      for (const [db, admin] of [
        ['appdb', 'jit_admin'],
        ['appdb2', 'jit_admin2'],
      ] as const) {
        await cluster.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements', [], db);
        await cluster.query(`GRANT pg_read_all_stats TO ${admin}`);
      }
      const bare = await setupPgTarget(cluster, { database: 'appdb3', adminUser: 'jit_admin3' });
      return {
        entries: [t.entry, t2.entry],
        bare: bare.entry,
        bareWhy: /^pg_stat_statements is not installed in database appdb3$/,
        bareFix: /CREATE EXTENSION pg_stat_statements;\nGRANT pg_read_all_stats TO "jit_admin3"/,
        async connect(user, password) {
          const c = new Client({
            host: '127.0.0.1',
            port: cluster.port,
            user,
            password,
            database: 'appdb',
            application_name: APP,
          });
          await c.connect();
          c.on('error', () => undefined); // terminated at revocation
          return { query: (sql) => c.query(sql), close: () => c.end().catch(() => undefined) };
        },
        sql: { withLiteral: `SELECT name FROM items WHERE name = '${LITERAL}'`, plain: 'SELECT count(*) FROM items' },
        async samplingQueries() {
          const [r] = await cluster.query(
            `SELECT coalesce(sum(calls), 0)::int AS n, coalesce(sum(total_exec_time), 0) AS ms FROM pg_stat_statements
              WHERE query LIKE '/* db-access: observe sessions */%'`,
            [],
            'appdb',
          );
          return { calls: Number(r!.n), totalMs: Number(r!.ms) };
        },
        expectedStatements: { source: 'pg_stat_statements', topHasPlaceholder: true },
        teardown: () => cluster.stop(),
      };
    },
  ],
  [
    'MariaDB (performance_schema on)',
    async () => {
      const t = await setupMariadbTarget();
      const [pfs] = await t.query('SELECT @@performance_schema AS on_');
      if (Number(pfs?.on_) !== 1)
        throw new Error(
          'this MariaDB runs without performance_schema: start it with performance_schema = ON (.ci/run does)',
        );
      const t2 = await setupMariadbTarget();
      // The second target is a second catalog database on the same server. What `check` asks the DBA for:
      for (const admin of [t.names.adminUser, t2.names.adminUser])
        await t.query(`GRANT SELECT ON performance_schema.* TO ?@'%'`, [admin]);
      const bare = await setupMariadbTarget();
      return {
        entries: [t.entry, t2.entry],
        bare: bare.entry,
        bareWhy: /^the admin may not read performance_schema$/,
        bareFix: /^GRANT SELECT ON performance_schema\.\* TO 'dbacc_adm_[0-9a-f]+'@'%';$/,
        async connect(user, password) {
          const c: Connection = await createConnection({
            host: '127.0.0.1',
            port: MARIADB_PORT,
            user,
            password,
            connectAttributes: { program_name: APP },
          });
          c.on('error', () => undefined);
          return { query: (sql) => c.query(sql), close: () => c.end().catch(() => undefined) };
        },
        sql: {
          withLiteral: `SELECT name FROM \`${t.names.database}\`.items WHERE name = '${LITERAL}'`,
          plain: `SELECT COUNT(*) FROM \`${t.names.database}\`.items`,
        },
        async samplingQueries() {
          const [r] = await t.query(
            `SELECT COALESCE(SUM(COUNT_STAR), 0) AS n, COALESCE(SUM(SUM_TIMER_WAIT), 0) / 1e9 AS ms
               FROM performance_schema.events_statements_summary_by_digest
              WHERE DIGEST_TEXT LIKE '%PROCESSLIST%' AND DIGEST_TEXT LIKE '%session_connect_attrs%'`,
          );
          return { calls: Number(r!.n), totalMs: Number(r!.ms) };
        },
        expectedStatements: { source: 'performance_schema', topHasPlaceholder: false },
        teardown: async () => {
          await bare.teardown();
          await t2.teardown();
          await t.teardown();
        },
      };
    },
  ],
];

describe.each(targets)('activity on %s', (_label, makeTarget) => {
  let target: Target;
  let store: OpenStateStore;
  let deps: CoreDeps;
  let logs: string[];
  const notifier = recordingNotifier();
  let now = Date.now();
  const sweeper = () =>
    new Sweeper(deps, { graceMs: 1_000, staleProvisioningMs: 30_000, retryEveryMs: 60_000, incidentPollMs: 3_600_000 });

  beforeAll(async () => {
    expect(MARIADB_HOST).toBe('127.0.0.1');
    target = await makeTarget();
    const url = tempSqliteUrl();
    await migrateLatest(url);
    store = await openStateStore(url);
    const catalog = { databases: new Map([...target.entries, target.bare].map((e) => [e.name, e])) };
    const captured = capturingLogger();
    logs = captured.logs;
    deps = coreDeps(catalog, store, {
      notifier,
      clock: { now: () => now },
      logger: captured.logger,
      engines: new CatalogEngines(catalog, captured.logger),
    });
  }, 180_000);

  afterAll(async () => {
    await deps?.engines.close();
    await store?.close();
    await target?.teardown();
  }, 120_000);

  it('sessions (address, application) and statements (counts by kind, normalised) reach the receipt, the audit export and grantActivity; the literal reaches none', async () => {
    const db = target.entries[0].name;
    const { grant } = await createAdminGrant(
      deps,
      { platform: 'cli', id: 'cli:test' },
      { platform: 'cli', id: 'email:ada@example.com', email: 'ada@example.com' },
      { database: db, level: 'read', duration: '1h', reason: 'activity test' },
    );
    const res = await provision(deps, grant.id, { credentials: true });
    if (res.outcome !== 'active' || !res.credentials) throw new Error('not provisioned');
    const { username, password } = res.credentials;

    const s1 = await target.connect(username, password);
    const s2 = await target.connect(username, password);
    for (let i = 0; i < 3; i++) await s1.query(target.sql.withLiteral);
    await s2.query(target.sql.withLiteral);
    await s2.query(target.sql.plain);

    now = Date.now();
    const report = await sweeper().sweep();
    expect(report.sessionsSeen).toBe(2);
    expect(report.sessionsFirstSeen).toBe(2);
    const seen = await store.listAudit({ grantId: grant.id, type: 'session.seen' });
    expect(seen).toHaveLength(2);
    for (const e of seen) expect(e.detail).toMatchObject({ clientAddress: '127.0.0.1', application: APP, username });
    // A second sweep sees the same sessions: nothing new is audited.
    now += 1_000;
    expect((await sweeper().sweep()).sessionsFirstSeen).toBe(0);

    now += 1_000;
    const ended = await revoke(deps, grant.id, { platform: 'cli', id: 'cli:test' }, 'done', 'admin');
    expect(ended.receipt?.sessionsTerminated).toBe(2);
    await Promise.all([s1.close(), s2.close()]);

    // grantActivity: one group, both sessions ended by the revocation, the statements counted.
    const activity = (await store.grantActivity([grant.id])).get(grant.id)!;
    expect(activity.sessions).toEqual([
      expect.objectContaining({ clientAddress: '127.0.0.1', application: APP, count: 2, endedByRevocation: 2 }),
    ]);
    expect(activity.sessionsDropped).toBe(0);
    const st = activity.statements!;
    console.log('STATS', JSON.stringify(st));
    expect(st).toMatchObject({ available: true, source: target.expectedStatements.source, calls: STATEMENTS });
    if (!st.available) throw new Error('unreachable');
    expect(st.byKind).toEqual({ SELECT: STATEMENTS });
    if (target.expectedStatements.topHasPlaceholder) {
      expect(st.top[0]).toMatchObject({ query: 'SELECT name FROM items WHERE name = $1', calls: 4 });
    }

    // The receipt, as the revocation's notification renders it on Slack (thread reply) and Teams.
    const view = await waitFor(
      'the ended notification',
      () => notifier.events.find((e) => e.event === 'grantEnded' && e.view.grant?.id === grant.id)?.view,
    );
    const slack = JSON.stringify(revocationReceipt(view));
    const teams = JSON.stringify(receiptMessage(view));
    // …and in the requester's DM.
    const slackDm = JSON.stringify(accessEndedDm(view));
    const teamsDm = JSON.stringify(accessEndedMessage(view));
    for (const rendered of [slack, teams, slackDm, teamsDm]) {
      expect(rendered).toContain(`2 sessions from 127.0.0.1 (${APP})`);
      expect(rendered).toContain(`${STATEMENTS} statements, ${STATEMENTS} SELECT`);
    }
    if (target.expectedStatements.topHasPlaceholder) expect(slack).toContain('(4×)');

    // The audit export: the grant.revoked row carries the same facts.
    const lines: string[] = [];
    for await (const line of exportAudit(store, { grantId: grant.id }, 'jsonl')) lines.push(line);
    const revoked = lines.map((l) => JSON.parse(l) as { type: string; detail: Record<string, unknown> });
    const row = revoked.find((e) => e.type === 'grant.revoked')!;
    expect(row.detail.activity).toEqual(JSON.parse(JSON.stringify(activity)));
    const csv: string[] = [];
    for await (const line of exportAudit(store, { grantId: grant.id }, 'csv')) csv.push(line);
    expect(csv.join('\n')).toContain(APP);

    // The report page and its CSV, built as GET /report builds them (the browser test drives the HTTP side).
    const reportAt = Date.now() + 60_000;
    const filter = { since: 0, until: reportAt };
    const source = await reportPageRows(store, filter, reportAt);
    const ids = source.rows.map((r) => r.grantId);
    const page = reportPageData(source, filter, pageActivity(await store.grantActivity(ids)));
    const pageRow = page.rows.find((r) => r.grantId === grant.id)!;
    expect(pageRow.activity).toMatchObject({ sessions: 2, clients: [`127.0.0.1 (${APP})`], statements: STATEMENTS });
    const html = reportPage(page, { via: 'admin-token' }, reportAt);
    expect(html).toContain(`from 127.0.0.1 (${APP})`);
    expect(html).toContain(`${STATEMENTS} statements`);
    const pageCsv = reportPageCsv(page.rows);
    expect(pageCsv).toContain(`127.0.0.1 (${APP})`);

    // The literal is nowhere: chat, audit (JSON and CSV), the report page and its CSV, logs, the state DB.
    const haystacks: Array<[string, string]> = [
      ['report page', html],
      ['report csv', pageCsv],
      ['slack receipt', slack],
      ['teams receipt', teams],
      ['slack DM', slackDm],
      ['teams DM', teamsDm],
      ['audit jsonl', lines.join('\n')],
      ['audit csv', csv.join('\n')],
      ['logs', logs.join('\n')],
      ['state DB', JSON.stringify(await dumpTables(store.knex))],
    ];
    for (const [where, text] of haystacks) expect(text.includes(LITERAL), where).toBe(false);
    expect(logs.length).toBeGreaterThan(0);
  }, 120_000);

  it('check: statement statistics pass where set up, and where not warn with the fix; the engine then says why not', async () => {
    const ready = (await deps.engines.get(target.entries[0].name).initialize()).checks;
    expect(ready.find((c) => c.name === 'statement statistics')).toMatchObject({ ok: true, severity: 'warning' });
    const bareEngine = deps.engines.get(target.bare.name);
    const warned = (await bareEngine.initialize()).checks.find((c) => c.name === 'statement statistics');
    expect(warned).toMatchObject({ ok: false, severity: 'warning' });
    expect(warned!.fix).toMatch(target.bareFix);
    // Sampling still works there (MariaDB: without the program name, which needs performance_schema).
    await expect(bareEngine.observeSessions(['jit_nobody_here'])).resolves.toEqual([]);
    const none = await bareEngine.statementSummaries(['jit_nobody_here']);
    expect(none.get('jit_nobody_here')).toMatchObject({ available: false, why: expect.stringMatching(target.bareWhy) });
  }, 120_000);

  it('1,000 live grants on one server (two catalog databases there): each sweep samples it with ONE query', async () => {
    const [a, b] = target.entries;
    const requester = { platform: 'cli' as const, id: 'email:load@example.com', email: 'load@example.com' };
    const created = Date.now();
    await store.transaction(async (tx) => {
      for (let i = 0; i < 1_000; i++) {
        const database = i % 2 === 0 ? a.name : b.name;
        const req = await tx.createRequest({
          requester,
          database,
          level: 'read',
          durationMs: 3_600_000,
          reason: 'load',
          status: 'approved',
          requiredApprovals: 0,
          createdAt: created,
          approvers: [],
        });
        const g = await tx.createGrant({
          requestId: req.id,
          requester,
          database,
          level: 'read',
          username: generateUsername(`load${i}@example.com`),
          createdAt: created,
          expiresAt: created + 3_600_000,
        });
        await tx.transitionGrant(g.id, ['provisioning'], { status: 'active', activatedAt: created });
      }
    });
    expect((await store.listGrants({ statuses: ['active'] })).length).toBeGreaterThanOrEqual(1_000);

    const sweeps = 3;
    const before = await target.samplingQueries();
    const times: number[] = [];
    for (let i = 0; i < sweeps; i++) {
      now = Date.now() + i;
      const t0 = performance.now();
      const report = await sweeper().sweep();
      times.push(performance.now() - t0);
      expect(report.targetsUnreachable).toEqual([]);
    }
    const after = await waitFor('the server statistics to count the sampling queries', async () => {
      const n = await target.samplingQueries();
      return n.calls - before.calls >= sweeps ? n : undefined;
    });
    expect(after.calls - before.calls).toBe(sweeps);
    console.log(
      `${_label}: ${sweeps} sweeps with 1,000 live grants → ${after.calls - before.calls} sampling queries, ${(
        (after.totalMs - before.totalMs) /
        sweeps
      ).toFixed(2)} ms each on the server; whole sweep ms ${times.map((t) => t.toFixed(0)).join(', ')}`,
    );
  }, 180_000);
});
