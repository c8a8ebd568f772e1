/**
 * Access asked for someone else, through the core on the real SQLite store and the real rate limiter on Redis:
 * who holds it, who may decide, which limits and rates count whom, what the audit says.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCatalog } from '../../src/config/catalog.js';
import type { CoreDeps } from '../../src/core/deps.js';
import { BrokerError } from '../../src/core/errors.js';
import type { Actor } from '../../src/core/model.js';
import { requestAccess } from '../../src/core/asking.js';
import { approve, deny } from '../../src/core/deciding.js';
import { revokeAsUser } from '../../src/core/grant-changes.js';
import { INBOX_LEASE_MS, recordAction, recoverInbox, type InboxEdge } from '../../src/core/inbox.js';
import { approvableBy } from '../../src/core/listing.js';
import { RedisRateLimiter } from '../../src/jobs/rate-limit.js';
import { createLogger } from '../../src/logging.js';
import { migrateLatest, openStateStore, type OpenStateStore } from '../../src/store/index.js';
import { tempSqliteUrl } from '../support/catalog.js';
import { coreDeps } from '../support/core-deps.js';
import { sharedRedisUrl, uniquePrefix } from '../support/redis.js';

const catalog = parseCatalog(
  `databases:
  - name: orders
    engine: postgres
    host: 127.0.0.1
    database: orders
    admin: { user: jit_admin, password: x }
    levels: { read: { roles: [orders_read] }, write: { roles: [orders_write] }, ddl: { roles: [orders_ddl] } }
    maxDuration: 2h
    limits: { pendingRequestsPerPerson: 2, activeGrantsPerPerson: 3 }
    approval:
      approvers: [{ email: alice@example.com }, { email: bob@example.com }, { email: carol@example.com }]
      autoApprove:
        - { levels: [read], maxDuration: 2h }
      breakGlass: { users: [bob@example.com], alertChannel: C0SECURITY, maxDuration: 1h, reviewWithin: 30m }
  - name: billing
    engine: postgres
    host: 127.0.0.1
    database: billing
    admin: { user: jit_admin, password: x }
    levels: { read: { roles: [billing_read] } }
    approval: { approvers: [{ email: carol@example.com }] }
`,
  {},
);

const alice: Actor = { platform: 'slack', id: 'UALICE', email: 'alice@example.com', name: 'alice' };
const bob: Actor = { platform: 'slack', id: 'UBOB', email: 'bob@example.com', name: 'bob' };
/** bob on Teams: the same person by email. */
const bobOnTeams: Actor = { platform: 'teams', id: 'aad-bob', email: 'BOB@example.com', name: 'Bob B.' };
const carol: Actor = { platform: 'slack', id: 'UCAROL', email: 'carol@example.com', name: 'carol' };
const dave: Actor = { platform: 'slack', id: 'UDAVE', email: 'dave@example.com', name: 'dave' };
const erin: Actor = { platform: 'slack', id: 'UERIN', email: 'erin@example.com', name: 'erin' };

const forWhom = (a: Actor) => ({ beneficiary: async () => a });

async function refusal(p: Promise<unknown>): Promise<BrokerError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BrokerError);
  return err as BrokerError;
}

