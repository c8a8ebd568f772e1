/**
 * The target servers the broker issues users on, one per engine, each private to this run:
 * - PostgreSQL: a cluster of its own (test/support/pg-cluster.ts: initdb, scram-sha-256, a free port), switched
 *   back to durable settings (fsync, synchronous_commit, full_page_writes on; no statement log) so its timings are
 *   a production server's. Why not the machine's cluster on 5432: the broker's orphan sweep looks at every `jit_`
 *   role carrying a db-access marker server-wide, so two installations on one server (this bench and anyone's demo
 *   or test) would drop each other's users.
 * - MariaDB: throwaway database, roles, broker schema and least-privilege admin on the machine's server
 *   (test/support/mariadb-target.ts); its marker table is per broker schema, so nothing is shared.
 * Both admins are created by the documented setup SQL; the catalog names are `pg-bench` and `mariadb-bench`.
 */
import { readFile } from 'node:fs/promises';
import type { DatabaseEntry } from '../src/core/catalog.js';
import { setupMariadbTarget } from '../test/support/mariadb-target.js';
import { setupPgTarget, startScramCluster } from '../test/support/pg-cluster.js';
import type { EngineName } from './knobs.js';
import { postmasterOf } from './process-cpu.js';
import type { Teardown } from './teardown.js';

export interface BenchTarget {
  engine: EngineName;
  /** Catalog entry (admin = the least-privilege admin). */
  entry: DatabaseEntry;
  /** Role a `read` grant is given (the floor grants the same one). */
  readRole: string;
  /** e.g. "PostgreSQL 15.20 (fsync on)". */
  version: string;
  /** Whether a user of that name exists on the server (checked after revocation). */
  userExists(username: string): Promise<boolean>;
  /** The server's root process (postmaster, mariadbd), for its CPU. */
  serverPid(): Promise<number>;
}

const DURABLE = [
  'ALTER SYSTEM SET fsync = on',
  'ALTER SYSTEM SET synchronous_commit = on',
  'ALTER SYSTEM SET full_page_writes = on',
  "ALTER SYSTEM SET log_statement = 'none'",
];

export async function startPostgresTarget(teardown: Teardown): Promise<BenchTarget> {
  const cluster = await startScramCluster();
  teardown.defer('stop the private PostgreSQL cluster', () => cluster.stop());
  for (const sql of DURABLE) await cluster.query(sql);
  await cluster.query('SELECT pg_reload_conf()');
  const target = await setupPgTarget(cluster, { database: 'benchdb' });
  const [fsync] = await cluster.query('SHOW fsync');
  return {
    engine: 'postgres',
    entry: { ...target.entry, name: 'pg-bench' },
    readRole: target.levels.read.roles[0]!,
    version: `PostgreSQL ${cluster.version.split(' ')[0]} (private cluster, fsync ${String(fsync?.fsync)})`,
    userExists: (u) => target.userExists(u),
    serverPid: async () => {
      const c = await cluster.connect();
      try {
        return await postmasterOf(c);
      } finally {
        await c.end();
      }
    },
  };
}

export async function startMariadbTarget(teardown: Teardown): Promise<BenchTarget> {
  const target = await setupMariadbTarget({ name: 'mariadb-bench' });
  teardown.defer('drop the MariaDB target (users, roles, schemas, admin)', () => target.teardown());
  const [row] = await target.query('SELECT VERSION() AS v, @@event_scheduler AS ev');
  return {
    engine: 'mariadb',
    entry: target.entry,
    readRole: target.names.readRole,
    version: `MariaDB ${String(row?.v)} (event_scheduler ${String(row?.ev)})`,
    userExists: (u) => target.userExists(u),
    serverPid: async () =>
      Number((await readFile(String((await target.query('SELECT @@pid_file AS f'))[0]!.f), 'utf8')).trim()),
  };
}
