/**
 * The handed-out PostgreSQL command, run as a person runs it: pasted into a POSIX shell that starts the real `psql`,
 * against a throwaway scram-sha-256 cluster (so a wrong or missing password is refused). It must log in as the
 * issued user, and while psql runs, no process on the machine may show the password in its arguments (`ps`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { escapeIdentifier } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCredentials, type Credentials } from '../../src/core/credentials.js';
import type { DatabaseEntry } from '../../src/core/catalog.js';
import { generatePassword, generateUsername } from '../../src/core/identifiers.js';
import type { DatabaseEngine } from '../../src/core/ports.js';
import { createPostgresEngine } from '../../src/targets/postgres/index.js';
import { capturingLogger } from '../support/logs.js';
import { setupPgTarget, startScramCluster, type PgCluster, type PgTarget } from '../support/pg-cluster.js';
import { waitFor } from '../support/wait.js';
import { oneUser } from '../support/one-user.js';

/** A database name that needs quoting in the conninfo and in the shell (the catalog allows `$`). */
const ODD_DATABASE = "it's a $db";

describe('the handed-out psql command, with the real psql', () => {
  let cluster: PgCluster;
  let target: PgTarget;
  let engine: DatabaseEngine;
  let home: string;
  let grantId = 910_000 + Math.floor(Math.random() * 80_000);
  const made: string[] = [];

  /** A user issued the way the worker issues it, and the credentials handed to the person for `db`. */
  async function issue(db: DatabaseEntry): Promise<Credentials> {
    const username = generateUsername('creds.psql@example.com');
    const password = generatePassword();
    const expiresAt = Date.now() + 3_600_000;
    made.push(username);
    await oneUser(engine).newUser({ grantId: grantId++, username, password, expiresAt, level: target.levels.read });
    return buildCredentials(db, username, password, expiresAt);
  }

  /** The environment of someone's terminal with no libpq defaults: no PG* variables, no ~/.pgpass. */
  const cleanEnv = () => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, LANG: 'C.UTF-8' });

  /** `script` as typed into sh: sh reads it from stdin, so sh's own argument list is just `sh`. */
  function sh(
    script: string,
  ): ChildProcess & { done: Promise<{ code: number | null; stdout: string; stderr: string }> } {
    const child = spawn('sh', ['-s'], { env: cleanEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
      child.on('close', (code) => resolve({ code, stdout, stderr })),
    );
    child.stdin!.end(`${script}\n`);
    return Object.assign(child, { done });
  }

  beforeAll(async () => {
    expect(spawnSync('psql', ['--version']).status, 'psql must be installed').toBe(0);
    home = mkdtempSync(join(tmpdir(), 'db-access-home-'));
    cluster = await startScramCluster();
    target = await setupPgTarget(cluster);
    await cluster.query(`CREATE DATABASE ${escapeIdentifier(ODD_DATABASE)}`);
    engine = createPostgresEngine(target.entry, { logger: capturingLogger().logger });
  }, 120_000);

  afterAll(async () => {
    for (const u of made) {
      if (!engine) break;
      await oneUser(engine)
        .disableUser(u)
        .catch(() => undefined);
      await oneUser(engine)
        .deleteUser(u)
        .catch(() => undefined);
    }
    await engine?.close();
    await cluster?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
  }, 60_000);

  it('logs in as the issued user, in the named database, with the password from the environment', async () => {
    const c = await issue(target.entry);
    expect(c.command).toMatch(/^PGPASSWORD='[A-Za-z0-9]{32}' psql '/);
    const res = await sh(`${c.command} -X -A -t -c 'select current_user, current_database()'`).done;
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout.trim()).toBe(`${c.username}|${target.entry.database}`);
  });

  it('quotes a database name with a quote, spaces and a $ correctly for the shell and for libpq', async () => {
    const c = await issue({ ...target.entry, database: ODD_DATABASE });
    const res = await sh(`${c.command} -X -A -t -c 'select current_user, current_database()'`).done;
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout.trim()).toBe(`${c.username}|${ODD_DATABASE}`);
  });

  it('the password is what lets it in: the same command without PGPASSWORD is refused (the cluster checks passwords)', async () => {
    const c = await issue(target.entry);
    const withoutPassword = c.command.replace(/^PGPASSWORD='[A-Za-z0-9]+' /, '');
    expect(withoutPassword).toMatch(/^psql '/);
    const res = await sh(`${withoutPassword} -w -X -A -t -c 'select current_user'`).done;
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/password/i);
  });

  it('while psql runs, `ps` shows its arguments without the password; only its own environment holds it', async () => {
    const c = await issue(target.entry);
    const run = sh(`${c.command} -X -A -t -c 'select pg_sleep(3)'`);
    try {
      // The session is open (so psql has started and authenticated) …
      await waitFor('the psql session', async () => (await target.sessionsOf(c.username)) > 0, { timeoutMs: 10_000 });
      // … and this is what anyone on the machine sees.
      const ps = spawnSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
      expect(ps.status).toBe(0);
      const processes = ps.stdout
        .split('\n')
        .map((l) => /^\s*(\d+)\s(.*)$/.exec(l))
        .filter((m) => m !== null)
        .map((m) => ({ pid: Number(m[1]), args: m[2]! }));
      // Debian's psql is a wrapper that execs /usr/lib/postgresql/<v>/bin/psql with the same arguments.
      const psql = processes.filter((p) => /^(\S*\/)?psql /.test(p.args) && p.args.includes(c.username));
      expect(psql, ps.stdout).toHaveLength(1);
      expect(psql[0]!.args.replace(/^\S*\/psql /, 'psql ')).toBe(
        `psql host=${c.host} port=${c.port} dbname=${c.database} user=${c.username} -X -A -t -c select pg_sleep(3)`,
      );
      expect(ps.stdout).not.toContain(c.password);
      const pid = psql[0]!.pid;
      expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).not.toContain(c.password);
      expect(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')).toContain(`PGPASSWORD=${c.password}`);
    } finally {
      const res = await run.done;
      expect(res.code, res.stderr).toBe(0);
    }
  });
});
