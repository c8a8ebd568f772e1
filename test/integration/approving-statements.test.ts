/**
 * What one chat approval costs the PostgreSQL state DB: the request read, then one transaction of seven statements —
 * BEGIN, the approval that decides the request, the requester's lock, their live grants, the grant, the audit rows
 * with the inbox row's finish, COMMIT. A statement added here is paid by every grant: this is where it shows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCatalog } from '../../src/config/catalog.js';
import { requestAccess } from '../../src/core/asking.js';
import { approve } from '../../src/core/deciding.js';
import type { CoreDeps } from '../../src/core/deps.js';
import { coreDeps } from '../support/core-deps.js';
import { freshPgStateDb, statementsDuring, type PgStateDb } from '../support/pg-state-db.js';

const catalog = parseCatalog(
  `databases:
  - name: orders
    engine: postgres
    host: 127.0.0.1
    database: orders
    admin: { user: jit_admin, password: x }
    levels: { read: { roles: [orders_read] } }
    maxDuration: 2h
    approval:
      approvers: [{ email: bob@example.com }]
`,
  {},
);

let db: PgStateDb;
let deps: CoreDeps;

beforeAll(async () => {
  db = await freshPgStateDb('dba_approving');
  deps = coreDeps(catalog, db.store);
});

afterAll(async () => {
  await deps?.engines.close();
  await db?.drop();
});

describe('PostgreSQL state DB: one approval', () => {
  it('is the request read and a transaction of seven statements; the audit chain and the inbox row are right', async () => {
    const ada = { platform: 'slack' as const, id: 'UADA', email: 'ada@example.com', name: 'Ada' };
    const bob = { platform: 'slack' as const, id: 'UBOB', email: 'bob@example.com', name: 'Bob' };
    const req = await requestAccess(deps, ada, { database: 'orders', level: 'read', duration: '1h', reason: 'INC-1' });
    const receivedAt = Date.now();
    const action = await db.store.recordInboxAction({
      platform: 'slack',
      kind: 'approve',
      actorId: bob.id,
      requestId: req.id,
      payload: {},
      receivedAt,
      dedupeKey: 'sig:approving-statements',
      claimedBy: 'web-a',
      claimedUntil: receivedAt + 10_000,
    });
    let status: string | undefined;
    const sent = await statementsDuring(db.store, async () => {
      status = (await approve(deps, req.id, bob, undefined, { inboxId: action!.id, receivedAt, attempt: 1 })).status;
    });
    expect(status).toBe('approved');
    const begin = sent.findIndex((s) => /^begin/i.test(s));
    const commit = sent.findIndex((s) => /^commit/i.test(s));
    expect(sent.slice(0, begin).filter((s) => s.includes('"requests"'))).toHaveLength(1);
    const tx = sent.slice(begin, commit + 1);
    expect(tx).toHaveLength(7);
    expect(tx[1]).toMatch(/"?approvals"?[\s\S]*"?requests"?/);
    expect(tx[5]).toMatch(/chat_inbox[\s\S]*audit_head/);

    expect(await db.store.verifyAudit()).toMatchObject({ ok: true, problems: [] });
    expect((await db.store.listAudit({ requestId: req.id })).map((e) => e.type)).toEqual([
      'request.created',
      'approval.recorded',
      'request.approved',
    ]);
    const [done] = (await db.store.listInboxActions({ statuses: ['done'] })).filter((a) => a.id === action!.id);
    expect(done?.outcome).toMatch(/approved: grant #\d+/);
  });
});
