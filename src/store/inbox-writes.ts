/**
 * Inbox rows (chat_inbox) recorded many at a time: the state store's batched inserts (write-batcher.ts) and its
 * single ones. Runs on the knex it is given.
 */
import type { Knex } from 'knex';
import type { InboxAction, NewInboxAction } from '../core/ports.js';
import { INBOX_TABLE, newInboxToRow } from './inbox-rows.js';
import { isUniqueViolation } from './errors.js';
import { num, type Row } from './rows.js';
import type { StoreDialect } from './url.js';

/**
 * Each action is kept unless one with its (platform, dedupe key) is already there, or comes earlier in `actions`:
 * what recording them in turn would do. PostgreSQL: one statement for all that carry a dedupe key.
 */
export async function recordInboxActionsIn(
  knex: Knex,
  dialect: StoreDialect,
  actions: readonly NewInboxAction[],
): Promise<Array<InboxAction | undefined>> {
  const stored = (a: NewInboxAction, id: unknown): InboxAction => ({
    ...a,
    id: num(id, 'chat_inbox.id'),
    status: 'pending',
    attempts: 1,
  });
  if (dialect === 'mysql') {
    const out: Array<InboxAction | undefined> = [];
    for (const a of actions) {
      try {
        const [id] = (await knex(INBOX_TABLE).insert(newInboxToRow(a))) as unknown[];
        out.push(stored(a, id));
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
        out.push(undefined);
      }
    }
    return out;
  }
  const keyOf = (a: NewInboxAction) => `${a.platform}/${a.dedupeKey}`;
  const first = new Map<string, number>();
  actions.forEach((a, i) => {
    if (a.dedupeKey !== undefined && !first.has(keyOf(a))) first.set(keyOf(a), i);
  });
  const keyed = [...first.values()].map((i) => actions[i]!);
  const out = new Array<InboxAction | undefined>(actions.length).fill(undefined);
  if (keyed.length > 1) {
    const rows = (await knex(INBOX_TABLE)
      .insert(keyed.map(newInboxToRow))
      .onConflict()
      .ignore()
      .returning(['id', 'platform', 'dedupe_key'])) as Row[];
    for (const r of rows) {
      const i = first.get(`${String(r.platform)}/${String(r.dedupe_key)}`);
      if (i !== undefined) out[i] = stored(actions[i]!, r.id);
    }
  }
  for (const [i, a] of actions.entries()) {
    const alone = a.dedupeKey === undefined || (keyed.length === 1 && first.get(keyOf(a)) === i);
    if (!alone) continue;
    const [row] = (await knex(INBOX_TABLE).insert(newInboxToRow(a)).onConflict().ignore().returning('id')) as Row[];
    if (row) out[i] = stored(a, row.id);
  }
  return out;
}
