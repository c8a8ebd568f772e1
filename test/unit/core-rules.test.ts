/**
 * The core's rules on in-memory fakes (dev/fakes, each held to its port's contract): who may approve and how many
 * people it takes, the per-person limits, extension, escalation tiers and the decisions of revocation. Every case
 * builds its own world and moves its own clock, and runs in milliseconds; the real-server suites cover the adapters.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { parseCatalog } from '../../src/config/catalog.js';
import type { DatabaseEntry } from '../../src/core/catalog.js';
import { BrokerError } from '../../src/core/errors.js';
import { escalateDue } from '../../src/core/escalation.js';
import { revoke, revokeAsUser } from '../../src/core/lifecycle.js';
import type { Actor, ApproverRef, Grant } from '../../src/core/model.js';
import { requestAccess, type RequestInput } from '../../src/core/asking.js';
import { approve, deny, expireUndecided } from '../../src/core/deciding.js';
import { memoryCore, type MemoryCore } from '../../dev/fakes/core-deps.js';
import { recordingNotifier, type NotifierEvent } from '../support/notifiers.js';

const MIN = 60_000;

const CATALOG = `databases:
  - name: orders
    engine: postgres
    host: 127.0.0.1
    database: orders
    admin: { user: jit_admin, password: x }
    levels: { read: { roles: [orders_read] }, write: { roles: [orders_write] } }
    maxDuration: 2h
    limits: { activeGrantsPerPerson: 1, pendingRequestsPerPerson: 2 }
    approval:
      timeout: 30m
      approvers: [{ email: bob@example.com }, { slackUser: UCAROL }]
      escalation:
        - { after: 10m, approvers: [{ email: dave@example.com }] }
  - name: billing
    engine: mysql
    host: 127.0.0.1
    database: billing
    admin: { user: jit_admin, password: x }
    levels: { read: { roles: [billing_read] } }
    approval: { required: 2, approvers: [{ email: bob@example.com }, { slackUser: UCAROL }] }
`;

const databases: DatabaseEntry[] = [...parseCatalog(CATALOG, {}).databases.values()];

const alice: Actor = { platform: 'slack', id: 'UALICE', email: 'alice@example.com', name: 'alice' };
const aliceOnTeams: Actor = { platform: 'teams', id: 'aad-alice', email: 'Alice@Example.com', name: 'Alice' };
const bob: Actor = { platform: 'slack', id: 'UBOB', email: 'bob@example.com', name: 'bob' };
const bobOnTeams: Actor = { platform: 'teams', id: 'aad-bob', email: 'BOB@example.com', name: 'Bob' };
const carol: Actor = { platform: 'slack', id: 'UCAROL', email: 'carol@example.com', name: 'carol' };
const dave: Actor = { platform: 'slack', id: 'UDAVE', email: 'dave@example.com', name: 'dave' };
const mallory: Actor = { platform: 'slack', id: 'UMALLORY', email: 'mallory@example.com', name: 'mallory' };

const orders = (over: Partial<RequestInput> = {}): RequestInput => ({
  database: 'orders',
  level: 'read',
  duration: '1h',
  reason: 'INC-7 stuck orders',
  ...over,
});

async function refusal(p: Promise<unknown>): Promise<BrokerError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BrokerError);
  return err as BrokerError;
}

let core: MemoryCore;
let events: NotifierEvent[];

beforeEach(() => {
  const notifier = recordingNotifier();
  events = notifier.events;
  core = memoryCore(databases, {
    notifier,
    engine: { roles: { orders_read: ['select'], orders_write: ['select', 'insert'], billing_read: ['select'] } },
  });
});

/** Approves alice's request for `input` as bob and runs the provisioning job: an active grant with its user. */
async function activeGrant(input: RequestInput = orders()): Promise<Grant> {
  const req = await requestAccess(core.deps, alice, input);
  const res = await approve(core.deps, req.id, bob);
  if (res.status !== 'approved') throw new Error(`expected approved, got ${res.status}`);
  const fired = await core.scheduler.runDue(core.clock.now(), core.handlers);
  expect(fired.filter((j) => j.error !== undefined)).toEqual([]);
  const grant = (await core.store.getGrant(res.grant.id))!;
  expect(grant.status).toBe('active');
  return grant;
}

const audited = async (type: string) => (await core.store.listAudit({ type })).length;

