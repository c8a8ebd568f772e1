/** Request → decision use cases on the real SQLite store: self-approval, N-of-M, races, deny, validation. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCatalog } from '../../src/config/catalog.js';
import type { CoreDeps } from '../../src/core/deps.js';
import { BrokerError } from '../../src/core/errors.js';
import type { Actor } from '../../src/core/model.js';
import { requestAccess, validateRequest } from '../../src/core/asking.js';
import { approve, deny } from '../../src/core/deciding.js';
import { cappedBackoff } from '../../src/jobs/worker.js';
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
    maxDuration: 2h
    limits: { pendingRequestsPerPerson: 20 }   # these cases file many requests as alice and leave them pending
    approval:
      approvers: [{ email: BOB@example.com }, { slackUser: UCAROL }, { slackUser: U0 }, { slackUser: U1 }, { slackUser: U2 }, { slackUser: U3 }, { slackUser: U4 }, { slackUser: U5 }]
  - name: billing
    engine: mysql
    host: 127.0.0.1
    database: billing
    admin: { user: jit_admin, password: x }
    levels: { read: { roles: [billing_read] } }
    approval: { required: 2, approvers: [{ email: bob@example.com }, { slackUser: UCAROL }] }
`,
  {},
);

const alice: Actor = { platform: 'slack', id: 'UALICE', email: 'alice@example.com', name: 'alice' };
const bob: Actor = { platform: 'slack', id: 'UBOB', email: 'bob@example.com', name: 'bob' };
const carol: Actor = { platform: 'slack', id: 'UCAROL', email: 'carol@example.com', name: 'carol' };
const input = { database: 'orders', level: 'read', duration: '1h', reason: 'INC-1' };

async function code(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BrokerError);
  return (err as BrokerError).code;
}

describe('requests and decisions', () => {
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

  it('validation names the field and lists the valid choices', () => {
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e as BrokerError;
      }
      throw new Error('no error');
    };
    expect(err(() => validateRequest(deps, { ...input, database: 'nope' })).details).toEqual({
      field: 'database',
      valid: ['orders', 'billing'],
    });
    expect(err(() => validateRequest(deps, { ...input, level: 'admin' })).details).toEqual({
      field: 'level',
      valid: ['read', 'write'],
    });
    expect(err(() => validateRequest(deps, { ...input, duration: '3h' })).code).toBe('DURATION_TOO_LONG');
    expect(err(() => validateRequest(deps, { ...input, duration: 'soon' })).details.field).toBe('duration');
    expect(err(() => validateRequest(deps, { ...input, reason: '  ' })).details.field).toBe('reason');
  });

  it('someone who is not an approver is refused at click time; nothing changes', async () => {
    const req = await requestAccess(deps, alice, input);
    const mallory: Actor = { platform: 'slack', id: 'UMALLORY', email: 'mallory@example.com' };
    expect(await code(approve(deps, req.id, mallory))).toBe('FORBIDDEN');
    expect(await code(deny(deps, req.id, mallory, 'no'))).toBe('FORBIDDEN');
    expect((await store.getRequest(req.id))!.status).toBe('pending');
    expect(await store.listApprovals(req.id)).toEqual([]);
    // The requester's email matches an approver (bob), matched case-insensitively, so bob can approve.
    expect((await store.getRequest(req.id))!.approvers.map((a) => a.id)).toContain('bob@example.com');
  });

  it('a database without approvers refuses requests at once', async () => {
    const bare = parseCatalog(
      'databases:\n  - { name: bare, engine: postgres, host: 127.0.0.1, database: d, admin: { user: a, password: x }, levels: { read: { roles: [r] } } }\n',
      {},
    );
    const err = await requestAccess({ ...deps, catalog: bare }, alice, { ...input, database: 'bare' }).then(
      () => undefined,
      (e: unknown) => e as BrokerError,
    );
    expect(err?.code).toBe('FORBIDDEN');
    expect(err?.message).toContain('no approvers configured');
  });

  it('the requester cannot approve their own request; nothing changes', async () => {
    const req = await requestAccess(deps, alice, input);
    expect(await code(approve(deps, req.id, alice))).toBe('SELF_APPROVAL');
    expect((await store.getRequest(req.id))!.status).toBe('pending');
    expect(await store.listApprovals(req.id)).toEqual([]);
  });

  it('one approval approves a 1-of-M request and writes the grant before any DDL, then enqueues provisioning', async () => {
    const req = await requestAccess(deps, alice, input);
    const res = await approve(deps, req.id, bob);
    expect(res.status).toBe('approved');
    if (res.status !== 'approved') return;
    expect(res.grant).toMatchObject({ status: 'provisioning', requestId: req.id, database: 'orders', level: 'read' });
    expect(res.grant.username).toMatch(/^jit_alice_[a-z0-9]{8}$/);
    expect(res.grant.expiresAt - res.grant.createdAt).toBe(3_600_000);
    expect(enqueued).toContain(res.grant.id);
    expect(await code(approve(deps, req.id, carol))).toBe('ALREADY_DECIDED');
  });

  it('2-of-M needs two distinct approvers; the same approver twice counts once', async () => {
    const req = await requestAccess(deps, alice, { ...input, database: 'billing' });
    expect(await approve(deps, req.id, bob)).toMatchObject({ status: 'pending', approvals: 1, required: 2 });
    expect(await code(approve(deps, req.id, bob))).toBe('ALREADY_DECIDED');
    expect((await store.getRequest(req.id))!.status).toBe('pending');
    const done = await approve(deps, req.id, carol);
    expect(done.status).toBe('approved');
    expect(done.request.decisionNote).toBe('approved by bob, carol');
  });

  it('ten concurrent approvals (repeats and different approvers) make exactly one grant', async () => {
    // Someone who holds no grant yet (alice's earlier grants are still provisioning: no worker runs here).
    const zed: Actor = { platform: 'slack', id: 'UZED', email: 'zed@example.com', name: 'zed' };
    const req = await requestAccess(deps, zed, input);
    const approvers = [
      bob,
      bob,
      carol,
      carol,
      ...Array.from({ length: 6 }, (_, i) => ({ platform: 'slack' as const, id: `U${i}` })),
    ];
    const results = await Promise.allSettled(approvers.map((a) => approve(deps, req.id, a)));
    const approved = results.filter((r) => r.status === 'fulfilled' && r.value.status === 'approved');
    expect(approved).toHaveLength(1);
    for (const r of results)
      if (r.status === 'rejected') expect((r.reason as BrokerError).code).toBe('ALREADY_DECIDED');
    expect((await store.listGrants({})).filter((g) => g.requestId === req.id)).toHaveLength(1);
    expect(await store.listAudit({ requestId: req.id, type: 'request.approved' })).toHaveLength(1);
  });

  it('deny needs a reason, ends the request and blocks later approvals', async () => {
    const yan: Actor = { platform: 'slack', id: 'UYAN', email: 'yan@example.com', name: 'yan' };
    const req = await requestAccess(deps, yan, input);
    expect(await code(deny(deps, req.id, bob, ' '))).toBe('INVALID_INPUT');
    const { request: denied } = await deny(deps, req.id, bob, 'not during the freeze');
    expect(denied.status).toBe('denied');
    expect(denied.decisionNote).toBe('denied by bob: not during the freeze');
    expect(await code(approve(deps, req.id, carol))).toBe('ALREADY_DECIDED');
    expect(await store.getGrantByRequest(req.id)).toBeUndefined();
  });
});

describe('revocation backoff', () => {
  it('grows, is capped, and never stops', () => {
    expect(cappedBackoff(1, 60_000)).toBeLessThanOrEqual(1_200);
    expect(cappedBackoff(3, 60_000)).toBeGreaterThanOrEqual(3_200);
    for (const n of [10, 100, 10_000, Number.MAX_SAFE_INTEGER]) {
      const ms = cappedBackoff(n, 60_000);
      expect(ms).toBeGreaterThanOrEqual(48_000);
      expect(ms).toBeLessThanOrEqual(72_000);
    }
  });
});
