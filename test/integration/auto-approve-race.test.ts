/**
 * The auto-approval budget holds under concurrency: requests of one person racing for the last auto-approval of
 * the day are counted again in the approving transaction, under the person's lock, so exactly one takes it and the
 * others go to people, saying why. PostgreSQL state store (concurrent transactions; SQLite's are serial), the
 * real PagerDuty client against its local double.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCatalog } from '../../src/config/catalog.js';
import type { CoreDeps } from '../../src/core/deps.js';
import type { Actor } from '../../src/core/model.js';
import { requestAccess } from '../../src/core/asking.js';
import { VendorIncidents } from '../../src/oncall/incidents.js';
import { PagerDutyClient } from '../../src/oncall/pagerduty.js';
import { ApproverResolver } from '../../src/oncall/resolver.js';
import { migrateLatest, openStateStore, type OpenStateStore } from '../../src/store/index.js';
import { startPagerDutyDouble, type PagerDutyDouble } from '../../dev/oncall/pagerduty-double.js';
import { coreDeps } from '../support/core-deps.js';
import { recordingNotifier } from '../support/notifiers.js';

const SERVER = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' };
const DB = `dbaccess_autorace_${process.pid}`;
const priya: Actor = { platform: 'slack', id: 'U0PRIYA', email: 'priya@example.com', name: 'priya' };

const CATALOG = `
databases:
  - name: orders
    engine: postgres
    host: 127.0.0.1
    port: 5432
    database: postgres
    admin: { user: postgres, password: unused }
    levels:
      read: { roles: [pg_read_all_data] }
      write: { roles: [pg_write_all_data] }
      audit: { roles: [pg_read_all_stats] }
    maxDuration: 4h
    limits: { activeGrantsPerPerson: 5, pendingRequestsPerPerson: 5 }
    approval:
      approvers: [{ email: dba-lead@example.com }]
      autoApprove:
        - { levels: [read, write, audit], maxDuration: 1h, requesterOnCall: { pagerduty: { schedule: PPRIMARY } }, budget: 1 }
  - name: payments
    engine: postgres
    host: 127.0.0.1
    port: 5432
    database: postgres
    admin: { user: postgres, password: unused }
    levels:
      read: { roles: [pg_read_all_data] }
      write: { roles: [pg_write_all_data] }
      audit: { roles: [pg_read_all_stats] }
    limits: { activeGrantsPerPerson: 1, pendingRequestsPerPerson: 5 }
    approval:
      approvers: [{ email: dba-lead@example.com }]
      autoApprove:
        - { maxDuration: 1h, whenResponding: true, budget: 5 }
`;

async function onServer(sql: string): Promise<void> {
  const c = new pg.Client(SERVER);
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

describe('auto-approval budget under concurrency (PostgreSQL state store)', () => {
  let pd: PagerDutyDouble;
  let store: OpenStateStore;
  let deps: CoreDeps;

  beforeAll(async () => {
    pd = await startPagerDutyDouble({ token: 'pd-token' });
    pd.setOnCall('PPRIMARY', [{ email: priya.email! }]);
    await onServer(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
    await onServer(`CREATE DATABASE ${DB}`);
    const url = `postgres://postgres@127.0.0.1:5432/${DB}`;
    await migrateLatest(url);
    store = await openStateStore(url);
    const clock = { now: () => Date.now() };
    const pagerduty = new PagerDutyClient({ token: 'pd-token', apiUrl: pd.url, clock, ttlMs: 60_000 });
    deps = coreDeps(parseCatalog(CATALOG, {}), store, {
      notifier: recordingNotifier(),
      clock,
      enqueued: [],
      approvers: new ApproverResolver(undefined, clock, { pagerduty }, 60_000),
      incidents: new VendorIncidents({ pagerduty }),
    });
  }, 60_000);

  afterAll(async () => {
    await deps?.engines.close();
    await store?.close();
    await pd?.stop();
    await onServer(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`).catch(() => undefined);
  });

  it('three requests racing for a budget of one: one auto-approved, two sent to people with the reason', async () => {
    const levels = ['read', 'write', 'audit'];
    const reqs = await Promise.all(
      levels.map((level) =>
        requestAccess(deps, priya, { database: 'orders', level, duration: '30m', reason: 'INC-7 racing' }),
      ),
    );
    expect(reqs.filter((r) => r.status === 'approved')).toHaveLength(1);
    const pending = reqs.filter((r) => r.status === 'pending');
    expect(pending).toHaveLength(2);
    for (const r of pending) {
      const why = (await store.listAudit({ requestId: r.id, type: 'request.created' }))[0]!.detail
        .autoApprove as string[];
      expect(why).toEqual(['rule 1: daily auto-approval budget used (1 of 1 in the last 24 h)']);
    }
    expect(await store.listAudit({ type: 'request.auto_approved' })).toHaveLength(1);
  }, 30_000);

  it('an incident responder racing three levels with a limit of one live grant: one approved, the others refused under the lock', async () => {
    pd.setIncident('PRACE01', { status: 'triggered', assignees: [{ email: priya.email! }] });
    const outcomes = await Promise.allSettled(
      ['read', 'write', 'audit'].map((level) =>
        requestAccess(deps, priya, {
          database: 'payments',
          level,
          duration: '30m',
          reason: 'racing',
          incident: 'PRACE01',
        }),
      ),
    );
    const approved = outcomes.filter((o) => o.status === 'fulfilled' && o.value.status === 'approved');
    expect(approved).toHaveLength(1);
    const refused = outcomes.filter((o) => o.status === 'rejected');
    expect(refused).toHaveLength(2);
    for (const r of refused) expect(String((r as PromiseRejectedResult).reason)).toMatch(/limit is 1/);
    const live = await store.listGrants({ statuses: ['provisioning', 'active'], database: 'payments' });
    expect(live).toHaveLength(1);
    expect((await store.getRequest(live[0]!.requestId))!.incidentId).toBe('PRACE01');
  }, 30_000);
});
