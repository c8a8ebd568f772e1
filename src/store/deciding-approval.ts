/**
 * PostgreSQL: an approval that decides its request by itself, in one statement — the approval inserted (a second
 * one of the same account or person is ignored, as recordApproval), then, only when it was, the request
 * pending → approved before its deadline (as decideRequest). Both or neither take effect with the transaction.
 */
import type { Knex } from 'knex';
import { TABLES, type Row } from './rows.js';

const IDENTIFIER = /^[a-z_]+$/;

/** The row's columns, quoted (they are the store's own names; checked all the same). */
function columnList(row: Row): string {
  return Object.keys(row)
    .map((c) => {
      if (!IDENTIFIER.test(c)) throw new Error(`state store: unexpected column name ${JSON.stringify(c)}`);
      return `"${c}"`;
    })
    .join(', ');
}

/** `json_populate_record` reads the row's JSON as the table's own column types. */
const statement = (columns: string) => `with
  recorded as (
    insert into ${TABLES.approvals} (${columns})
    select ${columns} from json_populate_record(null::${TABLES.approvals}, ?::json)
    on conflict do nothing
    returning id
  ),
  decided as (
    update ${TABLES.requests} set status = 'approved', decided_at = ?, decision_note = ?
    where id = ? and status = 'pending' and (decide_by is null or decide_by > ?) and exists (select 1 from recorded)
    returning id
  )
select (select count(*) from recorded) as recorded, (select count(*) from decided) as decided`;

export async function recordDecidingApprovalPg(
  knex: Knex,
  row: Row,
  note: string,
): Promise<{ recorded: boolean; decided: boolean }> {
  const at = Number(row.at);
  const res = (await knex.raw(statement(columnList(row)), [
    JSON.stringify(row),
    at,
    note,
    Number(row.request_id),
    at,
  ])) as { rows: Array<{ recorded: string | number; decided: string | number }> };
  const out = res.rows[0];
  return { recorded: Number(out?.recorded) === 1, decided: Number(out?.decided) === 1 };
}
