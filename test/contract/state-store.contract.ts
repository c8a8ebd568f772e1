/**
 * The StateStore contract (src/core/ports.ts). Every state-store dialect runs this suite against a real database:
 * SQLite (a temp file), PostgreSQL and MariaDB/MySQL (a fresh database each). Tests share one database, so each
 * one makes its own rows (fresh requester ids, usernames) and filters by them.
 */
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatePassword, generateUsername } from '../../src/core/identifiers.js';
import { isRequester } from '../../src/core/policy.js';
import type { Actor, AuditEvent, Grant } from '../../src/core/model.js';
import type { GrantPatch, NewGrant, NewInboxAction, NewRequest, StateStore } from '../../src/core/ports.js';
import { rid, gid } from '../support/ids.js';
import { MAX_SESSIONS_PER_GRANT } from '../../src/core/ports.js';

export interface TableContents {
  columns: string[];
  rows: Array<Record<string, unknown>>;
}

export interface StateStoreSubject {
  /** The store under test, on a migrated, otherwise empty database. */
  store: StateStore;
  /** A second store with its own connections on the same database: races across processes. */
  second?: StateStore;
  /** Columns and rows of every table in the database (no-secrets checks). */
  tables?(): Promise<Record<string, TableContents>>;
  /**
   * Capability: the store's tables are SQL tables reachable through its `knex`, which the audit-chain case uses to
   * tamper with rows as an intruder with database access would. Default true; false (an in-memory store has no
   * tables to reach around it) skips that one case, and the store's own suite must tamper with its rows instead.
   */
  knexTables?: boolean;
  /** Closes the stores; may drop the database. */
  teardown(): Promise<void>;
}

let seq = 0;
const uniq = () => `${Date.now().toString(36)}${(seq++).toString(36)}${Math.random().toString(36).slice(2, 6)}`;

/** 2031-01-02T03:04:05.678Z: an exact millisecond past 2^31 seconds. */
const T0 = Date.UTC(2031, 0, 2, 3, 4, 5, 678);
const MIN = 60_000;

function actor(over: Partial<Actor> = {}): Actor {
  return { platform: 'slack', id: `U${uniq().toUpperCase()}`, ...over };
}

function newRequest(over: Partial<NewRequest> = {}): NewRequest {
  return {
    requester: actor({ email: 'ada@example.com', name: 'Ada' }),
    database: 'orders-prod',
    level: 'read',
    durationMs: 30 * MIN,
    reason: 'investigating a stuck order',
    status: 'pending',
    requiredApprovals: 1,
    createdAt: T0,
    approvers: [],
    tier: 0,
    breakGlass: false,
    ...over,
  } as NewRequest;
}

function newGrant(requestId: number, requester: Actor, over: Partial<NewGrant> = {}): NewGrant {
  return {
    requestId: rid(requestId),
    requester,
    database: 'orders-prod',
    level: 'read',
    username: generateUsername('contract@example.com'),
    createdAt: T0,
    expiresAt: T0 + 30 * MIN,
    ...over,
  };
}