describe('approval', () => {
  it('one approval decides a 1-of-M request: the grant row exists before any DDL and provisioning is queued', async () => {
    const req = await requestAccess(core.deps, alice, orders());
    expect(req.status).toBe('pending');
    const res = await approve(core.deps, req.id, bob);
    expect(res.status).toBe('approved');
    const grant = (res as { grant: Grant }).grant;
    expect(grant).toMatchObject({ status: 'provisioning', requestId: req.id, expiresAt: core.clock.now() + 60 * MIN });
    expect(core.scheduler.job('provision', grant.id)).toBeDefined();
    expect(core.engine('orders').users.size).toBe(0); // no DDL until the job runs
    await core.scheduler.runDue(core.clock.now(), core.handlers);
    expect(core.engine('orders').users.get(grant.username)?.marker?.grantId).toBe(grant.id);
    expect(core.scheduler.job('revoke', grant.id)?.at).toBe(grant.expiresAt);
  });

  it('N-of-M counts people: the same person from Slack and Teams is one approval; a second person decides', async () => {
    const req = await requestAccess(core.deps, alice, orders({ database: 'billing' }));
    expect(req.requiredApprovals).toBe(2);
    expect(await approve(core.deps, req.id, bob)).toMatchObject({ status: 'pending', approvals: 1, required: 2 });
    const again = await refusal(approve(core.deps, req.id, bobOnTeams));
    expect(again.code).toBe('FORBIDDEN');
    expect(again.message).toContain('one person counts once');
    expect((await core.store.getRequest(req.id))!.status).toBe('pending');
    expect((await core.store.listApprovals(req.id)).map((a) => a.approver.id)).toEqual([bob.id]);
    expect((await approve(core.deps, req.id, carol)).status).toBe('approved');
    expect((await core.store.getRequest(req.id))!.decisionNote).toBe('approved by bob, carol');
  });

  it('self-approval is refused, from the requester account and from the same person on another platform', async () => {
    const mine = await requestAccess(core.deps, bob, orders());
    expect((await refusal(approve(core.deps, mine.id, bob))).code).toBe('SELF_APPROVAL');
    expect((await refusal(approve(core.deps, mine.id, bobOnTeams))).code).toBe('SELF_APPROVAL');
    expect((await refusal(deny(core.deps, mine.id, bob, 'no'))).code).toBe('SELF_APPROVAL');
    expect(await core.store.listApprovals(mine.id)).toEqual([]);
    expect(await audited('access.refused')).toBe(3);
  });

  it('someone who is not an approver is refused; nothing changes', async () => {
    const req = await requestAccess(core.deps, alice, orders());
    expect((await refusal(approve(core.deps, req.id, mallory))).code).toBe('FORBIDDEN');
    expect((await core.store.getRequest(req.id))!.status).toBe('pending');
    expect(await core.store.listApprovals(req.id)).toEqual([]);
  });

  it('the deadline is judged at the click: received in time counts when processed late; clicked late is refused', async () => {
    const req = await requestAccess(core.deps, alice, orders());
    const deadline = req.decideBy!;
    expect(deadline).toBe(core.clock.now() + 30 * MIN);
    const clickedAt = deadline - 1;
    const inbox = (await core.store.recordInboxAction({
      platform: 'slack',
      kind: 'approve',
      actorId: bob.id,
      requestId: req.id,
      payload: {},
      receivedAt: clickedAt,
      claimedBy: 't',
      claimedUntil: clickedAt + 10_000,
    }))!;
    core.clock.set(deadline + 5 * MIN); // processed after the deadline
    const res = await approve(core.deps, req.id, bob, undefined, {
      inboxId: inbox.id,
      receivedAt: clickedAt,
      attempt: 2,
    });
    expect(res.status).toBe('approved');
    expect((await core.store.getRequest(req.id))!.decidedAt).toBe(clickedAt);

    const late = await requestAccess(core.deps, carol, orders());
    core.clock.set(late.decideBy!);
    const err = await refusal(approve(core.deps, late.id, bob));
    expect(err.code).toBe('FORBIDDEN');
    expect(err.message).toContain('approval deadline passed');
    expect(await expireUndecided(core.deps)).toBe(1);
    expect((await core.store.getRequest(late.id))!.status).toBe('expired');
  });

  it('a denied request cannot be approved afterwards', async () => {
    const req = await requestAccess(core.deps, alice, orders());
    expect((await deny(core.deps, req.id, carol, 'not during the freeze')).request.status).toBe('denied');
    expect((await refusal(approve(core.deps, req.id, bob))).code).toBe('ALREADY_DECIDED');
    expect(await core.store.getGrantByRequest(req.id)).toBeUndefined();
  });
});

