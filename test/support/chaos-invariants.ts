/**
 * The chaos suite's one invariant checker, run after every fault case (test/chaos). Given the state store, the
 * engines and a probe per target server, it lists every violation of:
 *
 *   I1 no orphan       — every user carrying the broker's marker (and, on a server private to the test, every
 *                        `jit_` user) belongs to a live grant; no ended grant's user still exists;
 *   I2 no live session — no ended grant's user has a session;
 *   I3 one user each   — every approved request has exactly one grant, every grant at most one marked user and at
 *                        most one `grant.provisioned` row;
 *   I4 never early     — a grant revoked because it expired has revokedAt ≥ expiresAt (and its audit row agrees);
 *   I5 terminal        — (when the case has ended) no request pending, no grant provisioning/active/revoking;
 *   I6 audited         — every step has its audit row (request.created, request.approved | grant.admin_issued,
 *                        grant.provisioned once per activated grant, grant.revoked once per revoked grant,
 *                        grant.provision_failed for a failed one) and `verifyAudit()` is ok.
 *
 *   const v = await invariantViolations({ store, engines, targets: [pgProbe(target)] });
 *   expect(v).toEqual([]);
 */
import type { AuditEvent, Grant } from '../../src/core/model.js';
import { LIVE_GRANT_STATUSES } from '../../src/core/model.js';
import type { EngineRegistry, StateStore } from '../../src/core/ports.js';
import { gid } from './ids.js';

/** How the checker looks at one target database (as a superuser / root, never through the broker). */
export interface TargetProbe {
  /** Catalog name. */
  database: string;
  userExists(username: string): Promise<boolean>;
  sessionsOf(username: string): Promise<number>;
  /** Every `jit_` user on the server — only for a server private to the test (others' users would count). */
  jitUsers?(): Promise<string[]>;
}

export interface InvariantInput {
  store: StateStore;
  engines: EngineRegistry;
  targets: TargetProbe[];
  /** Only these requests and their grants (default: everything in the store). */
  requestIds?: readonly number[];
  /** I5 applies (default true): the case is over, so everything must have reached a terminal state. */
  terminal?: boolean;
}

const ended = (g: Grant) => !LIVE_GRANT_STATUSES.includes(g.status);

