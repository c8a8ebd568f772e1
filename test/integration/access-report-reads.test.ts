/**
 * The access report reads what its range needs, in a fixed number of statements: the grants held during the range
 * (filtered by the state DB, not every grant ever made), then their requests and approvals together — not two reads
 * per row.
 */
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessReport } from '../../src/audit/report.js';
import type { StateStore } from '../../src/core/ports.js';
import { createKnex, migrateLatest, openStateStore } from '../../src/store/index.js';
import type { KnexStateStore } from '../../src/store/knex-state-store.js';

const SERVER = 'postgres://postgres@127.0.0.1:5432';
const db = `dba_report_${randomBytes(4).toString('hex')}`;
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 10, 2);
let admin: Knex;
let store: StateStore;

beforeAll(async () => {
  admin = createKnex(`${SERVER}/postgres`, { preparedStatements: false });
  await admin.raw(`create database "${db}"`);
  await migrateLatest(`${SERVER}/${db}`);
  store = await openStateStore(`${SERVER}/${db}`);
});

afterAll(async () => {
  await store?.close();
  await admin.raw(`drop database if exists "${db}" with (force)`);
  await admin.destroy();
});

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

    const knex = (store as KnexStateStore).knex;
    const statements: string[] = [];
    const listen = (q: { sql: string }) => statements.push(q.sql);
    knex.on('query', listen);
    let rows;
    try {
      rows = await accessReport(store, T0, T0 + 30 * 24 * HOUR);
    } finally {
      knex.off('query', listen);
    }
    expect(statements).toHaveLength(3);
    expect(rows.map((r) => r.who)).toEqual(Array.from({ length: 30 }, (_, d) => `in${d}@example.com`));
    expect(rows.map((r) => r.approvedBy)).toEqual(Array.from({ length: 30 }, (_, d) => `ok${d}@example.com`));
    expect(rows.every((r) => r.reason.endsWith('on call') && r.durationMs === HOUR)).toBe(true);
  });
});