export function stateStoreContract(name: string, makeStore: () => Promise<StateStoreSubject>): void {
  describe(`StateStore contract: ${name}`, () => {
    let fx: StateStoreSubject;
    let store: StateStore;
    /** Alternates between the two stores when there are two. */
    const pick = (i: number): StateStore => (i % 2 === 1 && fx.second ? fx.second : store);

    beforeAll(async () => {
      fx = await makeStore();
      store = fx.store;
    }, 60_000);

    afterAll(async () => {
      await fx?.teardown();
    }, 60_000);

    async function requestWithGrant(over: Partial<NewGrant> = {}, requester = actor()) {
      const req = await store.createRequest(newRequest({ requester }));
      const grant = await store.createGrant(newGrant(req.id, requester, over));
      return { req, grant };
    }

    async function activeGrant(over: Partial<NewGrant> = {}, requester = actor()): Promise<Grant> {
      const { grant } = await requestWithGrant(over, requester);
      expect(await store.transitionGrant(grant.id, ['provisioning'], { status: 'active', activatedAt: T0 + 1 })).toBe(
        true,
      );
      return (await store.getGrant(grant.id))!;
    }

    // --- requests ---------------------------------------------------------------------------------------------

    describe('requests', () => {
      it('createRequest returns the stored request with a fresh integer id; getRequest reads it back', async () => {
        const full = newRequest({ ticket: 'OPS-1234', requiredApprovals: 2 });
        const a = await store.createRequest(full);
        const b = await store.createRequest(newRequest({ requester: actor({ platform: 'teams' }) }));
        expect(Number.isInteger(a.id)).toBe(true);
        expect(b.id).toBeGreaterThan(a.id);
        expect(a).toStrictEqual({ ...full, id: a.id });
        expect(await store.getRequest(a.id)).toStrictEqual(a);
        const readB = await store.getRequest(b.id);
        expect(readB).toStrictEqual(b);
        // Absent optional fields come back absent, not null.
        expect(Object.keys(readB!)).not.toContain('ticket');
        expect(Object.keys(readB!)).not.toContain('decidedAt');
        expect(Object.keys(readB!.requester)).toEqual(['platform', 'id']);
        expect(await store.getRequest(rid(a.id + 1_000_000))).toBeUndefined();
      });

      it('stores who asked for someone else beside the person it is for; absent when they asked for themselves', async () => {
        const alice = actor({ platform: 'slack', id: 'UALICE', email: 'alice@example.com', name: 'Alice' });
        const bob = actor({ platform: 'teams', id: 'aad-bob' });
        const proxied = await store.createRequest(newRequest({ requester: alice, askedBy: bob }));
        expect(proxied.askedBy).toStrictEqual(bob);
        expect(proxied.requester).toStrictEqual(alice);
        expect(await store.getRequest(proxied.id)).toStrictEqual(proxied);
        // The person it is for is who the request is filed under: the limits count them, not the asker.
        const forAlice = await store.listRequests({ requestedBy: alice });
        expect(forAlice.map((r) => r.id)).toContain(proxied.id);
        expect((await store.listRequests({ requestedBy: bob })).map((r) => r.id)).not.toContain(proxied.id);
        const own = await store.createRequest(newRequest({ requester: alice }));
        expect(Object.keys((await store.getRequest(own.id))!)).not.toContain('askedBy');
      });

      it('links the member requests of a bundle request to it, and lists them by it', async () => {
        const bundle = await store.createRequest(newRequest({ database: 'incident-kit', level: '' }));
        const a = await store.createRequest(newRequest({ database: 'orders', partOf: bundle.id, status: 'approved' }));
        const b = await store.createRequest(newRequest({ database: 'billing', partOf: bundle.id, status: 'approved' }));
        const other = await store.createRequest(newRequest({ database: 'orders' }));
        expect((await store.getRequest(a.id))!.partOf).toBe(bundle.id);
        expect((await store.listRequests({ partOf: bundle.id })).map((r) => r.id)).toStrictEqual([a.id, b.id]);
        expect(Object.keys((await store.getRequest(other.id))!)).not.toContain('partOf');
        expect(await store.listRequests({ partOf: other.id })).toStrictEqual([]);
      });

      it('stores approvers, unavailable sources, the approval deadline and the grant an extension targets', async () => {
        const approvers = [
          {
            platform: 'slack' as const,
            id: 'UBOB',
            email: 'bob@example.com',
            name: 'Bob',
            via: 'slack user group S0DBAS',
          },
          { platform: 'email' as const, id: 'dba@example.com', via: 'email' },
        ];
        const req = await store.createRequest(
          newRequest({
            approvers,
            unavailableSources: ['pagerduty schedule P1'],
            decideBy: T0 + 30 * MIN,
            extendsGrantId: gid(7),
          }),
        );
        const back = await store.getRequest(req.id);
        expect(back?.approvers).toStrictEqual(approvers);
        expect(back?.unavailableSources).toStrictEqual(['pagerduty schedule P1']);
        expect(back?.decideBy).toBe(T0 + 30 * MIN);
        expect(back?.extendsGrantId).toBe(7);
        const due = await store.listRequests({ statuses: ['pending'], decideByOrBefore: T0 + 30 * MIN });
        expect(due.map((r) => r.id)).toContain(req.id);
        const notYet = await store.listRequests({ statuses: ['pending'], decideByOrBefore: T0 + 30 * MIN - 1 });
        expect(notYet.map((r) => r.id)).not.toContain(req.id);
      });

      it('keeps epoch milliseconds, durations and unicode text exact', async () => {
        const at = Date.UTC(2099, 11, 31, 23, 59, 59, 999);
        const reason = 'émoji 🚀 "quotes" \'single\' back\\slash\nnew line; DROP TABLE requests; --';
        const req = await store.createRequest(
          newRequest({
            createdAt: at,
            durationMs: 7 * 24 * 3_600_000 + 1,
            reason,
            requester: actor({ name: 'Zoë Ñúñez 山田', email: 'zoë@example.com' }),
          }),
        );
        const back = await store.getRequest(req.id);
        expect(back?.createdAt).toBe(at);
        expect(back?.durationMs).toBe(7 * 24 * 3_600_000 + 1);
        expect(back?.reason).toBe(reason);
        expect(back?.requester.name).toBe('Zoë Ñúñez 山田');
        expect(typeof back?.createdAt).toBe('number');
      });

      it('listRequests honours statuses, requesterId and limit, ordered by id', async () => {
        const who = actor();
        const other = actor();
        const r1 = await store.createRequest(newRequest({ requester: who }));
        const r2 = await store.createRequest(newRequest({ requester: who }));
        const r3 = await store.createRequest(newRequest({ requester: who }));
        await store.createRequest(newRequest({ requester: other }));
        expect(await store.decideRequest(r2.id, 'denied', T0 + 5, 'no')).toBe(true);

        const ids = (rs: Array<{ id: number }>) => rs.map((r) => r.id);
        expect(ids(await store.listRequests({ requesterId: who.id }))).toEqual([r1.id, r2.id, r3.id]);
        expect(ids(await store.listRequests({ requesterId: who.id, statuses: ['pending'] }))).toEqual([r1.id, r3.id]);
        expect(ids(await store.listRequests({ requesterId: who.id, statuses: ['denied', 'approved'] }))).toEqual([
          r2.id,
        ]);
        expect(ids(await store.listRequests({ requesterId: who.id, statuses: [] }))).toEqual([]);
        expect(ids(await store.listRequests({ requesterId: who.id, limit: 2 }))).toEqual([r1.id, r2.id]);
        const pending = await store.listRequests({ statuses: ['pending'] });
        expect(pending.every((r) => r.status === 'pending')).toBe(true);
        expect(ids(pending)).toEqual([...ids(pending)].sort((a, b) => a - b));
        expect(ids(pending)).toEqual(expect.arrayContaining([r1.id, r3.id]));
      });

      it('decideRequest moves a pending request once; later calls return false and change nothing', async () => {
        const req = await store.createRequest(newRequest());
        expect(await store.decideRequest(req.id, 'approved', T0 + 10, 'approved by Bob')).toBe(true);
        const decided = await store.getRequest(req.id);
        expect(decided).toMatchObject({ status: 'approved', decidedAt: T0 + 10, decisionNote: 'approved by Bob' });

        expect(await store.decideRequest(req.id, 'denied', T0 + 20, 'too late')).toBe(false);
        expect(await store.decideRequest(req.id, 'approved', T0 + 30)).toBe(false);
        expect(await store.getRequest(req.id)).toStrictEqual(decided);

        const quiet = await store.createRequest(newRequest());
        expect(await store.decideRequest(quiet.id, 'expired', T0 + 40)).toBe(true);
        const expired = await store.getRequest(quiet.id);
        expect(expired?.status).toBe('expired');
        expect(expired && 'decisionNote' in expired).toBe(false);
      });

      it('decideRequest of an unknown request is false', async () => {
        expect(await store.decideRequest(rid(987_654_321), 'approved', T0)).toBe(false);
      });

      it('10 concurrent decideRequest on one request: exactly one wins, and its decision is the one stored', async () => {
        const req = await store.createRequest(newRequest());
        const statuses = ['approved', 'denied', 'cancelled', 'expired'] as const;
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            pick(i).decideRequest(req.id, statuses[i % statuses.length]!, T0 + i, `decider ${i}`),
          ),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
        const winner = results.indexOf(true);
        expect(await store.getRequest(req.id)).toMatchObject({
          status: statuses[winner % statuses.length],
          decidedAt: T0 + winner,
          decisionNote: `decider ${winner}`,
        });
      });
    });

    // --- approvals --------------------------------------------------------------------------------------------

    describe('approvals', () => {
      it('recordDecidingApproval: recorded and decided together; a second approver, a late one, a decided request', async () => {
        const bob = actor({ name: 'Bob', email: 'bob@example.com' });
        const carol = actor({ name: 'Carol' });
        const req = await store.createRequest(newRequest({ decideBy: T0 + 10 * MIN }));
        const mine = { requestId: req.id, approver: bob, decision: 'approve' as const, note: 'ok', at: T0 + 1 };
        expect(await store.recordDecidingApproval(mine, 'approved by Bob')).toEqual({ recorded: true, decided: true });
        expect(await store.getRequest(req.id)).toMatchObject({
          status: 'approved',
          decidedAt: T0 + 1,
          decisionNote: 'approved by Bob',
        });
        expect(await store.listApprovals(req.id)).toStrictEqual([mine]);
        // The same approver again: nothing changes.
        expect(await store.recordDecidingApproval({ ...mine, at: T0 + 2 }, 'again')).toEqual({
          recorded: false,
          decided: false,
        });
        // Another approver of a request already decided: recorded, not decided (the caller rolls it back).
        await expect(
          store.transaction(async (tx) => {
            expect(
              await tx.recordDecidingApproval({ ...mine, approver: carol, at: T0 + 3 }, 'approved by Carol'),
            ).toEqual({ recorded: true, decided: false });
            throw new Error('roll back');
          }),
        ).rejects.toThrow('roll back');
        expect((await store.listApprovals(req.id)).map((a) => a.approver.id)).toEqual([bob.id]);
        // At or past the approval deadline: not decided, the request stays pending.
        const late = await store.createRequest(newRequest({ decideBy: T0 + 10 * MIN }));
        expect(
          await store.recordDecidingApproval({ ...mine, requestId: late.id, at: T0 + 10 * MIN }, 'approved by Bob'),
        ).toEqual({ recorded: true, decided: false });
        expect((await store.getRequest(late.id))?.status).toBe('pending');
      });

      it('recordApproval keeps one row per approver; a duplicate is false and changes nothing', async () => {
        const req = await store.createRequest(newRequest({ requiredApprovals: 2 }));
        const bob = actor({ name: 'Bob', email: 'bob@example.com' });
        const carol = actor({ platform: 'teams' });
        expect(await store.recordApproval({ requestId: req.id, approver: bob, decision: 'approve', at: T0 + 1 })).toBe(
          true,
        );
        expect(
          await store.recordApproval({
            requestId: req.id,
            approver: bob,
            decision: 'deny',
            note: 'changed',
            at: T0 + 2,
          }),
        ).toBe(false);
        expect(
          await store.recordApproval({ requestId: req.id, approver: carol, decision: 'deny', note: 'no', at: T0 + 3 }),
        ).toBe(true);
        expect(await store.listApprovals(req.id)).toStrictEqual([
          { requestId: req.id, approver: bob, decision: 'approve', at: T0 + 1 },
          { requestId: req.id, approver: carol, decision: 'deny', note: 'no', at: T0 + 3 },
        ]);
        expect(await store.listApprovals(rid(req.id + 1_000_000))).toEqual([]);
        // Many requests' approvals in one read: only theirs, in id order.
        const other = await store.createRequest(newRequest());
        const third = await store.createRequest(newRequest());
        expect(
          await store.recordApproval({ requestId: other.id, approver: bob, decision: 'approve', at: T0 + 4 }),
        ).toBe(true);
        expect(
          await store.recordApproval({ requestId: third.id, approver: bob, decision: 'approve', at: T0 + 5 }),
        ).toBe(true);
        const both = await store.listApprovalsFor([other.id, req.id]);
        expect(both.map((a) => [a.requestId, a.approver.id])).toEqual([
          [req.id, bob.id],
          [req.id, carol.id],
          [other.id, bob.id],
        ]);
        expect(await store.listApprovalsFor([])).toEqual([]);
        expect((await store.listRequests({ ids: [third.id, other.id] })).map((r) => r.id)).toEqual([
          other.id,
          third.id,
        ]);
      });

      it('a duplicate recordApproval inside a transaction does not abort it', async () => {
        const req = await store.createRequest(newRequest());
        const bob = actor();
        await store.recordApproval({ requestId: req.id, approver: bob, decision: 'approve', at: T0 });
        const out = await store.transaction(async (tx) => {
          const dup = await tx.recordApproval({ requestId: req.id, approver: bob, decision: 'approve', at: T0 + 1 });
          // Every later statement of the transaction must still work (PostgreSQL aborts a transaction on an error).
          const decided = await tx.decideRequest(req.id, 'approved', T0 + 2, 'approved by Bob');
          const grant = await tx.createGrant(newGrant(req.id, req.requester));
          await tx.appendAudit([
            { at: T0 + 2, type: 'request.approved', actor: bob, requestId: req.id, detail: { duplicate: dup } },
          ]);
          return { dup, decided, grant };
        });
        expect(out.dup).toBe(false);
        expect(out.decided).toBe(true);
        expect((await store.getRequest(req.id))?.status).toBe('approved');
        expect(await store.getGrantByRequest(req.id)).toStrictEqual(out.grant);
        expect(await store.listApprovals(req.id)).toHaveLength(1);
        expect((await store.listAudit({ requestId: req.id }))[0]?.detail).toEqual({ duplicate: false });
      });

      it('10 concurrent identical approvals: exactly one is recorded', async () => {
        const req = await store.createRequest(newRequest());
        const bob = actor();
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            pick(i).recordApproval({ requestId: req.id, approver: bob, decision: 'approve', at: T0 + i }),
          ),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await store.listApprovals(req.id)).toHaveLength(1);
      });

      it('recordApproval for a request that does not exist throws', async () => {
        await expect(
          store.recordApproval({ requestId: rid(987_654_321), approver: actor(), decision: 'approve', at: T0 }),
        ).rejects.toThrow();
      });
    });

    // --- people -----------------------------------------------------------------------------------------------

    describe('people', () => {
      it('one person, one approval: the same email from Slack and Teams (any case) is refused the second time', async () => {
        const req = await store.createRequest(newRequest({ requiredApprovals: 2 }));
        const bobSlack = actor({ platform: 'slack', email: 'Bob.Person@example.com', name: 'bob' });
        const bobTeams = actor({ platform: 'teams', email: 'bob.person@EXAMPLE.com', name: 'Bob' });
        const noEmail = actor({ platform: 'teams' });
        expect(
          await store.recordApproval({ requestId: req.id, approver: bobSlack, decision: 'approve', at: T0 + 1 }),
        ).toBe(true);
        // Inside a transaction too, without aborting it.
        const out = await store.transaction(async (tx) => {
          const dup = await tx.recordApproval({
            requestId: req.id,
            approver: bobTeams,
            decision: 'approve',
            at: T0 + 2,
          });
          const other = await tx.recordApproval({
            requestId: req.id,
            approver: noEmail,
            decision: 'approve',
            at: T0 + 3,
          });
          return { dup, other };
        });
        expect(out).toEqual({ dup: false, other: true });
        expect((await store.listApprovals(req.id)).map((a) => a.approver.id)).toEqual([bobSlack.id, noEmail.id]);
        // Racing from both platforms on another request: one row.
        const next = await store.createRequest(newRequest({ requiredApprovals: 2 }));
        const results = await Promise.all(
          Array.from({ length: 6 }, (_, i) =>
            pick(i).recordApproval({
              requestId: next.id,
              approver: i % 2 ? bobTeams : bobSlack,
              decision: 'approve',
              at: T0 + i,
            }),
          ),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await store.listApprovals(next.id)).toHaveLength(1);
      });

      it('decideRequest by people happens before the approval deadline only; expiring happens after it', async () => {
        const late = await store.createRequest(newRequest({ decideBy: T0 + 100 }));
        expect(await store.decideRequest(late.id, 'approved', T0 + 100, 'too late')).toBe(false);
        expect(await store.decideRequest(late.id, 'denied', T0 + 101, 'too late')).toBe(false);
        expect((await store.getRequest(late.id))?.status).toBe('pending');
        expect(await store.decideRequest(late.id, 'expired', T0 + 101)).toBe(true);
        const onTime = await store.createRequest(newRequest({ decideBy: T0 + 100 }));
        expect(await store.decideRequest(onTime.id, 'approved', T0 + 99, 'in time')).toBe(true);
      });

      it('listRequests by person (same account, or same email from any platform) and database', async () => {
        const email = `p${uniq()}@example.com`;
        const slack = actor({ platform: 'slack', email });
        const teams = actor({ platform: 'teams', email: email.toUpperCase() });
        const bare = actor({ platform: 'slack' });
        const a = await store.createRequest(newRequest({ requester: slack, database: 'orders-prod' }));
        const b = await store.createRequest(newRequest({ requester: teams, database: 'orders-prod' }));
        await store.createRequest(newRequest({ requester: teams, database: 'billing' }));
        const c = await store.createRequest(newRequest({ requester: { ...bare } }));
        await store.createRequest(newRequest({ requester: actor({ platform: 'slack' }) }));
        const ids = (rs: Array<{ id: number }>) => rs.map((r) => r.id);
        expect(ids(await store.listRequests({ requestedBy: slack, database: 'orders-prod' }))).toEqual([a.id, b.id]);
        expect(
          ids(await store.listRequests({ requestedBy: { platform: 'teams', id: teams.id }, database: 'orders-prod' })),
        ).toEqual([b.id]);
        expect(ids(await store.listRequests({ requestedBy: bare }))).toEqual([c.id]);
      });

      it('lockPerson: a second transaction locking the same person waits until the first ends; another person does not', async () => {
        const key = `email:lock-${uniq()}@example.com`;
        const other = `email:other-${uniq()}@example.com`;
        const peer = fx.second ?? store;
        let release!: () => void;
        const held = new Promise<void>((r) => (release = r));
        let locked!: () => void;
        const isLocked = new Promise<void>((r) => (locked = r));
        const first = store.transaction(async (tx) => {
          await tx.lockPerson(key);
          locked();
          await held;
        });
        await isLocked;
        let secondDone = false;
        const second = peer.transaction(async (tx) => {
          await tx.lockPerson(key);
          secondDone = true;
        });
        // Another person's lock is not held up (SQLite runs one write transaction at a time: skipped there).
        if (fx.second) await fx.second.transaction((tx) => tx.lockPerson(other));
        // Bounded look: with the lock broken the second transaction ends within milliseconds.
        await Promise.race([second, new Promise((r) => setTimeout(r, 400))]);
        expect(secondDone).toBe(false);
        release();
        await first;
        await second;
        expect(secondDone).toBe(true);
        await expect(store.lockPerson(key)).rejects.toThrow(/transaction/);
      });
    });

    // --- grants -----------------------------------------------------------------------------------------------

    describe('grants', () => {
      it('createGrant returns the stored grant: provisioning, counters at 0, no optional field', async () => {
        const requester = actor({ email: 'ada@example.com' });
        const req = await store.createRequest(newRequest({ requester }));
        const input = newGrant(req.id, requester, { level: 'write', database: 'billing' });
        const grant = await store.createGrant(input);
        expect(grant).toStrictEqual({
          ...input,
          id: grant.id,
          status: 'provisioning',
          provisionAttempts: 0,
          revokeAttempts: 0,
        });
        expect(Number.isInteger(grant.id)).toBe(true);
        expect(await store.getGrant(grant.id)).toStrictEqual(grant);
        expect(await store.getGrantByRequest(req.id)).toStrictEqual(grant);
        expect(await store.getGrant(gid(grant.id + 1_000_000))).toBeUndefined();
        expect(await store.getGrantByRequest(rid(req.id + 1_000_000))).toBeUndefined();
      });

      it('a second grant for the same request throws, and so does a username already taken', async () => {
        const { req, grant } = await requestWithGrant();
        await expect(store.createGrant(newGrant(req.id, req.requester))).rejects.toThrow();
        const other = await store.createRequest(newRequest());
        await expect(
          store.createGrant(newGrant(other.id, other.requester, { username: grant.username })),
        ).rejects.toThrow();
        expect(await store.getGrantByRequest(other.id)).toBeUndefined();
        expect(await store.listGrants({ ids: [grant.id] })).toStrictEqual([grant]);
      });

      it('two concurrent createGrant for one request: one succeeds, the other throws', async () => {
        const req = await store.createRequest(newRequest());
        const results = await Promise.allSettled([
          pick(0).createGrant(newGrant(req.id, req.requester)),
          pick(1).createGrant(newGrant(req.id, req.requester)),
        ]);
        const ok = results.filter((r) => r.status === 'fulfilled');
        expect(ok).toHaveLength(1);
        expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
        expect(await store.getGrantByRequest(req.id)).toStrictEqual((ok[0] as PromiseFulfilledResult<Grant>).value);
      });

      it('createGrant inside a transaction that throws leaves no grant', async () => {
        const req = await store.createRequest(newRequest());
        await expect(
          store.transaction(async (tx) => {
            await tx.createGrant(newGrant(req.id, req.requester));
            throw new Error('provisioning aborted');
          }),
        ).rejects.toThrow('provisioning aborted');
        expect(await store.getGrantByRequest(req.id)).toBeUndefined();
      });

      it('listGrants honours every filter field, ordered by id', async () => {
        const who = actor();
        const mk = async (database: string, createdAt: number, expiresAt: number) =>
          (await requestWithGrant({ database, createdAt, expiresAt }, who)).grant;
        const g1 = await mk('db-a', T0, T0 + 10 * MIN);
        const g2 = await mk('db-b', T0 + MIN, T0 + 20 * MIN);
        const g3 = await mk('db-a', T0 + 2 * MIN, T0 + 30 * MIN);
        const g4 = await mk('db-b', T0 + 3 * MIN, T0 + 40 * MIN);
        await requestWithGrant({ database: 'db-a' }); // someone else's
        expect(await store.transitionGrant(g2.id, ['provisioning'], { status: 'active' })).toBe(true);
        expect(await store.transitionGrant(g3.id, ['provisioning'], { status: 'active' })).toBe(true);
        expect(await store.transitionGrant(g4.id, ['provisioning'], { status: 'failed' })).toBe(true);

        const ids = async (f: Parameters<StateStore['listGrants']>[0]) => (await store.listGrants(f)).map((g) => g.id);
        const requesterId = who.id;
        expect(await ids({ requesterId })).toEqual([g1.id, g2.id, g3.id, g4.id]);
        expect(await ids({ requesterId, statuses: ['active'] })).toEqual([g2.id, g3.id]);
        expect(await ids({ requesterId, statuses: ['provisioning', 'failed'] })).toEqual([g1.id, g4.id]);
        expect(await ids({ requesterId, statuses: [] })).toEqual([]);
        expect(await ids({ requesterId, database: 'db-b' })).toEqual([g2.id, g4.id]);
        expect(await ids({ requesterId, expiresAtOrBefore: T0 + 20 * MIN })).toEqual([g1.id, g2.id]); // inclusive
        expect(await ids({ requesterId, expiresAtOrBefore: T0 + 20 * MIN - 1 })).toEqual([g1.id]);
        expect(await ids({ requesterId, createdAtOrBefore: T0 + MIN })).toEqual([g1.id, g2.id]); // inclusive
        expect(await ids({ ids: [g4.id, g1.id, g3.id] })).toEqual([g1.id, g3.id, g4.id]);
        expect(await ids({ ids: [] })).toEqual([]);
        expect(await ids({ requesterId, limit: 2 })).toEqual([g1.id, g2.id]);
        expect(
          await ids({
            requesterId,
            statuses: ['active', 'failed'],
            database: 'db-b',
            expiresAtOrBefore: T0 + 40 * MIN,
            createdAtOrBefore: T0 + 3 * MIN,
            ids: [g2.id, g3.id, g4.id],
            limit: 1,
          }),
        ).toEqual([g2.id]);
        const all = await store.listGrants({ requesterId });
        expect(all[1]).toStrictEqual(await store.getGrant(g2.id));
        const live = await store.listGrants({ statuses: ['active'] });
        expect(live.every((g) => g.status === 'active')).toBe(true);
        expect(live.map((g) => g.id)).toEqual([...live.map((g) => g.id)].sort((a, b) => a - b));
      });

      it('listGrants({ heldDuring }) finds the grants whose access overlapped the range, and only those', async () => {
        const who = actor();
        const grant = async (activatedAt?: number, revokedAt?: number) => {
          const { grant: g } = await requestWithGrant({ database: 'db-held' }, who);
          if (activatedAt !== undefined)
            expect(await store.transitionGrant(g.id, ['provisioning'], { status: 'active', activatedAt })).toBe(true);
          if (revokedAt !== undefined)
            expect(await store.transitionGrant(g.id, ['active'], { status: 'revoked', revokedAt })).toBe(true);
          return g.id;
        };
        const [since, until] = [T0 + 10 * MIN, T0 + 20 * MIN];
        const neverActive = await grant();
        const endedBefore = await grant(T0, since - 1);
        const endedAtStart = await grant(T0, since); // held at `since` itself
        const across = await grant(T0, until + MIN);
        const within = await grant(since + MIN, since + 2 * MIN);
        const stillLive = await grant(until - 1);
        const startsAtEnd = await grant(until); // `until` is not in the range
        const held = await store.listGrants({ requesterId: who.id, heldDuring: { since, until } });
        expect(held.map((g) => g.id)).toEqual([endedAtStart, across, within, stillLive]);
        expect([neverActive, endedBefore, startsAtEnd].some((id) => held.some((g) => g.id === id))).toBe(false);
      });

      it('listGrants({ heldBy }) finds a person by platform account or by email from any platform, as isRequester does', async () => {
        const email = `Grace.${uniq()}@Example.com`;
        const slackGrace = actor({ email });
        const mine = (await requestWithGrant({ database: 'db-held' }, slackGrace)).grant;
        // The same person on Teams, her email in another case: held by her too.
        const teamsGrace = actor({ platform: 'teams', id: slackGrace.id, email: email.toUpperCase() });
        const viaTeams = (await requestWithGrant({ database: 'db-held' }, teamsGrace)).grant;
        // Same id on another platform, no email: someone else. Another email: someone else. No email at all: only the account.
        const teamsNamesake = (
          await requestWithGrant({ database: 'db-held' }, actor({ platform: 'teams', id: slackGrace.id }))
        ).grant;
        const other = (
          await requestWithGrant({ database: 'db-held' }, actor({ email: `someone.${uniq()}@example.com` }))
        ).grant;

        const held = async (who: Actor) =>
          (await store.listGrants({ database: 'db-held', heldBy: who })).map((g) => g.id);
        expect(await held(slackGrace)).toEqual([mine.id, viaTeams.id]);
        expect(await held(teamsGrace)).toEqual([mine.id, viaTeams.id, teamsNamesake.id]);
        expect(await held({ platform: 'slack', id: slackGrace.id })).toEqual([mine.id]);
        expect(await held(actor({ email: email.toLowerCase() }))).toEqual([mine.id, viaTeams.id]);
        expect(await held(actor())).toEqual([]);
        expect(await held(actor({ email: other.requester.email }))).toEqual([other.id]);
        // Each answer agrees with isRequester over every grant of the database.
        const all = await store.listGrants({ database: 'db-held' });
        for (const who of [slackGrace, teamsGrace, actor({ email: email.toLowerCase() })]) {
          expect(await held(who)).toEqual(all.filter((g) => isRequester(who, g)).map((g) => g.id));
        }
        // With the other filters: a status the grants are not in → none.
        expect(await store.listGrants({ database: 'db-held', heldBy: slackGrace, statuses: ['active'] })).toEqual([]);
      });

      it('countGrants counts each status asked for (0 when none) and the flagged among them; countRequests likewise', async () => {
        const live = ['provisioning', 'active', 'revoking'] as const;
        const before = await store.countGrants(live);
        const requestsBefore = await store.countRequests(['pending', 'approved', 'denied']);
        expect([...before.keys()]).toEqual([...live]);
        await requestWithGrant(); // provisioning
        await activeGrant();
        await activeGrant();
        const revoking = await activeGrant();
        const flagged = await activeGrant();
        expect(await store.transitionGrant(revoking.id, ['active'], { status: 'revoking' })).toBe(true);
        expect(await store.transitionGrant(flagged.id, ['active'], { status: 'revoking', flaggedAt: T0 + 2 })).toBe(
          true,
        );
        const denied = await store.createRequest(newRequest());
        expect(await store.decideRequest(denied.id, 'denied', T0 + 3, 'no')).toBe(true);

        const after = await store.countGrants(live);
        const delta = (s: (typeof live)[number]) => ({
          count: after.get(s)!.count - before.get(s)!.count,
          flagged: after.get(s)!.flagged - before.get(s)!.flagged,
        });
        expect(delta('provisioning')).toEqual({ count: 1, flagged: 0 });
        expect(delta('active')).toEqual({ count: 2, flagged: 0 });
        expect(delta('revoking')).toEqual({ count: 2, flagged: 1 });
        // The counts are the rows: the same numbers listGrants finds.
        for (const s of live) expect(after.get(s)!.count).toBe((await store.listGrants({ statuses: [s] })).length);
        const requestsAfter = await store.countRequests(['pending', 'approved', 'denied']);
        // Five requests with grants (none decided through the store) and one denied; pending ones stay as they were.
        expect(requestsAfter.get('denied')! - requestsBefore.get('denied')!).toBe(1);
        expect(requestsAfter.get('pending')!).toBe((await store.listRequests({ statuses: ['pending'] })).length);
        const revoked = (await store.listGrants({ statuses: ['revoked'] })).length;
        expect((await store.countGrants(['revoked'])).get('revoked')!.count).toBe(revoked); // 0 included: the key is always there
        expect(await store.countGrants([])).toEqual(new Map());
      });

      it('transitionGrant returns false and changes nothing when the status is not one of `from`', async () => {
        const { grant } = await requestWithGrant();
        expect(
          await store.transitionGrant(grant.id, ['active', 'revoking'], { status: 'revoked', revokedAt: T0 }),
        ).toBe(false);
        expect(await store.getGrant(grant.id)).toStrictEqual(grant);
        expect(await store.transitionGrant(grant.id, [], { status: 'failed' })).toBe(false);
        expect(await store.transitionGrant(gid(987_654_321), ['provisioning'], { status: 'failed' })).toBe(false);
        expect(await store.getGrant(grant.id)).toStrictEqual(grant);
      });

      it('transitionGrants changes exactly the grants in one of `from` and returns their ids; concurrent calls split them', async () => {
        const a = await activeGrant();
        const b = await activeGrant();
        const { grant: c } = await requestWithGrant(); // provisioning: not in `from`
        const won = await store.transitionGrants([b.id, a.id, c.id, gid(987_654_321)], ['active'], {
          status: 'revoking',
          revokeStartedAt: T0 + 5,
        });
        expect(won).toEqual([a.id, b.id]);
        expect((await store.getGrant(a.id))!.status).toBe('revoking');
        expect((await store.getGrant(a.id))!.revokeStartedAt).toBe(T0 + 5);
        expect(await store.getGrant(c.id)).toStrictEqual(c);
        expect(await store.transitionGrants([a.id, b.id], ['active'], { status: 'revoked' })).toEqual([]);
        expect(await store.transitionGrants([], ['active'], { status: 'revoked' })).toEqual([]);
        // With expiresAtOrBefore, a grant that expires later is left alone.
        const soon = await activeGrant({ expiresAt: T0 + 1_000 });
        const later = await activeGrant({ expiresAt: T0 + 9_000 });
        expect(
          await store.transitionGrants([soon.id, later.id], ['active'], { status: 'revoking' }, T0 + 1_000),
        ).toEqual([soon.id]);
        expect((await store.getGrant(later.id))!.status).toBe('active');
        const many = await Promise.all(Array.from({ length: 6 }, () => activeGrant()));
        const ids = many.map((g) => g.id).sort((x, y) => x - y);
        const results = await Promise.all(
          [1, 2, 3].map(() => store.transitionGrants(ids, ['active'], { status: 'revoking' })),
        );
        expect(results.flat().sort((x, y) => x - y)).toEqual(ids);
        // Inside a transaction that rolls back, nothing stays changed.
        await expect(
          store.transaction(async (tx) => {
            expect(await tx.transitionGrants(ids, ['revoking'], { status: 'revoked' })).toEqual(ids);
            throw new Error('roll back');
          }),
        ).rejects.toThrow('roll back');
        expect((await store.listGrants({ ids })).every((g) => g.status === 'revoking')).toBe(true);
      });

      it('transitionGrant sets the patch; null clears a column, undefined leaves it', async () => {
        const g = await activeGrant();
        expect(
          await store.transitionGrant(g.id, ['active'], {
            status: 'revoking',
            revokeStartedAt: T0 + 100,
            revokeAttempts: 1,
            lastError: 'connection refused',
            revokeFailingSince: T0 + 100,
            endReason: 'revoked by Bob',
          }),
        ).toBe(true);
        expect(await store.getGrant(g.id)).toStrictEqual({
          ...g,
          status: 'revoking',
          revokeStartedAt: T0 + 100,
          revokeAttempts: 1,
          lastError: 'connection refused',
          revokeFailingSince: T0 + 100,
          endReason: 'revoked by Bob',
        });

        const patch: GrantPatch = {
          status: 'revoked',
          revokedAt: T0 + 200,
          revokeAttempts: 2,
          lastError: null,
          revokeFailingSince: null,
          endReason: undefined,
          flaggedAt: undefined,
        };
        expect(await store.transitionGrant(g.id, ['revoking'], patch)).toBe(true);
        const after = await store.getGrant(g.id);
        expect(after).toStrictEqual({
          ...g,
          status: 'revoked',
          revokeStartedAt: T0 + 100,
          revokedAt: T0 + 200,
          revokeAttempts: 2,
          endReason: 'revoked by Bob',
        });
        expect(after && 'lastError' in after).toBe(false);
        expect(after && 'revokeFailingSince' in after).toBe(false);
      });

      it('transitionGrant can move expiresAt and the counters while staying in the same status', async () => {
        const g = await activeGrant();
        const later = g.expiresAt + 60 * MIN;
        expect(await store.transitionGrant(g.id, ['active'], { expiresAt: later, provisionAttempts: 3 })).toBe(true);
        expect(await store.getGrant(g.id)).toStrictEqual({ ...g, expiresAt: later, provisionAttempts: 3 });
        // Setting values equal to the current ones still counts as matched.
        expect(await store.transitionGrant(g.id, ['active'], { expiresAt: later })).toBe(true);
        // An empty patch answers "is it in one of `from`?".
        expect(await store.transitionGrant(g.id, ['active'], {})).toBe(true);
        expect(await store.transitionGrant(g.id, ['revoking'], {})).toBe(false);
      });

      it('transitionGrant refuses to clear a required column or set a field the grant does not have', async () => {
        const g = await activeGrant();
        await expect(store.transitionGrant(g.id, ['active'], { status: null })).rejects.toThrow();
        await expect(store.transitionGrant(g.id, ['active'], { expiresAt: null })).rejects.toThrow();
        await expect(
          store.transitionGrant(g.id, ['active'], { password: 'x' } as unknown as GrantPatch),
        ).rejects.toThrow();
        expect(await store.getGrant(g.id)).toStrictEqual(g);
      });

      it('a very long lastError does not fail the transition', async () => {
        const g = await activeGrant();
        const long = `error: ${'é x '.repeat(10_000)} ✗`;
        expect(await store.transitionGrant(g.id, ['active'], { lastError: long, revokeAttempts: 1 })).toBe(true);
        const back = await store.getGrant(g.id);
        expect(back?.revokeAttempts).toBe(1);
        expect(long.startsWith((back?.lastError ?? '').slice(0, 1_000))).toBe(true);
        expect(back?.lastError?.length).toBeGreaterThan(1_000);
      });

      it('10 concurrent transitionGrant(active → revoking): exactly one true', async () => {
        const g = await activeGrant();
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            pick(i).transitionGrant(g.id, ['active'], { status: 'revoking', revokeStartedAt: T0 + i }),
          ),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
        const winner = results.indexOf(true);
        expect(await store.getGrant(g.id)).toMatchObject({ status: 'revoking', revokeStartedAt: T0 + winner });
      });

      it('concurrent chained transitions: active → revoking wins once, revoking → revoked at most once', async () => {
        const g = await activeGrant();
        const results = await Promise.all(
          Array.from({ length: 8 }, (_, i) =>
            i % 2 === 0
              ? pick(i).transitionGrant(g.id, ['active'], { status: 'revoking', revokeStartedAt: T0 + i })
              : pick(i).transitionGrant(g.id, ['revoking'], { status: 'revoked', revokedAt: T0 + i }),
          ),
        );
        const toRevoking = results.filter((ok, i) => ok && i % 2 === 0).length;
        const toRevoked = results.filter((ok, i) => ok && i % 2 === 1).length;
        expect(toRevoking).toBe(1);
        expect(toRevoked).toBeLessThanOrEqual(1);
        expect((await store.getGrant(g.id))?.status).toBe(toRevoked === 1 ? 'revoked' : 'revoking');
      });
    });

    // --- transactions -----------------------------------------------------------------------------------------

    describe('reminders', () => {
      it('claimReminder succeeds once per active grant, and again after remindedAt is cleared', async () => {
        const req = await store.createRequest(newRequest());
        const g = await store.createGrant({
          requestId: req.id,
          requester: req.requester,
          database: req.database,
          level: req.level,
          username: `jit_rem_${uniq().slice(0, 8)}`,
          createdAt: T0,
          expiresAt: T0 + 30 * MIN,
        });
        expect(await store.claimReminder(g.id, T0)).toBe(false); // still provisioning
        expect(await store.transitionGrant(g.id, ['provisioning'], { status: 'active' })).toBe(true);
        const claims = await Promise.all(Array.from({ length: 5 }, () => store.claimReminder(g.id, T0 + 1)));
        expect(claims.filter(Boolean)).toHaveLength(1);
        expect((await store.getGrant(g.id))?.remindedAt).toBe(T0 + 1);
        expect(await store.transitionGrant(g.id, ['active'], { remindedAt: null })).toBe(true);
        expect(await store.claimReminder(g.id, T0 + 2)).toBe(true);
      });
    });

    describe('self-extensions', () => {
      it('selfExtendGrant applies once per expected expiry, counts, stops at the limit and at the lifetime', async () => {
        const req = await store.createRequest(newRequest());
        const g = await store.createGrant({
          requestId: req.id,
          requester: req.requester,
          database: req.database,
          level: req.level,
          username: `jit_self_${uniq().slice(0, 8)}`,
          createdAt: T0,
          expiresAt: T0 + 30 * MIN,
        });
        const c = { from: T0 + 30 * MIN, to: T0 + 60 * MIN, below: 2, maxLifetimeMs: 90 * MIN };
        expect(await store.selfExtendGrant(g.id, c)).toBe(false); // still provisioning
        expect(
          await store.transitionGrant(g.id, ['provisioning'], { status: 'active', activatedAt: T0, remindedAt: T0 }),
        ).toBe(true);
        expect((await store.getGrant(g.id))?.selfExtensions).toBeUndefined();
        // Racing on the same expected expiry: exactly one applies.
        const first = await Promise.all(Array.from({ length: 5 }, () => store.selfExtendGrant(g.id, c)));
        expect(first.filter(Boolean)).toHaveLength(1);
        let now = (await store.getGrant(g.id))!;
        expect(now.expiresAt).toBe(T0 + 60 * MIN);
        expect(now.selfExtensions).toBe(1);
        expect(now.remindedAt).toBeUndefined();
        // Past the lifetime (activation + 90 min): refused, nothing moves.
        const tooFar = { from: T0 + 60 * MIN, to: T0 + 91 * MIN, below: 2, maxLifetimeMs: 90 * MIN };
        expect(await store.selfExtendGrant(g.id, tooFar)).toBe(false);
        expect(await store.selfExtendGrant(g.id, { ...tooFar, to: T0 + 90 * MIN })).toBe(true);
        // The limit (2) is reached: a third is refused even with the right expected expiry.
        const third = { from: T0 + 90 * MIN, to: T0 + 95 * MIN, below: 2, maxLifetimeMs: 120 * MIN };
        expect(await store.selfExtendGrant(g.id, third)).toBe(false);
        now = (await store.getGrant(g.id))!;
        expect(now.expiresAt).toBe(T0 + 90 * MIN);
        expect(now.selfExtensions).toBe(2);
        expect(await store.selfExtendGrant(g.id, { ...third, below: 3 })).toBe(true);
      });
    });

    describe('transactions', () => {
      it('commits every change and returns the value of fn', async () => {
        const who = actor();
        const out = await store.transaction(async (tx) => {
          const req = await tx.createRequest(newRequest({ requester: who }));
          expect(await tx.decideRequest(req.id, 'approved', T0 + 1, 'auto-approved: read ≤ 1h')).toBe(true);
          const grant = await tx.createGrant(newGrant(req.id, who));
          await tx.saveMessageRef({
            requestId: req.id,
            platform: 'slack',
            kind: 'approval',
            channel: 'C1',
            messageId: '1.2',
          });
          await tx.appendAudit([{ at: T0 + 1, type: 'request.approved', actor: who, requestId: req.id, detail: {} }]);
          expect(await tx.getGrant(grant.id)).toStrictEqual(grant);
          return { req, grant };
        });
        expect((await store.getRequest(out.req.id))?.status).toBe('approved');
        expect(await store.getGrant(out.grant.id)).toStrictEqual(out.grant);
        expect(await store.getMessageRefs(out.req.id)).toHaveLength(1);
        expect(await store.listAudit({ requestId: out.req.id })).toHaveLength(1);
      });

      it('rolls everything back when fn throws, and rethrows its error', async () => {
        const who = actor();
        const before = await store.createRequest(newRequest({ requester: who }));
        const boom = new Error('boom');
        await expect(
          store.transaction(async (tx) => {
            await tx.createRequest(newRequest({ requester: who }));
            expect(await tx.decideRequest(before.id, 'approved', T0 + 1)).toBe(true);
            await tx.createGrant(newGrant(before.id, who));
            await tx.recordApproval({ requestId: before.id, approver: actor(), decision: 'approve', at: T0 });
            await tx.saveMessageRef({
              requestId: before.id,
              platform: 'teams',
              kind: 'dm',
              channel: 'a:1',
              messageId: 'm',
            });
            await tx.appendAudit([{ at: T0, type: 'request.approved', actor: who, requestId: before.id, detail: {} }]);
            throw boom;
          }),
        ).rejects.toBe(boom);
        expect(await store.listRequests({ requesterId: who.id })).toStrictEqual([before]);
        expect(await store.getGrantByRequest(before.id)).toBeUndefined();
        expect(await store.listApprovals(before.id)).toEqual([]);
        expect(await store.getMessageRefs(before.id)).toEqual([]);
        expect(await store.listAudit({ requestId: before.id })).toEqual([]);
      });

      it('a duplicate createGrant caught inside a transaction does not lose its other writes', async () => {
        const who = actor();
        const { req } = await requestWithGrant({}, who);
        const out = await store.transaction(async (tx) => {
          const a = await tx.createRequest(newRequest({ requester: who }));
          const dup = await tx.createGrant(newGrant(req.id, who)).then(
            () => 'created',
            () => 'refused',
          );
          const b = await tx.createRequest(newRequest({ requester: who }));
          return { a, b, dup };
        });
        expect(out.dup).toBe('refused');
        expect(await store.listRequests({ requesterId: who.id })).toStrictEqual([req, out.a, out.b]);
      });

      it('a transaction whose fn swallowed a failed statement never resolves as if committed', async () => {
        const who = actor();
        // Whatever the dialect does with the failed statement, transaction() either commits the request or rejects.
        const outcome = await store
          .transaction(async (tx) => {
            const a = await tx.createRequest(newRequest({ requester: who }));
            await tx
              .recordApproval({ requestId: rid(987_654_321), approver: who, decision: 'approve', at: T0 })
              .catch(() => false);
            return a;
          })
          .then(
            (a) => ({ ok: true as const, a }),
            () => ({ ok: false as const }),
          );
        const stored = await store.listRequests({ requesterId: who.id });
        if (outcome.ok) expect(stored).toStrictEqual([outcome.a]);
        else expect(stored).toEqual([]);
      });

      it('a nested transaction runs in the same transaction', async () => {
        const who = actor();
        await expect(
          store.transaction(async (tx) => {
            const outer = await tx.createRequest(newRequest({ requester: who }));
            const inner = await tx.transaction(async (tx2) => {
              // Sees the outer transaction's uncommitted row.
              expect(await tx2.getRequest(outer.id)).toStrictEqual(outer);
              return tx2.createRequest(newRequest({ requester: who }));
            });
            expect(await tx.getRequest(inner.id)).toStrictEqual(inner);
            throw new Error('undo both');
          }),
        ).rejects.toThrow('undo both');
        expect(await store.listRequests({ requesterId: who.id })).toEqual([]);

        const committed = await store.transaction((tx) =>
          tx.transaction((tx2) => tx2.createRequest(newRequest({ requester: who }))),
        );
        expect(await store.listRequests({ requesterId: who.id })).toStrictEqual([committed]);
      });

      it('concurrent read-then-write transactions (from two stores) all commit', async () => {
        const req = await store.createRequest(newRequest({ requiredApprovals: 6 }));
        const results = await Promise.all(
          Array.from({ length: 6 }, (_, i) =>
            pick(i).transaction(async (tx) => {
              const r = await tx.getRequest(req.id);
              expect(r?.status).toBe('pending');
              const ok = await tx.recordApproval({
                requestId: req.id,
                approver: actor(),
                decision: 'approve',
                at: T0 + i,
              });
              const count = (await tx.listApprovals(req.id)).length;
              await tx.appendAudit([
                { at: T0 + i, type: 'approval.recorded', actor: SYSTEM, requestId: req.id, detail: { i, count } },
              ]);
              return ok;
            }),
          ),
        );
        expect(results).toEqual(Array(6).fill(true));
        expect(await store.listApprovals(req.id)).toHaveLength(6);
        expect(await store.listAudit({ requestId: req.id })).toHaveLength(6);
      });
    });

    // --- audit ------------------------------------------------------------------------------------------------

    describe('audit', () => {
      it('appendAudit stores events in order; listAudit filters and parses detail back', async () => {
        const who = actor({ email: 'ada@example.com' });
        const { req, grant } = await requestWithGrant({}, who);
        const events: AuditEvent[] = [
          {
            at: T0,
            type: 'request.created',
            actor: who,
            requestId: req.id,
            database: 'orders-prod',
            level: 'read',
            detail: { reason: 'stuck order 🚀', durationMs: 1_800_000, ticket: null },
          },
          { at: T0 + 1, type: 'approval.recorded', actor: actor(), requestId: req.id, detail: { decision: 'approve' } },
          {
            at: T0 + 2,
            type: 'grant.provisioned',
            actor: SYSTEM,
            requestId: req.id,
            grantId: grant.id,
            database: 'orders-prod',
            level: 'read',
            detail: { username: grant.username, nested: { list: [1, 'two', { three: true }] } },
          },
        ];
        await store.appendAudit(events.slice(0, 2));
        await store.appendAudit([]);
        await store.appendAudit(events.slice(2));
        await store.appendAudit([
          { at: T0 + 3, type: 'grant.revoked', actor: SYSTEM, grantId: gid(grant.id + 1_000_000), detail: {} },
        ]);

        const all = await store.listAudit({ requestId: req.id });
        expect(all.map(({ id: _id, ...rest }) => rest)).toStrictEqual(events);
        const ids = all.map((e) => e.id!);
        expect(ids.every((id) => Number.isInteger(id))).toBe(true);
        expect(ids).toEqual([...ids].sort((a, b) => a - b));
        expect(new Set(ids).size).toBe(3);

        expect((await store.listAudit({ grantId: grant.id })).map((e) => e.type)).toEqual(['grant.provisioned']);
        expect((await store.listAudit({ requestId: req.id, type: 'approval.recorded' })).map((e) => e.at)).toEqual([
          T0 + 1,
        ]);
        expect((await store.listAudit({ requestId: req.id, limit: 2 })).map((e) => e.type)).toEqual([
          'request.created',
          'approval.recorded',
        ]);
        const byType = await store.listAudit({ type: 'grant.revoked' });
        expect(byType.length).toBeGreaterThanOrEqual(1);
        expect(byType.every((e) => e.type === 'grant.revoked')).toBe(true);
        expect(byType.map((e) => e.grantId)).toContain(grant.id + 1_000_000); // no foreign key on audit rows
      });

      it('is append-only: the store has no way to change or remove an audit event', async () => {
        const who = actor();
        const req = await store.createRequest(newRequest({ requester: who }));
        await store.appendAudit([{ at: T0, type: 'request.created', actor: who, requestId: req.id, detail: { v: 1 } }]);
        const before = await store.listAudit({ requestId: req.id });
        await store.appendAudit([{ at: T0, type: 'request.created', actor: who, requestId: req.id, detail: { v: 1 } }]);
        await store.decideRequest(req.id, 'cancelled', T0 + 1);
        const after = await store.listAudit({ requestId: req.id });
        expect(after.slice(0, 1)).toStrictEqual(before);
        expect(after).toHaveLength(2); // an identical event is a second event, not an upsert

        const methods = new Set<string>();
        for (let p: object | null = store; p && p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null) {
          for (const k of Object.getOwnPropertyNames(p))
            if (typeof (store as unknown as Record<string, unknown>)[k] === 'function') methods.add(k);
        }
        // verify only reads; the cursor methods move a consumer's position, never an audit row; what a store runs as
        // a transaction commits (flushAudit, writeAtCommit) inserts that transaction's buffered appends.
        const atCommit = new Set(['flushAudit', 'writeAtCommit']);
        const auditMethods = [...methods].filter((m) => /audit/i.test(m) && !atCommit.has(m)).sort();
        expect(auditMethods).toEqual([
          'advanceAuditCursor',
          'appendAudit',
          'leaseAuditCursor',
          'listAudit',
          'verifyAudit',
        ]);
      });
    });

    // --- chat message references ------------------------------------------------------------------------------

    describe('audit chain', () => {
      it('verifies a chain built by concurrent appends, and names a modified, a deleted and an inserted row', async (ctx) => {
        if (fx.knexTables === false) return ctx.skip();
        // Tampering goes around the store, straight to the tables, as an intruder with database access would.
        const db = (store as unknown as { knex: Knex }).knex;
        const who = actor();
        const before = await store.verifyAudit();
        expect(before.problems).toEqual([]);
        await Promise.all(
          Array.from({ length: 12 }, (_, i) =>
            pick(i).appendAudit([
              { at: T0 + i, type: 'request.created', actor: who, detail: { i } },
              { at: T0 + i, type: 'approval.recorded', actor: who, detail: { i } },
            ]),
          ),
        );
        // Text JSON escapes or encodes in more than one byte hashes the same wherever the hash is made.
        const odd = 'Zoë "Q" \\ ☃ 😀 \u2028 \n\t </script>';
        await store.appendAudit([
          { at: T0, type: 'request.created', actor: { ...who, name: odd }, database: odd, detail: { odd } },
        ]);
        const ok = await store.verifyAudit();
        expect(ok).toMatchObject({ ok: true, problems: [] });
        expect(ok.rows).toBe(before.rows + 25);
        const rows = await db('audit_events').orderBy('seq', 'asc').select('id', 'seq');
        const pickRow = (k: number) => Number((rows.at(-k) as { id: number | string }).id);

        const edited = pickRow(3);
        await db('audit_events').where({ id: edited }).update({ detail: '{"i":"tampered"}' });
        const afterEdit = await store.verifyAudit();
        expect(afterEdit.ok).toBe(false);
        expect(afterEdit.problems.map((p) => p.problem)).toContain(
          `row ${edited} was modified (its hash does not match its content)`,
        );

        const deleted = pickRow(6);
        const next = pickRow(5);
        await db('audit_events').where({ id: deleted }).delete();
        const afterDelete = await store.verifyAudit();
        expect(afterDelete.problems.some((p) => p.id === next && /missing before row/.test(p.problem))).toBe(true);

        const last = (await db('audit_events').orderBy('seq', 'desc').first()) as Record<string, unknown>;
        await db('audit_events').insert({
          ...last,
          id: undefined,
          seq: Number(last.seq) + 1,
          detail: '{"forged":true}',
        });
        const afterInsert = await store.verifyAudit();
        expect(afterInsert.problems.some((p) => /modified|does not follow|head/.test(p.problem))).toBe(true);
        // Leave a sound chain for the other cases: rebuild the test rows' tail is not possible, so remove them.
        await db('audit_events')
          .where('seq', '>', Number((rows.at(-26) as { seq: number | string } | undefined)?.seq ?? 0))
          .delete();
        const head = (await db('audit_events').orderBy('seq', 'desc').first()) as Record<string, unknown> | undefined;
        await db('audit_head')
          .where({ id: 1 })
          .update({ last_seq: head ? Number(head.seq) : 0, last_hash: head ? String(head.hash) : '0'.repeat(64) });
        expect((await store.verifyAudit()).ok).toBe(true);
      });
    });

    describe('audit consumer cursor', () => {
      it('one owner at a time holds the lease; the position only moves forward for the holder', async () => {
        const name = `c${uniq()}`;
        expect(await store.leaseAuditCursor(name, 'a', T0, T0 + 1000)).toBe(0);
        expect(await pick(1).leaseAuditCursor(name, 'b', T0 + 10, T0 + 1010)).toBeUndefined(); // a's lease is live
        expect(await store.advanceAuditCursor(name, 'b', 0, 5)).toBe(false);
        expect(await store.advanceAuditCursor(name, 'a', 0, 5)).toBe(true);
        expect(await store.advanceAuditCursor(name, 'a', 0, 7)).toBe(false); // not from where it stands
        expect(await store.leaseAuditCursor(name, 'a', T0 + 20, T0 + 1020)).toBe(5); // renewal
        expect(await pick(1).leaseAuditCursor(name, 'b', T0 + 1021, T0 + 2021)).toBe(5); // expired: b takes over
        expect(await store.advanceAuditCursor(name, 'a', 5, 6)).toBe(false); // a lost it
      });
    });

    describe('chat inbox', () => {
      const inboxAction = (over: Partial<NewInboxAction> = {}): NewInboxAction => ({
        platform: 'slack',
        kind: 'approve',
        actorId: `U${uniq().toUpperCase()}`,
        actorName: 'bob',
        requestId: rid(7),
        payload: { requestId: 7, responseUrl: 'https://hooks.slack.test/r/1' },
        receivedAt: T0,
        claimedBy: 'web-a',
        claimedUntil: T0 + 10_000,
        ...over,
      });

      it('records an action pending with one attempt and reads it back; a redelivery (same dedupe key) is stored once', async () => {
        const key = `sig-${uniq()}`;
        const a = await store.recordInboxAction(
          inboxAction({ dedupeKey: key, payload: { text: 'orders read 1h ünïcode ✓' } }),
        );
        expect(a?.id).toBeGreaterThan(0);
        expect(await pick(1).recordInboxAction(inboxAction({ dedupeKey: key }))).toBeUndefined();
        expect(await store.recordInboxAction(inboxAction({ dedupeKey: key, platform: 'teams' }))).toBeDefined(); // per platform
        const [read] = (await store.listInboxActions({ statuses: ['pending'] })).filter((r) => r.id === a!.id);
        expect(read).toMatchObject({
          status: 'pending',
          attempts: 1,
          kind: 'approve',
          actorName: 'bob',
          requestId: 7,
          payload: { text: 'orders read 1h ünïcode ✓' },
          receivedAt: T0,
          dedupeKey: key,
        });
        expect(read!.grantId).toBeUndefined();
      });

      it('many actions recorded at once answer as one at a time: the first of each dedupe key is kept, once', async () => {
        const keys = Array.from({ length: 8 }, () => `sig-${uniq()}`);
        const already = await store.recordInboxAction(inboxAction({ dedupeKey: keys[0] }));
        expect(already).toBeDefined();
        const results = await Promise.all([
          ...keys.map((dedupeKey, i) => store.recordInboxAction(inboxAction({ dedupeKey, payload: { i } }))),
          store.recordInboxAction(inboxAction({ dedupeKey: keys[3], payload: { i: 'again' } })),
          store.recordInboxAction(inboxAction({ payload: { i: 'no key 1' } })),
          store.recordInboxAction(inboxAction({ payload: { i: 'no key 2' } })),
        ]);
        // keys[0] was stored before; keys[3] comes twice: the first is kept.
        expect(results.map((r) => r !== undefined)).toEqual([
          false,
          true,
          true,
          true,
          true,
          true,
          true,
          true,
          false,
          true,
          true,
        ]);
        const ids = results.flatMap((r) => (r ? [r.id] : []));
        expect(new Set(ids).size).toBe(ids.length);
        const stored = new Map((await store.listInboxActions({ statuses: ['pending'] })).map((r) => [r.id, r]));
        for (const r of results) if (r) expect(stored.get(r.id)?.payload).toEqual(r.payload);
        expect(results[3]!.payload).toEqual({ i: 3 });
      });

      it('finish at commit: done with the effect and its audit; an action finished by another processing rolls the effect back', async () => {
        const at = T0 + 50 * MIN + Math.floor(Math.random() * 1000) * MIN;
        const who = actor();
        const first = await store.recordInboxAction(inboxAction({ receivedAt: at, claimedUntil: at + 1_000 }));
        const second = await store.recordInboxAction(inboxAction({ receivedAt: at, claimedUntil: at + 1_000 }));
        const lost = (id: number) => () => new Error(`action ${id} lost`);
        const auditRows = async () => (await store.listAudit({ since: at, until: at + 1 })).length;
        const auditBefore = await auditRows();

        await store.transaction(async (tx) => {
          await tx.appendAudit([{ at, type: 'request.created', actor: who, detail: { first: true } }]);
          await tx.finishInboxActionAtCommit(first!.id, 'opened', at + 5, lost(first!.id));
        });
        const finished = (await store.listInboxActions({ statuses: ['done'] })).find((r) => r.id === first!.id);
        expect([finished?.outcome, finished?.doneAt]).toEqual(['opened', at + 5]);
        expect(await auditRows()).toBe(auditBefore + 1);

        // Another processing finished it first: this one's effect (its audit row, its request) does not commit.
        let requestId: Awaited<ReturnType<StateStore['createRequest']>>['id'] | undefined;
        await expect(
          pick(1).transaction(async (tx) => {
            requestId = (await tx.createRequest(newRequest({ requester: who }))).id;
            await tx.appendAudit([{ at, type: 'request.created', actor: who, detail: { again: true } }]);
            await tx.finishInboxActionAtCommit(first!.id, 'opened again', at + 6, lost(first!.id));
          }),
        ).rejects.toThrow(`action ${first!.id} lost`);
        expect(await auditRows()).toBe(auditBefore + 1);
        expect(await store.getRequest(requestId!)).toBeUndefined();
        expect((await store.listInboxActions({ statuses: ['done'] })).find((r) => r.id === first!.id)?.outcome).toBe(
          'opened',
        );

        // Without audit events, and outside a transaction: the same answers.
        await store.transaction((tx) => tx.finishInboxActionAtCommit(second!.id, 'denied', at + 7, lost(second!.id)));
        await expect(
          store.finishInboxActionAtCommit(second!.id, 'denied again', at + 8, lost(second!.id)),
        ).rejects.toThrow(`action ${second!.id} lost`);
        expect((await store.listInboxActions({ statuses: ['done'] })).find((r) => r.id === second!.id)?.outcome).toBe(
          'denied',
        );
        expect((await store.verifyAudit()).ok).toBe(true);
      });

      it('claims only lapsed leases, once per claimer race, in arrival order, counting attempts; finish is conditional', async () => {
        const at = T0 + 100 * MIN + Math.floor(Math.random() * 1000) * MIN;
        const live = await store.recordInboxAction(inboxAction({ receivedAt: at, claimedUntil: at + 10_000 }));
        const lapsed1 = await store.recordInboxAction(inboxAction({ receivedAt: at, claimedUntil: at + 1_000 }));
        const lapsed2 = await store.recordInboxAction(inboxAction({ receivedAt: at + 1, claimedUntil: at + 1_000 }));
        const tooNew = await store.recordInboxAction(inboxAction({ receivedAt: at + 5_000, claimedUntil: at + 1_000 }));
        const mine = new Set([live!.id, lapsed1!.id, lapsed2!.id, tooNew!.id]);
        const now = at + 2_000;
        const claims = await Promise.all(
          [1, 2, 3].map((n) => pick(n).claimInboxActions(`w${n}`, now, now + 10_000, at + 10, 1_000)),
        );
        const got = claims.flat().filter((c) => mine.has(c.id));
        expect(got.map((c) => c.id).sort((x, y) => x - y)).toEqual([lapsed1!.id, lapsed2!.id]); // each claimed once
        for (const c of claims) {
          const ids = c.filter((x) => mine.has(x.id)).map((x) => x.id);
          expect(ids).toEqual([...ids].sort((x, y) => x - y));
        }
        expect(got.every((c) => c.attempts === 2 && c.claimedUntil === now + 10_000)).toBe(true);
        // A live lease is not taken; once it lapses it is.
        expect(
          (await store.claimInboxActions('w9', now, now + 10_000, at + 10, 1_000)).filter((c) => mine.has(c.id)),
        ).toEqual([]);
        expect(
          (await store.claimInboxActions('w9', at + 10_001, at + 20_000, at + 10, 1_000))
            .map((c) => c.id)
            .filter((id) => mine.has(id)),
        ).toEqual([live!.id]);

        // Finished inside a transaction that rolls back: still pending. Committed: done, once.
        await expect(
          store.transaction(async (tx) => {
            expect(await tx.finishInboxAction(lapsed1!.id, 'approved', now)).toBe(true);
            throw new Error('effect failed');
          }),
        ).rejects.toThrow('effect failed');
        expect((await store.listInboxActions({ statuses: ['pending'] })).some((r) => r.id === lapsed1!.id)).toBe(true);
        expect(await store.transaction((tx) => tx.finishInboxAction(lapsed1!.id, 'approved', now))).toBe(true);
        expect(await pick(1).finishInboxAction(lapsed1!.id, 'approved again', now + 1)).toBe(false);
        expect(await store.finishInboxAction(lapsed2!.id, 'failed: timeout. '.repeat(1_500), now, 'failed')).toBe(true); // cut to fit
        const done = (await store.listInboxActions({ statuses: ['done', 'failed'] })).filter((r) => mine.has(r.id));
        expect(done.map((r) => [r.id, r.status, r.doneAt])).toEqual([
          [lapsed1!.id, 'done', now],
          [lapsed2!.id, 'failed', now],
        ]);
        expect(done[0]!.outcome).toBe('approved');
        expect(done[1]!.outcome!.length).toBeLessThan(8_100);
        // Finished actions are never claimed again.
        expect(
          (await store.claimInboxActions('w9', at + 100_000, at + 200_000, at + 10, 1_000)).filter(
            (c) => c.id === lapsed1!.id || c.id === lapsed2!.id,
          ),
        ).toEqual([]);
        expect((await store.listInboxActions({ requestIds: [rid(7)] })).some((r) => r.id === live!.id)).toBe(true);
      });

      it('prunes finished actions that finished before a time, a bounded batch at a time; never a pending one', async () => {
        // Before T0: no other test's actions are that old.
        const at = T0 - 1_000 * MIN;
        const old = async (status: 'done' | 'failed') => {
          const a = (await store.recordInboxAction(inboxAction({ receivedAt: at, claimedUntil: at + 10_000 })))!;
          expect(await store.finishInboxAction(a.id, status, at + 1_000, status)).toBe(true);
          return a.id;
        };
        const finished = [await old('done'), await old('failed'), await old('done')];
        const pending = (await store.recordInboxAction(inboxAction({ receivedAt: at, claimedUntil: at + 10_000 })))!.id;
        const recent = (await store.recordInboxAction(
          inboxAction({ receivedAt: at + 10 * MIN, claimedUntil: at + 10 * MIN + 10_000 }),
        ))!.id;
        expect(await store.finishInboxAction(recent, 'done', at + 10 * MIN + 1_000)).toBe(true);
        const mine = new Set([...finished, pending, recent]);
        const left = async () => (await store.listInboxActions()).filter((r) => mine.has(r.id)).map((r) => r.id);

        const before = at + 5 * MIN;
        expect(await pick(1).pruneInboxActions(before, 2)).toBe(2);
        expect(await store.pruneInboxActions(before, 2)).toBe(1);
        expect(await store.pruneInboxActions(before, 2)).toBe(0);
        expect(await left()).toEqual([pending, recent]);
        expect(await store.pruneInboxActions(T0 - 1, 100)).toBe(1);
        expect(await left()).toEqual([pending]);
      });
    });

    describe('grant activity', () => {
      const summary = {
        available: true as const,
        source: 'pg_stat_statements' as const,
        calls: 3,
        totalMs: 1.5,
        rows: 9,
        byKind: { SELECT: 3 },
        top: [{ query: 'SELECT name FROM items WHERE id = $1', calls: 3, totalMs: 1.5, rows: 9 }],
      };

      it('records sessions once (first seen returned once, even to racing stores), moves last seen, closes the unseen, groups by address and application', async () => {
        const g = await activeGrant();
        const other = await activeGrant();
        const a = {
          grantId: g.id,
          sessionKey: '101@1',
          startedAt: T0 - 5_000,
          clientAddress: '10.0.4.7',
          application: 'psql',
        };
        const b = { grantId: g.id, sessionKey: '102@2', clientAddress: '10.0.4.7', application: 'psql' };
        const c = { grantId: g.id, sessionKey: '103@3', clientAddress: '10.0.4.8' };
        const first = await Promise.all([0, 1].map((i) => pick(i).recordSessions(T0, [g.id], [a, b])));
        expect(
          first
            .flat()
            .map((s) => s.sessionKey)
            .sort(),
        ).toEqual(['101@1', '102@2']);
        // Seen again a minute later with a new one; `b` is gone (closed).
        expect((await store.recordSessions(T0 + MIN, [g.id, other.id], [a, c])).map((s) => s.sessionKey)).toEqual([
          '103@3',
        ]);
        const act = (await store.grantActivity([g.id, other.id, gid(987654321)])).get(g.id)!;
        expect(act).toEqual({
          sessions: [
            {
              clientAddress: '10.0.4.7',
              application: 'psql',
              count: 2,
              firstSeenAt: T0 - 5_000,
              lastSeenAt: T0 + MIN,
              endedByRevocation: 0,
            },
            { clientAddress: '10.0.4.8', count: 1, firstSeenAt: T0 + MIN, lastSeenAt: T0 + MIN, endedByRevocation: 0 },
          ],
          sessionsDropped: 0,
        });
        expect((await store.grantActivity([other.id])).get(other.id)).toEqual({ sessions: [], sessionsDropped: 0 });
        expect((await store.grantActivity([gid(987654321)])).size).toBe(0);

        // Revocation: the still-open ones (a, c) are tied to it; b had closed before. The summary is stored.
        await store.closeGrantActivity([{ grantId: g.id, statements: summary }]);
        const ended = (await store.grantActivity([g.id])).get(g.id)!;
        expect(ended.sessions.map((x) => x.endedByRevocation)).toEqual([1, 1]);
        expect(ended.statements).toEqual(summary);
        const none = { available: false as const, why: 'pg_stat_statements is not installed in database appdb' };
        await store.closeGrantActivity([{ grantId: other.id, statements: none }]);
        expect((await store.grantActivity([other.id])).get(other.id)).toEqual({
          sessions: [],
          sessionsDropped: 0,
          statements: none,
        });
      });

      it('keeps at most MAX_SESSIONS_PER_GRANT sessions per grant (the earliest) and counts the others once each', async () => {
        const g = await activeGrant();
        const batch = (from: number, n: number, startedAt: number) =>
          Array.from({ length: n }, (_, i) => ({
            grantId: g.id,
            sessionKey: `s${from + i}`,
            startedAt,
            clientAddress: '10.0.0.1',
          }));
        expect(await store.recordSessions(T0, [], batch(0, 30, T0 - 1))).toHaveLength(30);
        expect(await store.recordSessions(T0 + 10, [], batch(30, 30, T0 + 5))).toHaveLength(
          MAX_SESSIONS_PER_GRANT - 30,
        );
        const act = (await store.grantActivity([g.id])).get(g.id)!;
        expect(act.sessions[0]!.count).toBe(MAX_SESSIONS_PER_GRANT);
        expect(act.sessionsDropped).toBe(60 - MAX_SESSIONS_PER_GRANT);
        // Seen again: not new, not counted again; one that started after the last sample is counted.
        const late = { grantId: g.id, sessionKey: 'late', startedAt: T0 + 15, clientAddress: '10.0.0.1' };
        expect(
          await store.recordSessions(T0 + 20, [], [...batch(0, 30, T0 - 1), ...batch(30, 30, T0 + 5), late]),
        ).toEqual([]);
        expect((await store.grantActivity([g.id])).get(g.id)!.sessionsDropped).toBe(60 - MAX_SESSIONS_PER_GRANT + 1);
      });
    });

    describe('installation id', () => {
      it('is created once and the same for every process on the store', async () => {
        const ids = await Promise.all([1, 2, 3, 4].map((n) => pick(n).installationId()));
        expect(ids[0]).toMatch(/^[0-9a-f]{16}$/);
        expect(new Set(ids).size).toBe(1);
        expect(await store.installationId()).toBe(ids[0]);
      });
    });

    describe('chat conversations', () => {
      it('keeps one conversation per (platform, key); saving again replaces it; keys are case-sensitive', async () => {
        const key = `user:${T0}-aad`;
        expect(await store.getConversation('teams', key)).toBeUndefined();
        await store.saveConversation({ platform: 'teams', key, reference: '{"a":1}', updatedAt: T0 });
        await store.saveConversation({
          platform: 'teams',
          key: key.toUpperCase(),
          reference: '{"other":1}',
          updatedAt: T0,
        });
        await Promise.all(
          [1, 2, 3].map((n) =>
            pick(n).saveConversation({ platform: 'teams', key, reference: `{"a":${n}}`, updatedAt: T0 + n }),
          ),
        );
        const got = await store.getConversation('teams', key);
        expect(got?.key).toBe(key);
        expect(got?.reference).toBe(`{"a":${got!.updatedAt - T0}}`);
        expect((await store.getConversation('teams', key.toUpperCase()))?.reference).toBe('{"other":1}');
        expect(await store.getConversation('slack', key)).toBeUndefined();
      });

      it('claimConversation: the first writer wins, racing writers all read its row, and a later save does not move it', async () => {
        const key = `tenant:pinned-${uniq()}`;
        const claims = await Promise.all(
          [1, 2, 3, 4, 5].map((n) =>
            pick(n).claimConversation({ platform: 'teams', key, reference: `{"t":${n}}`, updatedAt: T0 + n }),
          ),
        );
        const winner = claims[0]!.reference;
        expect(claims.every((c) => c.reference === winner && c.key === key && c.platform === 'teams')).toBe(true);
        expect((await store.getConversation('teams', key))?.reference).toBe(winner);
        expect(
          (await store.claimConversation({ platform: 'teams', key, reference: '{"t":9}', updatedAt: T0 + 9 }))
            .reference,
        ).toBe(winner);
      });
    });

    describe('message references', () => {
      it('keeps one reference per (request, platform, kind); saving again replaces it', async () => {
        const req = await store.createRequest(newRequest());
        const other = await store.createRequest(newRequest());
        await store.saveMessageRef({
          requestId: req.id,
          platform: 'slack',
          kind: 'approval',
          channel: 'C1',
          messageId: '1.1',
        });
        await store.saveMessageRef({
          requestId: req.id,
          platform: 'teams',
          kind: 'approval',
          channel: '19:x@thread',
          messageId: 'a',
        });
        await store.saveMessageRef({
          requestId: req.id,
          platform: 'slack',
          kind: 'dm',
          channel: 'D1',
          messageId: '2.2',
        });
        await store.saveMessageRef({
          requestId: other.id,
          platform: 'slack',
          kind: 'approval',
          channel: 'C9',
          messageId: '9',
        });
        await store.saveMessageRef({
          requestId: req.id,
          platform: 'slack',
          kind: 'approval',
          channel: 'C2',
          messageId: '1.3',
        });
        const refs = await store.getMessageRefs(req.id);
        expect(refs).toHaveLength(3);
        expect(refs).toEqual(
          expect.arrayContaining([
            { requestId: req.id, platform: 'slack', kind: 'approval', channel: 'C2', messageId: '1.3', version: 0 },
            {
              requestId: req.id,
              platform: 'teams',
              kind: 'approval',
              channel: '19:x@thread',
              messageId: 'a',
              version: 0,
            },
            { requestId: req.id, platform: 'slack', kind: 'dm', channel: 'D1', messageId: '2.2', version: 0 },
          ]),
        );
        expect(await store.getMessageRefs(other.id)).toHaveLength(1);
        expect(await store.getMessageRefs(rid(req.id + 1_000_000))).toEqual([]);
      });

      it('listMessageRefsFor returns the references of exactly the requests asked for, in id order', async () => {
        const [a, b, c] = [
          await store.createRequest(newRequest()),
          await store.createRequest(newRequest()),
          await store.createRequest(newRequest()),
        ];
        const saved = [
          [b, 'slack', 'b1'],
          [a, 'slack', 'a1'],
          [c, 'slack', 'c1'],
          [b, 'teams', 'b2'],
        ] as const;
        for (const [r, platform, messageId] of saved)
          await store.saveMessageRef({ requestId: r.id, platform, kind: 'approval', channel: 'C1', messageId });
        const refs = await store.listMessageRefsFor([b.id, a.id, rid(987_654_321)]);
        expect(refs.map((r) => r.messageId)).toEqual(['b1', 'a1', 'b2']);
        expect(refs.map((r) => r.requestId)).toEqual([b.id, a.id, b.id]);
        expect(await store.listMessageRefsFor([])).toEqual([]);
      });

      it('concurrent saves of one reference leave exactly one row', async () => {
        const req = await store.createRequest(newRequest());
        await Promise.all(
          Array.from({ length: 6 }, (_, i) =>
            pick(i).saveMessageRef({
              requestId: req.id,
              platform: 'slack',
              kind: 'reminder',
              channel: 'C',
              messageId: `${i}`,
            }),
          ),
        );
        const refs = await store.getMessageRefs(req.id);
        expect(refs).toHaveLength(1);
        expect(Number(refs[0]!.messageId)).toBeGreaterThanOrEqual(0);
      });

      it('claimMessageVersion only moves forward, and exactly one of racing claims for a version wins', async () => {
        const req = await store.createRequest(newRequest());
        const ref = { requestId: req.id, platform: 'slack' as const, kind: 'approval' };
        expect(await store.claimMessageVersion(ref, 5)).toBe(false); // no message yet
        await store.saveMessageRef({ ...ref, channel: 'C1', messageId: '1.1', version: 1 });
        const wins = await Promise.all(Array.from({ length: 8 }, (_, i) => pick(i).claimMessageVersion(ref, 7)));
        expect(wins.filter(Boolean)).toHaveLength(1);
        expect(await store.claimMessageVersion(ref, 3)).toBe(false);
        expect(await store.claimMessageVersion(ref, 7)).toBe(false);
        expect(await store.claimMessageVersion(ref, 8)).toBe(true);
        expect((await store.getMessageRefs(req.id))[0]?.version).toBe(8);
      });

      it('many saves and claims at once from one store answer as they would one at a time', async () => {
        const reqs = await Promise.all(Array.from({ length: 12 }, () => store.createRequest(newRequest())));
        const ref = (i: number) => ({ requestId: reqs[i]!.id, platform: 'slack' as const, kind: 'dm' });
        await Promise.all(
          reqs.map((_, i) => store.saveMessageRef({ ...ref(i), channel: `D${i}`, messageId: `${i}.1`, version: 2 })),
        );
        // Every other message gets a second save in the same breath: the later one is what stays.
        await Promise.all([
          ...reqs.map((_, i) => store.saveMessageRef({ ...ref(i), channel: `D${i}`, messageId: `${i}.2`, version: 3 })),
          ...reqs
            .filter((_, i) => i % 2 === 0)
            .map((_, j) => store.saveMessageRef({ ...ref(2 * j), channel: 'Dx', messageId: 'late', version: 4 })),
        ]);
        const saved = await store.listMessageRefsFor(reqs.map((r) => r.id));
        expect(saved.map((r) => [r.messageId, r.version])).toEqual(
          reqs.map((_, i) => (i % 2 === 0 ? ['late', 4] : [`${i}.2`, 3])),
        );
        // Claims on different messages each win or lose on their own. Of claims on one message, the first of the
        // highest version wins and any other of that version or lower loses (one lower than it, made before it, may
        // have won first: one at a time it does, taken together it need not).
        const one = ref(1);
        const claims = await Promise.all([
          ...reqs.map((_, i) => store.claimMessageVersion(ref(i), i === 1 ? 9 : i % 2 === 0 ? 4 : 5)),
          store.claimMessageVersion(one, 11),
          store.claimMessageVersion(one, 10),
          store.claimMessageVersion(one, 11),
        ]);
        // Even ones already show 4; odd ones show 3 < 5.
        expect(claims.filter((_, i) => i !== 1)).toEqual([
          ...reqs.map((_, i) => i % 2 === 1).filter((_, i) => i !== 1),
          true,
          false,
          false,
        ]);
        expect((await store.getMessageRefs(one.requestId))[0]?.version).toBe(11);
        expect(await store.claimMessageVersion(one, 10)).toBe(false);
      });

      it('a reference that cannot be saved fails alone, not the others saved with it', async () => {
        const reqs = await Promise.all(Array.from({ length: 4 }, () => store.createRequest(newRequest())));
        const missing = rid(reqs[3]!.id + 1_000_000);
        const results = await Promise.allSettled(
          [...reqs.map((r) => r.id), missing].map((requestId) =>
            store.saveMessageRef({
              requestId,
              platform: 'slack',
              kind: 'dm',
              channel: 'D',
              messageId: String(requestId),
            }),
          ),
        );
        expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected']);
        expect(await store.listMessageRefsFor(reqs.map((r) => r.id))).toHaveLength(4);
        expect(await store.getMessageRefs(missing)).toEqual([]);
      });
    });

    // --- liveness and secrets ---------------------------------------------------------------------------------

    it('ping resolves', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
      if (fx.second) await expect(fx.second.ping()).resolves.toBeUndefined();
    });

    describe('no secret at rest', () => {
      it('no table has a column whose name contains "password" or "secret"', async (ctx) => {
        if (!fx.tables) return ctx.skip();
        const tables = await fx.tables();
        for (const t of ['requests', 'approvals', 'grants', 'chat_messages', 'audit_events']) {
          expect(Object.keys(tables)).toContain(t);
        }
        for (const [table, { columns }] of Object.entries(tables)) {
          expect(columns.length, table).toBeGreaterThan(0);
          for (const c of columns) expect(c, `${table}.${c}`).not.toMatch(/passw|secret/i);
        }
      });

      it('after a typical flow, no table holds the password the worker generated', async (ctx) => {
        if (!fx.tables) return ctx.skip();
        const ada = actor({ email: 'ada@example.com', name: 'Ada' });
        const bob = actor({ email: 'bob@example.com', name: 'Bob' });
        // Request → approval → grant row before DDL → (engine gets the password) → active → DM → revoke.
        const req = await store.createRequest(newRequest({ requester: ada, ticket: 'OPS-1' }));
        await store.appendAudit([
          { at: T0, type: 'request.created', actor: ada, requestId: req.id, detail: { reason: req.reason } },
        ]);
        await store.saveMessageRef({
          requestId: req.id,
          platform: 'slack',
          kind: 'approval',
          channel: 'C1',
          messageId: '1.1',
        });
        await store.recordApproval({ requestId: req.id, approver: bob, decision: 'approve', at: T0 + 1 });
        const grant = await store.transaction(async (tx) => {
          expect(await tx.decideRequest(req.id, 'approved', T0 + 1, 'approved by Bob')).toBe(true);
          const g = await tx.createGrant(newGrant(req.id, ada));
          await tx.appendAudit([
            { at: T0 + 1, type: 'request.approved', actor: bob, requestId: req.id, grantId: g.id, detail: {} },
          ]);
          return g;
        });
        const password = generatePassword(); // what the worker hands to the engine; the store never sees it
        expect(
          await store.transitionGrant(grant.id, ['provisioning'], {
            status: 'active',
            activatedAt: T0 + 2,
            provisionAttempts: 1,
          }),
        ).toBe(true);
        await store.appendAudit([
          {
            at: T0 + 2,
            type: 'grant.provisioned',
            actor: SYSTEM,
            grantId: grant.id,
            requestId: req.id,
            detail: { outcome: 'created' },
          },
          {
            at: T0 + 2,
            type: 'grant.credentials_issued',
            actor: SYSTEM,
            grantId: grant.id,
            detail: { via: 'slack-dm', rotated: false },
          },
        ]);
        await store.saveMessageRef({
          requestId: req.id,
          platform: 'slack',
          kind: 'dm',
          channel: 'D1',
          messageId: '2.1',
        });
        expect(await store.transitionGrant(grant.id, ['active'], { status: 'revoking', revokeStartedAt: T0 + 3 })).toBe(
          true,
        );
        expect(
          await store.transitionGrant(grant.id, ['revoking'], {
            status: 'revoked',
            revokedAt: T0 + 4,
            endReason: 'expired',
          }),
        ).toBe(true);
        await store.appendAudit([
          {
            at: T0 + 4,
            type: 'grant.revoked',
            actor: SYSTEM,
            grantId: grant.id,
            detail: { sessionsTerminated: 1, userOutcome: 'dropped' },
          },
        ]);

        const dump = JSON.stringify(await fx.tables());
        expect(dump).toContain(grant.username); // the dump does cover the flow's rows
        expect(dump).not.toContain(password);
        // Nothing shaped like a generated password ([A-Za-z0-9]{32,}) rests anywhere — the audit chain's SHA-256
        // hashes (64 lowercase hex characters, in hash columns only) aside.
        const withoutHashes = dump.replace(/"(hash|prev_hash|last_hash)":"[0-9a-f]{64}"/g, '"$1":"<sha256>"');
        expect(withoutHashes).not.toMatch(/(?<![A-Za-z0-9])[A-Za-z0-9]{32,}(?![A-Za-z0-9])/);
      });
    });
  });
}

const SYSTEM: Actor = { platform: 'system', id: 'db-access' };