describe('limits', () => {
  it('the same level already held active turns a request into an extension request of that grant', async () => {
    const grant = await activeGrant();
    const req = await requestAccess(core.deps, alice, orders({ duration: '30m' }));
    expect(req).toMatchObject({ status: 'pending', extendsGrantId: grant.id, durationMs: 30 * MIN });
  });

  it('live grants per person: another level over the limit is refused, as asked and again when approved', async () => {
    await activeGrant();
    const err = await refusal(requestAccess(core.deps, aliceOnTeams, orders({ level: 'write' })));
    expect(err.code).toBe('FORBIDDEN');
    expect(err.message).toContain('the limit is 1');
    expect(await core.store.listRequests({ requestedBy: alice, statuses: ['pending'] })).toEqual([]);
  });

  it('the limit holds when access is given: a second approval over it is refused and rolled back', async () => {
    const read = await requestAccess(core.deps, alice, orders());
    const write = await requestAccess(core.deps, alice, orders({ level: 'write' }));
    expect((await approve(core.deps, read.id, bob)).status).toBe('approved');
    const err = await refusal(approve(core.deps, write.id, bob));
    expect(err.message).toContain('one must end first');
    expect((await core.store.getRequest(write.id))!.status).toBe('pending');
    expect(await core.store.listApprovals(write.id)).toEqual([]); // the approval went with the rolled-back transaction
  });

  it('pending requests per person are capped, counting the person across platforms', async () => {
    await requestAccess(core.deps, alice, orders());
    await requestAccess(core.deps, aliceOnTeams, orders({ level: 'write' }));
    const err = await refusal(requestAccess(core.deps, alice, orders({ duration: '2h' })));
    expect(err.code).toBe('FORBIDDEN');
    expect(err.message).toContain('2 request(s) waiting');
  });
});

describe('extension', () => {
  it('an approved extension moves the expiry on the target, in the store and in the schedule, and clears the reminder', async () => {
    const grant = await activeGrant();
    expect(await core.store.claimReminder(grant.id, core.clock.now())).toBe(true);
    core.clock.advance(20 * MIN);
    const ext = await requestAccess(core.deps, alice, orders({ duration: '30m', reason: 'need longer' }));
    const res = await approve(core.deps, ext.id, carol);
    expect(res.status).toBe('extended');
    const after = (await core.store.getGrant(grant.id))!;
    expect(after.expiresAt).toBe(grant.expiresAt + 30 * MIN);
    expect(after.remindedAt).toBeUndefined();
    expect(core.engine('orders').users.get(grant.username)?.marker?.expiresAt).toBe(after.expiresAt);
    expect(core.scheduler.job('revoke', grant.id)?.at).toBe(after.expiresAt);
    expect(await audited('grant.extended')).toBe(1);
  });

  it('an extension that would leave more than the maximum is refused before anyone is asked', async () => {
    await activeGrant();
    const err = await refusal(requestAccess(core.deps, alice, orders({ duration: '90m' })));
    expect(err.code).toBe('DURATION_TOO_LONG');
    expect(events.filter((e) => e.event === 'requestOpened')).toHaveLength(1); // only the original request's
  });
});

describe('escalation', () => {
  it('nobody decided by the tier time: the tier is asked once, and only then may it approve', async () => {
    const req = await requestAccess(core.deps, alice, orders());
    expect((await refusal(approve(core.deps, req.id, dave))).code).toBe('FORBIDDEN');
    core.clock.advance(10 * MIN - 1);
    expect(await escalateDue(core.deps)).toBe(0);
    core.clock.advance(1);
    expect(await escalateDue(core.deps)).toBe(1);
    expect(await escalateDue(core.deps)).toBe(0); // claimed once
    const escalated = (await core.store.getRequest(req.id))!;
    expect(escalated.tier).toBe(1);
    expect(escalated.nextEscalationAt).toBeUndefined();
    expect(escalated.approvers.map((a) => a.email ?? a.id).sort()).toEqual([
      'UCAROL',
      'bob@example.com',
      'dave@example.com',
    ]);
    const asked = events.filter((e) => e.event === 'requestEscalated').map((e) => e.extra as [number, ApproverRef[]]);
    expect(asked.map(([tier, who]) => [tier, who.map((a) => a.email ?? a.id)])).toEqual([[1, ['dave@example.com']]]);
    expect((await approve(core.deps, req.id, dave)).status).toBe('approved');
  });
});

