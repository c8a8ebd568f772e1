/**
 * The core's part of "what was done with the access", on in-memory fakes: the sweep samples each target SERVER once
 * (catalog databases sharing a host and port share the query), sessions are recorded and audited once, the
 * revocation ties the open ones to it and carries the activity into the receipt; and the receipt's sentence escapes
 * what the server reported (application names are the client's choice).
 */
import { describe, expect, it } from 'vitest';
import { parseCatalog } from '../../src/config/catalog.js';
import type { DatabaseEntry } from '../../src/core/catalog.js';
import { createAdminGrant } from '../../src/core/asking.js';
import { provision, revoke } from '../../src/core/lifecycle.js';
import { sampleSessions } from '../../src/core/activity.js';
import type { ObservedSession } from '../../src/core/ports.js';
import { loadRequestView } from '../../src/core/view.js';
import { revocationReceipt } from '../../src/chat/slack/blocks/receipt.js';
import { receiptMessage } from '../../src/chat/teams/cards/replies.js';
import { memoryCore } from '../../dev/fakes/core-deps.js';
import { recordingNotifier } from '../support/notifiers.js';

const entry = (name: string, host: string) => `  - name: ${name}
    engine: postgres
    host: ${host}
    database: ${name}
    admin: { user: jit_admin, password: x }
    levels: { read: { roles: [r] } }
    approval: { approvers: [{ email: bob@example.com }] }
`;
const databases: DatabaseEntry[] = [
  ...parseCatalog(
    `databases:\n${entry('a', '10.0.0.1')}${entry('b', '10.0.0.1')}${entry('c', '10.0.0.2')}`,
    {},
  ).databases.values(),
];
const admin = { platform: 'cli' as const, id: 'cli:admin' };

async function world() {
  const core = memoryCore(databases, { notifier: recordingNotifier(), engine: { roles: { r: ['select'] } } });
  const grant = async (database: string, who: string) => {
    const { grant } = await createAdminGrant(
      core.deps,
      admin,
      { platform: 'cli', id: `email:${who}`, email: who },
      { database, level: 'read', duration: '1h', reason: 'activity' },
    );
    const res = await provision(core.deps, grant.id, { credentials: true });
    if (res.outcome !== 'active') throw new Error('not active');
    return { grant: res.grant, password: res.credentials!.password };
  };
  return { core, grant };
}

describe('session sampling', () => {
  it('asks each server once per sweep, for the users of every catalog database on it', async () => {
    const { core, grant } = await world();
    const g1 = await grant('a', 'ada@example.com');
    const g2 = await grant('b', 'bea@example.com');
    const g3 = await grant('c', 'cy@example.com');
    core.engine('a').connect(g1.grant.username, g1.password);

    const report = await sampleSessions(core.deps);

    const calls = (db: string) => core.engine(db).calls.filter((c) => c.op === 'observeSessions');
    expect(report.servers).toBe(2);
    expect(calls('a').map((c) => c.usernames.sort())).toEqual([[g1.grant.username, g2.grant.username].sort()]);
    expect(calls('b')).toEqual([]);
    expect(calls('c').map((c) => c.usernames)).toEqual([[g3.grant.username]]);
    expect(report).toMatchObject({ sessionsSeen: 1, firstSeen: 1, unreachable: [] });
    expect(await core.store.listAudit({ type: 'session.seen' })).toHaveLength(1);
    // Seen again: not audited again.
    core.clock.advance(1_000);
    expect(await sampleSessions(core.deps)).toMatchObject({ sessionsSeen: 1, firstSeen: 0 });
    expect(await core.store.listAudit({ type: 'session.seen' })).toHaveLength(1);
  });

  it('a server that cannot be asked is reported and skipped; the others are still sampled', async () => {
    const { core, grant } = await world();
    await grant('a', 'ada@example.com');
    const g3 = await grant('c', 'cy@example.com');
    core.engine('c').connect(g3.grant.username, g3.password);
    core.engine('a').down = true;
    const report = await sampleSessions(core.deps);
    expect(report.unreachable).toEqual(['a']);
    expect(report.sessionsSeen).toBe(1);
  });

  it('the revocation ties open sessions to it; the receipt carries them, escaped, and says statements are not available', async () => {
    const { core, grant } = await world();
    const g = await grant('a', 'ada@example.com');
    const engine = core.engine('a');
    engine.connect(g.grant.username, g.password);
    // What a client may call itself: markup and a mention.
    const observe = engine.observeSessions.bind(engine);
    engine.observeSessions = async (names): Promise<ObservedSession[]> =>
      (await observe(names)).map((s) => ({ ...s, clientAddress: '10.0.4.7', application: '*boss* <!channel> `x`' }));
    await sampleSessions(core.deps);
    core.clock.advance(60_000);

    const res = await revoke(core.deps, g.grant.id, admin, 'done', 'admin');
    expect(res.receipt?.activity).toMatchObject({
      sessions: [{ clientAddress: '10.0.4.7', count: 1, endedByRevocation: 1 }],
      statements: { available: false },
    });
    const view = await loadRequestView(core.deps, g.grant.requestId);
    expect(view.receipt?.activity).toEqual(res.receipt?.activity); // read back from the audit row
    const slack = JSON.stringify(revocationReceipt(view));
    expect(slack).toContain('1 session from 10.0.4.7');
    expect(slack).toContain('statements not available: the in-memory server keeps no statement statistics');
    expect(slack).toContain('&lt;!channel&gt;');
    expect(slack).not.toContain('<!channel>');
    const teams = JSON.stringify(receiptMessage(view));
    expect(teams).toContain('1 session from 10.0.4.7');
  });
});
