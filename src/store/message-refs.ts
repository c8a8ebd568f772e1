/**
 * Chat message references (chat_messages) written many at a time: the state store's batched saves and version
 * claims (write-batcher.ts), and its one-at-a-time calls inside a transaction. Each function runs on the knex it is
 * given.
 */
import type { Knex } from 'knex';
import type { MessageRef } from '../core/ports.js';
import { TABLES, messageRefToRow, type Row } from './rows.js';
import type { StoreDialect } from './url.js';

export interface VersionClaim {
  ref: Pick<MessageRef, 'requestId' | 'platform' | 'kind'>;
  version: number;
}

const refKey = (r: { requestId: unknown; platform: string; kind: string }) =>
  `${String(r.requestId)}/${r.platform}/${r.kind}`;

/** One upsert for all; of several for the same message, the last (what saving them in turn would leave). */
export async function saveMessageRefsIn(knex: Knex, refs: readonly MessageRef[]): Promise<void[]> {
  const rows = [...new Map(refs.map((r) => [refKey(r), messageRefToRow(r)])).values()];
  await knex(TABLES.chatMessages)
    .insert(rows)
    .onConflict(['request_id', 'platform', 'kind'])
    .merge(['channel', 'message_id', 'version']);
  return refs.map(() => undefined);
}

/**
 * Each claim wins when its message shows an older version. Of several claims on one message, only the first of the
 * highest version can win: a lower one would draw a state already superseded. PostgreSQL: one statement for all;
 * elsewhere one each.
 */
export async function claimMessageVersionsIn(
  knex: Knex,
  dialect: StoreDialect,
  claims: readonly VersionClaim[],
): Promise<boolean[]> {
  const best = new Map<string, number>();
  claims.forEach((c, i) => {
    const held = best.get(refKey(c.ref));
    if (held === undefined || claims[held]!.version < c.version) best.set(refKey(c.ref), i);
  });
  const contenders = [...best.values()].map((i) => claims[i]!);
  const won = new Set<string>();
  if (contenders.length === 1 || dialect !== 'postgres') {
    for (const { ref, version } of contenders) {
      const changed = await knex(TABLES.chatMessages)
        .where({ request_id: ref.requestId, platform: ref.platform, kind: ref.kind })
        .where('version', '<', version)
        .update({ version });
      if (changed === 1) won.add(refKey(ref));
    }
  } else {
    const { rows } = (await knex.raw(
      `update ${TABLES.chatMessages} as m set version = v.version
         from (values ${contenders.map(() => '(?::integer, ?, ?, ?::bigint)').join(', ')})
           as v(request_id, platform, kind, version)
        where m.request_id = v.request_id and m.platform = v.platform and m.kind = v.kind and m.version < v.version
        returning m.request_id, m.platform, m.kind`,
      contenders.flatMap((c) => [c.ref.requestId, c.ref.platform, c.ref.kind, c.version]),
    )) as { rows: Row[] };
    for (const r of rows)
      won.add(refKey({ requestId: r.request_id, platform: String(r.platform), kind: String(r.kind) }));
  }
  return claims.map((c, i) => best.get(refKey(c.ref)) === i && won.has(refKey(c.ref)));
}