describe('revocation decisions', () => {
  it('expiry: the revoke job does nothing before expiresAt, then locks, ends sessions and drops the user', async () => {
    const grant = await activeGrant();
    const session = core.engine('orders').connect(grant.username, await revealPassword(grant));
    core.clock.set(grant.expiresAt - 1);
    expect(await core.scheduler.runDue(core.clock.now(), core.handlers)).toEqual([]);
    expect((await core.store.getGrant(grant.id))!.status).toBe('active');
    core.clock.set(grant.expiresAt);
    await core.scheduler.runDue(core.clock.now(), core.handlers);
    const ended = (await core.store.getGrant(grant.id))!;
    expect(ended).toMatchObject({
      status: 'revoked',
      revokedAt: grant.expiresAt,
      endReason: 'expired',
      endKind: 'expired',
    });
    expect(session.alive).toBe(false);
    expect(core.engine('orders').users.has(grant.username)).toBe(false);
    const [audit] = await core.store.listAudit({ grantId: grant.id, type: 'grant.revoked' });
    expect(audit?.detail).toMatchObject({ reason: 'expired', sessionsTerminated: 1, user: 'dropped', lateMs: 0 });
    expect(events.filter((e) => e.event === 'grantEnded')).toHaveLength(1);
  });

  it('a revoke job fired before an extended expiry waits again for the new one', async () => {
    const grant = await activeGrant();
    await core.store.transitionGrant(grant.id, ['active'], { expiresAt: grant.expiresAt + 15 * MIN });
    core.clock.set(grant.expiresAt);
    await core.scheduler.runDue(core.clock.now(), core.handlers);
    expect((await core.store.getGrant(grant.id))!.status).toBe('active');
    expect(core.scheduler.job('revoke', grant.id)?.at).toBe(grant.expiresAt + 15 * MIN);
  });

  it('early revoke by the requester ends it now and cancels the revoke job; someone else is refused', async () => {
    const grant = await activeGrant();
    expect((await refusal(revokeAsUser(core.deps, grant.id, mallory))).code).toBe('FORBIDDEN');
    expect((await core.store.getGrant(grant.id))!.status).toBe('active');
    core.clock.advance(5 * MIN);
    const res = await revokeAsUser(core.deps, grant.id, aliceOnTeams);
    expect(res.receipt).toMatchObject({ userOutcome: 'dropped', at: core.clock.now() });
    expect(res.grant).toMatchObject({ status: 'revoked', endReason: 'ended early by Alice', endKind: 'revoked_early' });
    expect(core.scheduler.job('revoke', grant.id)).toBeUndefined();
  });

  it("an approver may end someone else's grant early", async () => {
    const grant = await activeGrant();
    const res = await revokeAsUser(core.deps, grant.id, carol, 'suspicious queries');
    expect(res.grant).toMatchObject({
      status: 'revoked',
      endReason: 'revoked by carol: suspicious queries',
      endKind: 'revoked_early',
    });
  });

  it('an already ended grant is left as it is: no receipt, no engine call, no second audit row', async () => {
    const grant = await activeGrant();
    await revoke(core.deps, grant.id);
    const calls = core.engine('orders').calls.length;
    const again = await revoke(core.deps, grant.id);
    expect(again.receipt).toBeUndefined();
    expect(again.grant.status).toBe('revoked');
    expect(core.engine('orders').calls.length).toBe(calls);
    expect(await audited('grant.revoked')).toBe(1);
  });

  it('a user already gone is success (already_absent)', async () => {
    const grant = await activeGrant();
    core.engine('orders').dropByHand(grant.username);
    const res = await revoke(core.deps, grant.id);
    expect(res.receipt).toMatchObject({ userOutcome: 'already_absent', sessionsTerminated: 0 });
  });

  it('a failing revocation stays revoking and is recorded; past the alert threshold it is flagged once', async () => {
    const grant = await activeGrant();
    const engine = core.engine('orders');
    engine.down = true;
    await expect(revoke(core.deps, grant.id)).rejects.toThrow(/ECONNREFUSED/);
    const first = (await core.store.getGrant(grant.id))!;
    expect(first).toMatchObject({ status: 'revoking', revokeAttempts: 1, revokeFailingSince: core.clock.now() });
    expect(first.lastError).toContain('retryable');
    expect(first.flaggedAt).toBeUndefined();
    core.clock.advance(core.deps.revokeAlertAfterMs);
    await expect(revoke(core.deps, grant.id)).rejects.toThrow();
    expect((await core.store.getGrant(grant.id))!.flaggedAt).toBe(core.clock.now());
    expect(events.filter((e) => e.event === 'revocationStuck')).toHaveLength(1);
    engine.down = false;
    const done = await revoke(core.deps, grant.id);
    expect(done.grant).toMatchObject({ status: 'revoked', revokeAttempts: 3 });
    expect(done.grant.lastError).toBeUndefined();
    expect(engine.users.has(grant.username)).toBe(false);
  });
});

/** Sets a password the way the reveal does (the grant was created with none) and returns it. */
async function revealPassword(grant: Grant): Promise<string> {
  const password = 'P'.repeat(32);
  await core.engine(grant.database).updateUser({ grantId: grant.id, username: grant.username, newPassword: password });
  return password;
}
