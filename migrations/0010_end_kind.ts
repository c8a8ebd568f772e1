/**
 * Why a grant ended, for code: `grants.end_kind` (see EndKind in src/core/model.ts), beside the words for people
 * in `end_reason`. Grants that ended before this column are given the kind their reason's wording names; a
 * reason that names none (a hand-written one) leaves it NULL. An administrator's revocation was worded like a chat
 * one ("revoked by …"), so old ones are counted as revoked_early.
 */
import type { Knex } from 'knex';

/** end_reason LIKE pattern → end_kind, first match wins. */
const BACKFILL: ReadonlyArray<readonly [pattern: string, kind: string]> = [
  ['expired (sweeper)%', 'overdue'],
  ['expired before it could be provisioned%', 'provision_failed'],
  ['expired%', 'expired'],
  ['provisioning failed%', 'provision_failed'],
  ['revoked by %', 'revoked_early'],
  ['ended early by %', 'revoked_early'],
  ['incident % resolved', 'incident_resolved'],
];

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('grants', (t) => {
    t.string('end_kind', 24).nullable();
  });
  for (const [pattern, kind] of BACKFILL) {
    await knex('grants').whereNull('end_kind').where('end_reason', 'like', pattern).update({ end_kind: kind });
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('grants', (t) => {
    t.dropColumn('end_kind');
  });
}