export async function invariantViolations(input: InvariantInput): Promise<string[]> {
  const { store, engines, targets } = input;
  const scope = input.requestIds ? new Set(input.requestIds) : undefined;
  const out: string[] = [];
  const allGrants = await store.listGrants({});
  const grants = scope ? allGrants.filter((g) => scope.has(g.requestId)) : allGrants;
  const requests = (await store.listRequests({})).filter((r) => !scope || scope.has(r.id));
  const audit = await store.listAudit({});
  const byGrant = new Map<number, AuditEvent[]>();
  const byRequest = new Map<number, AuditEvent[]>();
  for (const e of audit) {
    if (e.grantId !== undefined) byGrant.set(e.grantId, [...(byGrant.get(e.grantId) ?? []), e]);
    if (e.requestId !== undefined) byRequest.set(e.requestId, [...(byRequest.get(e.requestId) ?? []), e]);
  }
  const auditOf = (g: Grant, type: AuditEvent['type']) => (byGrant.get(g.id) ?? []).filter((e) => e.type === type);
  const grantById = new Map(allGrants.map((g) => [g.id, g]));
  const probeOf = new Map(targets.map((t) => [t.database, t]));
  const liveUsers = new Set(allGrants.filter((g) => !ended(g)).map((g) => g.username));

  // I1 + I3: what the targets hold.
  for (const t of targets) {
    const managed = await engines.get(t.database).listManagedUsers();
    const usersOf = new Map<number, string[]>();
    for (const m of managed) {
      usersOf.set(m.grantId, [...(usersOf.get(m.grantId) ?? []), m.username]);
      const grant = grantById.get(gid(m.grantId));
      if (!grant || ended(grant) || grant.username !== m.username)
        out.push(
          `I1 orphan on ${t.database}: ${m.username} (marker grant #${m.grantId}, grant ${grant ? grant.status : 'missing'})`,
        );
    }
    for (const [grantId, users] of usersOf)
      if (users.length > 1)
        out.push(`I3 grant #${grantId} has ${users.length} users on ${t.database}: ${users.join(', ')}`);
    for (const u of (await t.jitUsers?.()) ?? [])
      if (!liveUsers.has(u)) out.push(`I1 unmarked or orphaned jit_ user on ${t.database}: ${u}`);
  }

  // I1 + I2: an ended grant leaves no user and no session behind (probed 16 at a time: cases end thousands).
  const endedGrants = grants.filter(ended);
  for (let i = 0; i < endedGrants.length; i += 16) {
    await Promise.all(
      endedGrants.slice(i, i + 16).map(async (g) => {
        const probe = probeOf.get(g.database);
        if (!probe) return;
        if (await probe.userExists(g.username))
          out.push(`I1 grant #${g.id} is ${g.status} but ${g.username} still exists`);
        const sessions = await probe.sessionsOf(g.username);
        if (sessions > 0)
          out.push(`I2 grant #${g.id} is ${g.status} but ${g.username} has ${sessions} live session(s)`);
      }),
    );
  }

  for (const g of grants) {
    // I4: never early.
    if (g.status === 'revoked' && (g.endKind === 'expired' || g.endKind === 'overdue')) {
      if (g.revokedAt === undefined || g.revokedAt < g.expiresAt)
        out.push(`I4 grant #${g.id} revoked early: revokedAt ${g.revokedAt} < expiresAt ${g.expiresAt}`);
      for (const e of auditOf(g, 'grant.revoked'))
        if (e.at < g.expiresAt)
          out.push(`I4 grant #${g.id}: grant.revoked audited at ${e.at} < expiresAt ${g.expiresAt}`);
    }
    // I5.
    if (input.terminal !== false && !ended(g)) out.push(`I5 grant #${g.id} is still ${g.status}`);
    // I3 + I6: the grant's steps, each audited the right number of times.
    const provisioned = auditOf(g, 'grant.provisioned').length;
    if (provisioned > 1) out.push(`I3 grant #${g.id} provisioned ${provisioned} times`);
    if (g.activatedAt !== undefined && provisioned !== 1)
      out.push(`I6 grant #${g.id} was activated but has ${provisioned} grant.provisioned rows`);
    const revokedRows = auditOf(g, 'grant.revoked').length;
    if (g.status === 'revoked' && revokedRows !== 1)
      out.push(`I6 grant #${g.id} is revoked with ${revokedRows} grant.revoked rows`);
    if (g.status === 'failed') {
      if (auditOf(g, 'grant.provision_failed').length === 0)
        out.push(`I6 grant #${g.id} failed without a grant.provision_failed row`);
      if (revokedRows > 1) out.push(`I6 grant #${g.id} failed with ${revokedRows} grant.revoked rows`);
    }
    if (auditOf(g, 'request.approved').length + auditOf(g, 'grant.admin_issued').length !== 1)
      out.push(`I6 grant #${g.id} lacks exactly one request.approved / grant.admin_issued row`);
  }

  const grantsPerRequest = new Map<number, number>();
  for (const g of grants) grantsPerRequest.set(g.requestId, (grantsPerRequest.get(g.requestId) ?? 0) + 1);
  for (const r of requests) {
    if (input.terminal !== false && r.status === 'pending') out.push(`I5 request #${r.id} is still pending`);
    const types = new Set((byRequest.get(r.id) ?? []).map((e) => e.type));
    if (!types.has('grant.admin_issued') && !types.has('request.created'))
      out.push(`I6 request #${r.id} has no request.created row`);
    if (r.status === 'approved' && r.extendsGrantId === undefined) {
      const n = grantsPerRequest.get(r.id) ?? 0;
      if (n !== 1) out.push(`I3 approved request #${r.id} has ${n} grants`);
    }
  }

  const chain = await store.verifyAudit();
  if (!chain.ok) out.push(`I6 audit chain broken: ${JSON.stringify(chain.problems.slice(0, 3))}`);
  return out;
}
