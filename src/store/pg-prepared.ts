/**
 * The PostgreSQL state store's knex client: each distinct statement text is prepared once per connection under a
 * name derived from the text, so the server binds and executes it without parsing and planning it again (a third of
 * the state DB's CPU per grant). Bounded: at most {@link MAX_NAMED} texts per knex instance are named (a statement
 * naming a long list of ids, whose text changes with the list's length, stays unnamed), and never BEGIN, COMMIT,
 * ROLLBACK or SAVEPOINT.
 *
 * Two kinds of server answer undo a name:
 * - 0A000 "cached plan must not change result type": a migration changed a table under a `select *` that a
 *   connection had prepared. Every name moves to a new generation (prepared again at first use); the statement is
 *   run again at once outside a transaction, and a transaction is run again by the store (see {@link isStalePlan}).
 * - 26000 / 42P05 (a prepared statement missing, or already there): a pooler in transaction mode sits between the
 *   broker and the server and hands each statement to whichever server connection is free (PgBouncer before 1.21,
 *   or with `max_prepared_statements = 0`). Naming stops for this instance, with a warning naming the setting;
 *   the statement is run again unnamed outside a transaction, and a transaction is run again by the store.
 * `DATABASE_PREPARED_STATEMENTS=false` turns naming off from the start.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Knex } from 'knex';

/** Distinct statement texts one knex instance names; the rest run unnamed. */
export const MAX_NAMED = 300;
/** A statement with more parameters than this is a list of ids of some length: left unnamed. */
const MAX_NAMED_PARAMS = 40;
const TRANSACTION_CONTROL = /^\s*(begin|commit|rollback|savepoint|release)\b/i;

interface PgError {
  code?: unknown;
  message?: unknown;
}

/** A prepared `select *` whose table gained or lost a column since it was prepared. */
export function isStalePlan(err: unknown): boolean {
  const e = err as PgError | undefined;
  return e?.code === '0A000' && typeof e.message === 'string' && e.message.includes('cached plan must not change');
}

/** The statement's name went missing, or was already taken, on the server connection that got it: a pooler. */
export function isPoolerLoss(err: unknown): boolean {
  const code = (err as PgError | undefined)?.code;
  return code === '26000' || code === '42P05';
}

interface QueryObject {
  sql: string;
  bindings?: readonly unknown[];
  options?: Record<string, unknown>;
}

interface KnexPgClient {
  _query(connection: unknown, obj: QueryObject): Promise<unknown>;
  logger: { warn(message: string): void };
  config: object;
}

/** What one knex instance has named, and whether it still names. */
interface Naming {
  names: Map<string, string>;
  generation: number;
  on: boolean;
}

/**
 * Keyed by the knex instance's config: a transaction runs on a client object knex derives from the instance's
 * (Object.create of its class, own fields not copied, `config` shared), and must name as the instance does.
 */
const namings = new WeakMap<object, Naming>();

type KnexPgClientClass = new (config: Knex.Config) => KnexPgClient;

const require = createRequire(import.meta.url);
// knex's own PostgreSQL client (what `client: 'pg'` selects); its typings do not export the class.
const PgClient = require('knex/lib/dialects/postgres/index.js') as KnexPgClientClass;

export class PreparingPgClient extends PgClient {
  private get naming(): Naming {
    let naming = namings.get(this.config);
    if (naming === undefined) namings.set(this.config, (naming = { names: new Map(), generation: 0, on: true }));
    return naming;
  }

  override async _query(connection: unknown, obj: QueryObject): Promise<unknown> {
    const name = this.nameOf(obj);
    if (name === undefined) return super._query(connection, obj);
    const inTransaction = (connection as { __knexTxId?: unknown }).__knexTxId !== undefined;
    try {
      return await super._query(connection, { ...obj, options: { ...obj.options, name } });
    } catch (err) {
      if (isStalePlan(err)) this.nextGeneration(name);
      else if (isPoolerLoss(err)) this.stopNaming();
      else throw err;
      if (inTransaction) throw err;
      return super._query(
        connection,
        this.naming ? { ...obj, options: { ...obj.options, name: this.nameOf(obj) } } : obj,
      );
    }
  }

  private nameOf(obj: QueryObject): string | undefined {
    const naming = this.naming;
    if (!naming.on) return undefined;
    const known = naming.names.get(obj.sql);
    if (known !== undefined) return known;
    if (naming.names.size >= MAX_NAMED || (obj.bindings?.length ?? 0) > MAX_NAMED_PARAMS) return undefined;
    if (TRANSACTION_CONTROL.test(obj.sql)) return undefined;
    const name = `dba${naming.generation}_${createHash('sha1').update(obj.sql).digest('hex').slice(0, 24)}`;
    naming.names.set(obj.sql, name);
    return name;
  }

  /** Names of the failed generation are dropped (once, however many statements hit it at the same time). */
  private nextGeneration(failed: string): void {
    const naming = this.naming;
    if (!failed.startsWith(`dba${naming.generation}_`)) return;
    naming.generation++;
    naming.names = new Map();
  }

  private stopNaming(): void {
    const naming = this.naming;
    if (!naming.on) return;
    naming.on = false;
    this.logger.warn(
      'the state DB lost a prepared statement: a pooler in transaction mode is in between; statements are no ' +
        'longer prepared (set DATABASE_PREPARED_STATEMENTS=false to start that way)',
    );
  }
}
