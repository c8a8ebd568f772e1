/**
 * The access report reads what its range needs, in a fixed number of statements: the grants held during the range
 * (filtered by the state DB, not every grant ever made), then their requests and approvals together — not two reads
 * per row.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessReport, type AccessRow } from '../../src/audit/report.js';
import type { StateStore } from '../../src/core/ports.js';
import { freshPgStateDb, statementsDuring, type PgStateDb } from '../support/pg-state-db.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 10, 2);
let db: PgStateDb;
let store: StateStore;

beforeAll(async () => {
  db = await freshPgStateDb('dba_report');
  store = db.store;
});

afterAll(() => db?.drop());

/** A grant of `who`, active from `from` for an hour, approved by `approver`. */
async function heldGrant(who: string, from: number, approver: string): Promise<void> {
  const requester = { platform: 'slack' as const, id: `U${who.toUpperCase()}`, email: `${who}@example.com` };
  const req = await store.createRequest({
    requester,
    database: 'orders',
    level: 'read',
    durationMs: HOUR,
    reason: `${who} on call`,
    status: 'approved',
    requiredApprovals: 1,
    createdAt: from,
    approvers: [],
    tier: 0,
    breakGlass: false,
  });
  await store.recordApproval({
    requestId: req.id,
    approver: { platform: 'slack', id: 'UAPPROVER', email: `${approver}@example.com` },
    decision: 'approve',
    at: from,
  });
  const grant = await store.createGrant({
    requestId: req.id,
    requester,
    database: 'orders',
    level: 'read',
    username: `dba_${who}_${randomBytes(3).toString('hex')}`,
    createdAt: from,
    expiresAt: from + HOUR,
  });
  await store.transitionGrant(grant.id, ['provisioning'], { status: 'active', activatedAt: from });
  await store.transitionGrant(grant.id, ['active'], { status: 'revoked', revokedAt: from + HOUR });
}

describe('access report: reads', () => {
  it('three statements for a month of grants, whatever their number; only grants held in the range come back', async () => {
    for (let day = 0; day < 30; day++) await heldGrant(`in${day}`, T0 + day * 24 * HOUR, `ok${day}`);
    for (let day = 1; day <= 30; day++) await heldGrant(`before${day}`, T0 - day * 24 * HOUR, 'old');

    let rows: AccessRow[] = [];
    const statements = await statementsDuring(store, async () => {
      rows = await accessReport(store, T0, T0 + 30 * 24 * HOUR);
    });
    expect(statements).toHaveLength(3);
    expect(rows.map((r) => r.who)).toEqual(Array.from({ length: 30 }, (_, d) => `in${d}@example.com`));
    expect(rows.map((r) => r.approvedBy)).toEqual(Array.from({ length: 30 }, (_, d) => `ok${d}@example.com`));
    expect(rows.every((r) => r.reason.endsWith('on call') && r.durationMs === HOUR)).toBe(true);
  });
});
