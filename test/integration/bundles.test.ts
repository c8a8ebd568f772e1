/** Bundle requests and their approval on the real SQLite store: validation, limits re-checked under the person's
 *  lock when the bundle is approved, one grant per member, the audit. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCatalog } from '../../src/config/catalog.js';
import type { CoreDeps } from '../../src/core/deps.js';
import { BrokerError } from '../../src/core/errors.js';
import type { Actor } from '../../src/core/model.js';
import { createAdminGrant, requestAccess } from '../../src/core/asking.js';
import { approve } from '../../src/core/deciding.js';
import { migrateLatest, openStateStore, type OpenStateStore } from '../../src/store/index.js';
import { tempSqliteUrl } from '../support/catalog.js';
import { coreDeps } from '../support/core-deps.js';

const catalog = parseCatalog(
  `databases:
  - name: orders
    engine: postgres
    host: 127.0.0.1
    database: orders
    admin: { user: jit_admin, password: x }
    levels: { read: { roles: [orders_read] }, write: { roles: [orders_write] } }
    maxDuration: 4h
    approval: { approvers: [{ email: dba@example.com }] }
  - name: billing
    engine: mysql
    host: 127.0.0.1
    database: billing
    admin: { user: jit_admin, password: x }
    levels: { read: { roles: [billing_read] } }
    maxDuration: 2h
    limits: { pendingRequestsPerPerson: 1 }
    approval: { approvers: [{ email: dba@example.com }] }
bundles:
  - name: kit
    members: [{ database: orders, level: read }, { database: billing, level: read }]
    approval: { required: 1, approvers: [{ email: bob@example.com }] }
`,
  {},
);

const alice: Actor = { platform: 'slack', id: 'UALICE', email: 'alice@example.com', name: 'alice' };
const dana: Actor = { platform: 'slack', id: 'UDANA', email: 'dana@example.com', name: 'dana' };
const erin: Actor = { platform: 'slack', id: 'UERIN', email: 'erin@example.com', name: 'erin' };
const bob: Actor = { platform: 'slack', id: 'UBOB', email: 'bob@example.com', name: 'bob' };
const dba: Actor = { platform: 'slack', id: 'UDBA', email: 'dba@example.com', name: 'dba' };
const kit = { database: 'kit', level: '', duration: '1h', reason: 'INC-1 both' };

async function refusal(p: Promise<unknown>): Promise<BrokerError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BrokerError);
  return err as BrokerError;
}

describe('bundles', () => {
  let store: OpenStateStore;
  let deps: CoreDeps;
  const enqueued: number[] = [];

  beforeAll(async () => {
    const url = tempSqliteUrl();
    await migrateLatest(url);
    store = await openStateStore(url);
    deps = coreDeps(catalog, store, { enqueued });
  });
  afterAll(async () => {
    await deps.engines.close();
    await store.close();
  });

  it('refuses a duration over the smallest member maximum, a level, break-glass and an incident; nothing is filed', async () => {
    const before = (await store.listRequests({})).length;
    const long = await refusal(requestAccess(deps, alice, { ...kit, duration: '3h' }));
    expect(long.code).toBe('DURATION_TOO_LONG');
    expect(long.message).toMatch(/billing's maximum of 2h/);
    expect((await refusal(requestAccess(deps, alice, { ...kit, level: 'read' }))).message).toMatch(/takes no level/);
    // A database without a level (what the bundle form gives a database name) is told its levels.
    const noLevel = await refusal(requestAccess(deps, alice, { ...kit, database: 'orders' }));
    expect([noLevel.code, noLevel.message]).toEqual(['UNKNOWN_LEVEL', 'name a level for orders: read, write']);
    expect((await refusal(requestAccess(deps, alice, kit, { breakGlass: true }))).code).toBe('FORBIDDEN');
    // An administrator's direct grant names one database.
    const admin = await refusal(createAdminGrant(deps, dba, alice, { ...kit, level: 'read' }));
    expect(admin.message).toMatch(/"kit" is a bundle, not a database/);
    expect((await refusal(requestAccess(deps, alice, { ...kit, incident: 'PABC123' }))).code).toBe('INVALID_INPUT');
    expect((await store.listRequests({})).length).toBe(before);
  });

  it('is decided by the bundle approvers only; its approval opens one approved request and grant per member', async () => {
    const req = await requestAccess(deps, alice, kit);
    expect(req).toMatchObject({ status: 'pending', database: 'kit', level: '', requiredApprovals: 1 });
    expect(req.approvers.map((a) => a.email)).toEqual(['bob@example.com']);
    const created = await store.listAudit({ requestId: req.id, type: 'request.created' });
    expect(created[0]!.detail).toMatchObject({
      bundle: 'kit',
      members: [
        { database: 'orders', level: 'read' },
        { database: 'billing', level: 'read' },
      ],
    });
    // The members' own approver is not the bundle's.
    expect((await refusal(approve(deps, req.id, dba))).code).toBe('FORBIDDEN');
    const res = await approve(deps, req.id, bob);
    expect(res.status).toBe('approved');
    const members = await store.listRequests({ partOf: req.id });
    expect(members.map((m) => [m.database, m.level, m.status, m.durationMs])).toEqual([
      ['orders', 'read', 'approved', 3_600_000],
      ['billing', 'read', 'approved', 3_600_000],
    ]);
    const grants = await Promise.all(members.map(async (m) => (await store.getGrantByRequest(m.id))!));
    expect(grants.map((g) => g.database)).toEqual(['orders', 'billing']);
    expect(enqueued).toEqual(expect.arrayContaining(grants.map((g) => g.id)));
    const approved = await store.listAudit({ requestId: req.id, type: 'request.approved' });
    expect(approved[0]!.detail).toMatchObject({
      bundle: 'kit',
      members: grants.map((g) => ({ database: g.database, requestId: g.requestId, grantId: g.id })),
    });
    // A second bundle while those grants live: refused at once (the same level is held on each member).
    expect((await refusal(requestAccess(deps, alice, kit))).message).toMatch(/already hold read on orders/);
  });

  it('a member level given meanwhile refuses the approval inside its transaction: nothing is written', async () => {
    const req = await requestAccess(deps, dana, kit);
    await createAdminGrant(deps, dba, dana, {
      database: 'billing',
      level: 'read',
      duration: '1h',
      reason: 'meanwhile',
    });
    const err = await refusal(approve(deps, req.id, bob));
    expect(err.code).toBe('FORBIDDEN');
    expect(err.message).toMatch(/already holds read on billing/);
    expect((await store.getRequest(req.id))!.status).toBe('pending');
    expect(await store.listRequests({ partOf: req.id })).toEqual([]);
    expect(await store.listApprovals(req.id)).toEqual([]);
  });

  it('pending bundle requests are held to the strictest member limit', async () => {
    await requestAccess(deps, erin, kit);
    expect((await refusal(requestAccess(deps, erin, kit))).message).toMatch(/1 request\(s\) waiting on kit/);
  });
});
