/**
 * Chat message references and version claims made at once from one PostgreSQL store go to the server together:
 * a provisioning batch saves a DM reference and claims an approval-message version per grant, and each would
 * otherwise be a statement and a commit of its own. Answers are checked in the state-store contract; this counts the
 * statements the server is sent.
 */
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MessageRef, StateStore } from '../../src/core/ports.js';
import { createKnex, migrateLatest, openStateStore } from '../../src/store/index.js';
import type { KnexStateStore } from '../../src/store/knex-state-store.js';

const SERVER = 'postgres://postgres@127.0.0.1:5432';
const db = `dba_refbatch_${randomBytes(4).toString('hex')}`;
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

/** The chat_messages statements the store's knex sends while `fn` runs. */
async function statementsDuring(fn: () => Promise<unknown>): Promise<string[]> {
  const knex = (store as KnexStateStore).knex;
  const seen: string[] = [];
  const listen = (q: { sql: string }) => {
    if (q.sql.includes('chat_messages')) seen.push(q.sql);
  };
  knex.on('query', listen);
  try {
    await fn();
  } finally {
    knex.off('query', listen);
  }
  return seen;
}

describe('PostgreSQL state store: message references in batches', () => {
  it('saves and claims made at once cost a statement or two, not one each', async () => {
    const requests = await Promise.all(
      Array.from({ length: 30 }, () =>
        store.createRequest({
          requester: { platform: 'slack', id: 'U0ADA', email: 'ada@example.com', name: 'Ada' },
          database: 'orders-prod',
          level: 'read',
          durationMs: 60_000,
          reason: 'batch',
          status: 'pending',
          requiredApprovals: 1,
          createdAt: Date.now(),
          approvers: [],
          tier: 0,
          breakGlass: false,
        }),
      ),
    );
    const ref = (i: number): MessageRef => ({
      requestId: requests[i]!.id,
      platform: 'slack',
      kind: 'approval',
      channel: 'C1',
      messageId: `${i}.0`,
      version: 1,
    });

    const saves = await statementsDuring(() => Promise.all(requests.map((_, i) => store.saveMessageRef(ref(i)))));
    expect(saves.length).toBeLessThanOrEqual(2);
    expect(await store.listMessageRefsFor(requests.map((r) => r.id))).toEqual(requests.map((_, i) => ref(i)));

    let won: boolean[] = [];
    const claims = await statementsDuring(async () => {
      won = await Promise.all(requests.map((_, i) => store.claimMessageVersion(ref(i), i % 3 === 0 ? 1 : 2)));
    });
    expect(claims.length).toBeLessThanOrEqual(2);
    expect(won).toEqual(requests.map((_, i) => i % 3 !== 0));
    expect((await store.listMessageRefsFor(requests.map((r) => r.id))).map((r) => r.version)).toEqual(
      requests.map((_, i) => (i % 3 === 0 ? 1 : 2)),
    );

    // One alone is one statement, as before.
    expect(await statementsDuring(() => store.claimMessageVersion(ref(0), 5))).toHaveLength(1);
  });
});
