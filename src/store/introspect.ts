/** What is in the state database: table names, their columns and rows. For checks and tests, not the hot path. */
import type { Knex } from 'knex';
import { dialectOf } from './connect.js';

/** Every table in the store's database/schema (including knex's bookkeeping tables). */
export async function listTables(knex: Knex): Promise<string[]> {
  let rows: Array<{ name: string }>;
  switch (dialectOf(knex)) {
    case 'sqlite':
      rows = (await knex.raw(
        "select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name",
      )) as Array<{ name: string }>;
      break;
    case 'postgres':
      rows = (
        (await knex.raw(
          "select table_name as name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE' order by table_name",
        )) as { rows: Array<{ name: string }> }
      ).rows;
      break;
    case 'mysql':
      rows = (
        (await knex.raw(
          "select table_name as name from information_schema.tables where table_schema = database() and table_type = 'BASE TABLE' order by table_name",
        )) as [Array<{ name: string }>, unknown]
      )[0];
      break;
  }
  return rows.map((r) => String(r.name ?? (r as Record<string, unknown>).NAME));
}

export interface TableDump {
  columns: string[];
  rows: Array<Record<string, unknown>>;
}

/** Columns and every row of every table. */
export async function dumpTables(knex: Knex): Promise<Record<string, TableDump>> {
  const out: Record<string, TableDump> = {};
  for (const table of await listTables(knex)) {
    const info = await knex(table).columnInfo();
    out[table] = {
      columns: Object.keys(info),
      rows: (await knex(table).select('*')) as Array<Record<string, unknown>>,
    };
  }
  return out;
}