describe('access for someone else', () => {
  let store: OpenStateStore;
  let deps: CoreDeps;
  let redis: Redis;
  const enqueued: number[] = [];

  beforeAll(async () => {
    const url = tempSqliteUrl();
    await migrateLatest(url);
    store = await openStateStore(url);
    redis = new Redis(sharedRedisUrl);
    deps = coreDeps(catalog, store, { enqueued });
  });
  afterAll(async () => {
    await deps.engines.close();
    await store.close();
    redis.disconnect();
  });

  it('the request is held by the person it is for and records who asked; an auto-approval rule does not apply', async () => {
    const req = await requestAccess(
      deps,
      bob,
      { database: 'orders', level: 'read', duration: '1h', reason: 'checking stuck orders' },
      forWhom(alice),
    );
    expect(req.requester).toEqual(alice);
    expect(req.askedBy).toEqual(bob);
    // The rule approves any read up to 2h; a person decides access nobody asked for themselves.
    expect(req.status).toBe('pending');
    const [created] = await store.listAudit({ requestId: req.id, type: 'request.created' });
    expect(created!.actor).toEqual(bob);
    expect(created!.detail).toMatchObject({
      requester: 'bob@example.com',
      beneficiary: 'alice@example.com',
      autoApprove: ['asked for someone else: auto-approval does not apply'],
    });

    // Neither the asker nor the person it is for may decide it, by any account; both refusals are audited.
    for (const who of [bob, bobOnTeams, alice]) {
      const err = await refusal(approve(deps, req.id, who));
      expect(err.code).toBe('SELF_APPROVAL');
      expect((await refusal(deny(deps, req.id, who, 'no'))).code).toBe('SELF_APPROVAL');
    }
    expect((await refusal(approve(deps, req.id, bob))).message).toMatch(/for someone else/);
    const refused = await store.listAudit({ requestId: req.id, type: 'access.refused' });
    expect(refused.map((e) => e.actor.id).sort()).toEqual(
      ['UALICE', 'UALICE', 'UBOB', 'UBOB', 'UBOB', 'aad-bob', 'aad-bob'].sort(),
    );
    expect((await store.getRequest(req.id))!.status).toBe('pending');
    // Nor is it offered to them as something to decide.
    expect((await approvableBy(deps, bob)).map((v) => v.request.id)).not.toContain(req.id);
    expect((await approvableBy(deps, carol)).map((v) => v.request.id)).toContain(req.id);

    // carol approves: the grant is alice's, its user named after her.
    const res = await approve(deps, req.id, carol);
    expect(res.status).toBe('approved');
    const grant = res.status === 'approved' ? res.grant : undefined;
    expect(grant!.requester).toEqual(alice);
    expect(grant!.username).toMatch(/^jit_alice_/);
    expect(enqueued).toContain(grant!.id);
  });

  it('the same level already held by the person it is for becomes an extension of their grant, asked by the asker', async () => {
    const req = await requestAccess(
      deps,
      carol,
      { database: 'billing', level: 'read', duration: '30m', reason: 'first' },
      forWhom(erin),
    );
    // carol asked: she cannot approve it, even from another account with her email.
    expect((await refusal(approve(deps, req.id, { ...carol, id: 'UCAROL2' }))).code).toBe('SELF_APPROVAL');
    const other = await requestAccess(
      deps,
      erin,
      { database: 'billing', level: 'read', duration: '30m', reason: 'mine' },
      forWhom(erin), // for @me: an ordinary request
    );
    expect(other.askedBy).toBeUndefined();
    expect(other.requester).toEqual(erin);
    await deny(deps, other.id, carol, 'one is enough');

    // Give erin a grant directly through an approver who is not party to it, then ask again for her.
    const first = await requestAccess(
      deps,
      dave,
      { database: 'orders', level: 'write', duration: '30m', reason: 'write for erin' },
      forWhom(erin),
    );
    const r = await approve(deps, first.id, carol);
    const g = r.status === 'approved' ? r.grant : undefined;
    expect(g!.requester).toEqual(erin);
    await store.transitionGrant(g!.id, ['provisioning'], { status: 'active', activatedAt: deps.clock.now() });
    const ext = await requestAccess(
      deps,
      dave,
      { database: 'orders', level: 'write', duration: '30m', reason: 'more for erin' },
      forWhom(erin),
    );
    expect(ext).toMatchObject({ extendsGrantId: g!.id, requester: erin, askedBy: dave, status: 'pending' });

    // dave asked, but the grant is erin's: he may not end it (he is no approver). Erin ending it: the e2e tests.
    expect((await refusal(revokeAsUser(deps, g!.id, dave))).code).toBe('FORBIDDEN');
    expect((await store.getGrant(g!.id))!.status).toBe('active');
  });

  it('pending requests count against the person they are for; the refusal names them', async () => {
    const frank: Actor = { platform: 'slack', id: 'UFRANK', email: 'frank@example.com', name: 'frank' };
    const ask = (asker: Actor) =>
      requestAccess(deps, asker, { database: 'orders', level: 'ddl', duration: '10m', reason: 'x' }, forWhom(frank));
    await ask(dave);
    await ask(erin);
    const err = await refusal(ask(carol));
    expect(err.code).toBe('FORBIDDEN');
    expect(err.message).toMatch(/^frank already has 2 request\(s\) waiting on orders/);
  });

  it('a burst of requests for one person is stopped by the asker’s rate, then by the person’s', async () => {
    const gina: Actor = { platform: 'slack', id: 'UGINA', email: 'gina@example.com', name: 'gina' };
    const hank: Actor = { platform: 'slack', id: 'UHANK', email: 'hank@example.com', name: 'hank' };
    const ivan: Actor = { platform: 'slack', id: 'UIVAN', email: 'ivan@example.com', name: 'ivan' };
    // 4 at once per person, then one a minute: the burst is refused within the test.
    const limited: CoreDeps = {
      ...deps,
      requestLimiter: new RedisRateLimiter(
        redis,
        uniquePrefix('for-someone'),
        { capacity: 4, refillMs: 60_000 },
        createLogger('silent'),
      ),
    };
    const ask = (asker: Actor, who: Actor) =>
      requestAccess(limited, asker, { database: 'nope', level: 'read', duration: '10m', reason: 'x' }, forWhom(who));
    // Each attempt takes a token from the asker, then from gina (before the catalog is read: an unknown database).
    for (let i = 0; i < 4; i++) expect((await refusal(ask(hank, gina))).code).toBe('UNKNOWN_DATABASE');
    // hank is out of tokens: refused before gina's bucket is touched.
    const own = await refusal(ask(hank, gina));
    expect(own.code).toBe('RATE_LIMITED');
    expect(own.message).toMatch(/^you have sent too many requests/);
    // gina has spent 4 on hank's behalf: ivan, fresh, is stopped by hers.
    const theirs = await refusal(ask(ivan, gina));
    expect(theirs.code).toBe('RATE_LIMITED');
    expect(theirs.message).toMatch(/^too many requests for gina/);
    const limitedRefusals = (await store.listAudit({ type: 'access.refused' })).filter(
      (e) => e.detail.code === 'RATE_LIMITED',
    );
    expect(limitedRefusals.map((e) => e.actor.id)).toEqual(['UHANK', 'UIVAN']);
  });

  it('break-glass is never for someone else; a resolver that refuses the person is audited as a refusal', async () => {
    const bg = await refusal(
      requestAccess(
        deps,
        bob,
        { database: 'orders', level: 'read', duration: '10m', reason: 'down' },
        { breakGlass: true, ...forWhom(alice) },
      ),
    );
    expect(bg.code).toBe('FORBIDDEN');
    expect(bg.message).toMatch(/only ever for yourself/);
    const outside = await refusal(
      requestAccess(
        deps,
        carol,
        { database: 'billing', level: 'read', duration: '10m', reason: 'x' },
        {
          beneficiary: async () => {
            throw new BrokerError('FORBIDDEN', 'eve is not in this organisation');
          },
        },
      ),
    );
    expect(outside.message).toBe('eve is not in this organisation');
    const audited = (await store.listAudit({ type: 'access.refused' })).filter((e) => e.actor.id === 'UCAROL');
    expect(audited.map((e) => e.detail.reason)).toContain('eve is not in this organisation');
  });

  it('a Slack request "for" someone, recovered after a crash, resolves the person then; an edge that cannot is refused', async () => {
    let now = Date.UTC(2026, 11, 7, 12, 0, 0);
    const clocked: CoreDeps = { ...deps, clock: { now: () => now } };
    const people: Record<string, Actor> = { UBOB: bob, UALICE: alice };
    const asked: string[] = [];
    const edge: InboxEdge = {
      actor: async (a) => people[a.actorId]!,
      person: async (userId) => {
        asked.push(userId);
        if (!people[userId]) throw new BrokerError('FORBIDDEN', `${userId} is not in this organisation`);
        return people[userId]!;
      },
      answer: async () => {},
    };
    const record = (forWhom: string, reason: string) =>
      recordAction(clocked, {
        platform: 'slack',
        kind: 'request',
        actorId: 'UBOB',
        payload: { input: { database: 'billing', level: 'read', duration: '10m', reason }, for: forWhom },
      });
    await record('UALICE', 'recovered for alice'); // recorded, then the process "died"
    await record('UEVE', 'recovered for eve');
    now += INBOX_LEASE_MS + 1;
    expect(await recoverInbox(clocked, { slack: edge })).toBe(2);
    expect(asked).toEqual(['UALICE', 'UEVE']);
    const all = await store.listRequests({});
    expect(all.find((r) => r.reason === 'recovered for alice')).toMatchObject({ requester: alice, askedBy: bob });
    expect(all.find((r) => r.reason === 'recovered for eve')).toBeUndefined();
    const inbox = await store.listInboxActions();
    expect(inbox.find((a) => (a.payload.input as { reason: string }).reason === 'recovered for eve')).toMatchObject({
      status: 'done',
      outcome: expect.stringMatching(/UEVE is not in this organisation/),
    });

    // A platform edge that cannot resolve people refuses the request rather than filing it for the asker.
    await record('UALICE', 'no resolver');
    now += INBOX_LEASE_MS + 1;
    expect(await recoverInbox(clocked, { slack: { ...edge, person: undefined } })).toBe(1);
    expect((await store.listRequests({})).find((r) => r.reason === 'no resolver')).toBeUndefined();
  });
});
