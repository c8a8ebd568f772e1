/**
 * core/credentials.ts: the handed-out command, run by a real POSIX shell (dash, and bash) in front of a stand-in
 * `psql` / `mysql` that records the argument list it was started with (what `ps` shows anyone on the machine) and
 * the password variable in its environment. The password must be in the environment and nowhere in the arguments,
 * and every value must reach the client intact whatever characters it holds.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HOST } from '../../src/config/catalog-schema.js';
import type { DatabaseEntry } from '../../src/core/catalog.js';
import { buildCredentials, type Credentials } from '../../src/core/credentials.js';

const dir = mkdtempSync(join(tmpdir(), 'db-access-creds-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// The stand-in client: its argv (after the shell parsed the command) and its password variables, NUL-separated.
for (const tool of ['psql', 'mysql']) {
  const path = join(dir, tool);
  writeFileSync(
    path,
    `#!/bin/sh\nprintf '%s\\0' "$@" > "$ARGV_OUT"\nprintf '%s\\0' "\${PGPASSWORD-(unset)}" "\${MYSQL_PWD-(unset)}" > "$ENV_OUT"\n`,
  );
  chmodSync(path, 0o755);
}

const SHELLS = ['dash', 'bash'].filter((s) => spawnSync(s, ['-c', 'true']).status === 0);

interface Run {
  argv: string[];
  env: { PGPASSWORD: string; MYSQL_PWD: string };
}

/** Runs `command` as a person pasting it would: the shell reads it (from stdin, so no process carries it in argv). */
function runInShell(shell: string, command: string): Run {
  const out = mkdtempSync(join(dir, 'run-'));
  const ARGV_OUT = join(out, 'argv');
  const ENV_OUT = join(out, 'env');
  const res = spawnSync(shell, ['-s'], {
    input: command,
    env: { PATH: `${dir}:/usr/bin:/bin`, ARGV_OUT, ENV_OUT },
    encoding: 'utf8',
  });
  expect(res.status, res.stderr).toBe(0);
  const split = (f: string) => readFileSync(f, 'utf8').split('\0').slice(0, -1);
  const [PGPASSWORD = '', MYSQL_PWD = ''] = split(ENV_OUT);
  return { argv: split(ARGV_OUT), env: { PGPASSWORD, MYSQL_PWD } };
}

/** libpq's keyword/value conninfo (https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNSTRING-KEYWORD-VALUE). */
function parseConninfo(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /\s*([a-z_]+)\s*=\s*(?:'((?:[^'\\]|\\.)*)'|((?:[^\s'\\]|\\.)+))/y;
  let end = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    out[m[1]!] = (m[2] ?? m[3]!).replace(/\\(.)/g, '$1');
    end = re.lastIndex;
  }
  expect(s.slice(end).trim(), `unparsed rest of ${s}`).toBe('');
  return out;
}

function entry(engine: DatabaseEntry['engine'], over: Partial<DatabaseEntry> = {}): DatabaseEntry {
  return {
    engine,
    host: 'orders-db.internal',
    port: engine === 'postgres' ? 5432 : 3306,
    database: 'orders',
    ...over,
  } as DatabaseEntry;
}

const PASSWORD = 'Pw0rdXq9Zt3LmN8vB2cR7yHs4KdJ1fGa';
/** Values no generator produces today, to prove the quoting rather than the generators. */
const CANARY = join(dir, 'pwned');
const HOSTILE_PASSWORD = `p'a"s s$(touch ${CANARY})\`touch ${CANARY}\`\\;|&*?~#!%=`;
const HOSTILE_DB = `it's a $db\\ \`x\` -x`;

const cases: Array<[string, Credentials]> = [
  ['postgres', buildCredentials(entry('postgres'), 'jit_alice_x7k2', PASSWORD, 0)],
  [
    'postgres, IPv6, public host/port',
    buildCredentials(
      entry('postgres', { publicHost: '[2001:db8::5]', publicPort: 6432 }),
      'jit_alice_x7k2',
      PASSWORD,
      0,
    ),
  ],
  [
    'postgres, hostile values',
    buildCredentials(entry('postgres', { host: 'db host', database: HOSTILE_DB }), "jit_o'brien", HOSTILE_PASSWORD, 0),
  ],
  ['mysql', buildCredentials(entry('mysql'), 'jit_alice_x7k2', PASSWORD, 0)],
  [
    'mysql, hostile values',
    buildCredentials(entry('mysql', { host: '-h evil', database: '-D$db' }), "jit_o'brien", HOSTILE_PASSWORD, 0),
  ],
  [
    'mysql, hostile password and database, IPv6',
    buildCredentials(
      entry('mysql', { host: '2001:db8::5', database: HOSTILE_DB }),
      'jit_alice_x7k2',
      HOSTILE_PASSWORD,
      0,
    ),
  ],
];

/** What the person's client is asked for, per catalog tls.mode (no key = disable). */
const TLS_MODES = [undefined, 'disable', 'require', 'verify-ca', 'verify-full'] as const;
const PG_SSLMODE: Record<string, string | undefined> = {
  require: 'require',
  'verify-ca': 'verify-ca',
  'verify-full': 'verify-full',
};
const MYSQL_TLS_ARGS: Record<string, string[]> = {
  require: ['--loose-ssl-mode=REQUIRED', '--loose-ssl'],
  'verify-ca': ['--loose-ssl-mode=VERIFY_CA', '--loose-ssl'],
  'verify-full': ['--loose-ssl-mode=VERIFY_IDENTITY', '--loose-ssl', '--loose-ssl-verify-server-cert'],
};
const withMode = (
  engine: DatabaseEntry['engine'],
  mode: (typeof TLS_MODES)[number],
  over: Partial<DatabaseEntry> = {},
) => entry(engine, { ...over, ...(mode && { tls: { mode, ca: '/etc/db-access/ca.pem' } }) });

describe('the handed-out command', () => {
  it('reads as a person expects', () => {
    expect(cases[0]![1].command).toBe(
      `PGPASSWORD='${PASSWORD}' psql 'host=orders-db.internal port=5432 dbname=orders user=jit_alice_x7k2'`,
    );
    expect(cases[3]![1].command).toBe(
      `MYSQL_PWD='${PASSWORD}' mysql -h orders-db.internal -P 3306 -u jit_alice_x7k2 -D orders`,
    );
  });

  for (const shell of SHELLS) {
    for (const [name, c] of cases) {
      it(`${name} (${shell}): the password is in the environment, not in the argument list; every value arrives intact`, () => {
        const { argv, env } = runInShell(shell, c.command);
        expect(existsSync(CANARY)).toBe(false);
        for (const arg of argv) expect(arg).not.toContain(c.password);
        const host = c.host.replace(/^\[(.*)\]$/, '$1');
        if (c.engine === 'postgres') {
          expect(env).toEqual({ PGPASSWORD: c.password, MYSQL_PWD: '(unset)' });
          expect(argv).toHaveLength(1);
          expect(parseConninfo(argv[0]!)).toEqual({ host, port: String(c.port), dbname: c.database, user: c.username });
        } else {
          expect(env).toEqual({ PGPASSWORD: '(unset)', MYSQL_PWD: c.password });
          expect(argv).toEqual(['-h', host, '-P', String(c.port), '-u', c.username, '-D', c.database]);
        }
      });
    }
  }
});

describe('the handed-out command asks for the protection the broker uses (tls.mode)', () => {
  for (const mode of TLS_MODES) {
    it(`postgres, tls ${mode ?? 'absent'}: sslmode in the conninfo and the URL, never the broker's CA path`, () => {
      const c = buildCredentials(withMode('postgres', mode), 'jit_alice_x7k2', PASSWORD, 0);
      const sslmode = mode && PG_SSLMODE[mode];
      for (const shell of SHELLS) {
        const { argv } = runInShell(shell, c.command);
        expect(argv).toHaveLength(1);
        expect(parseConninfo(argv[0]!)).toEqual({
          host: 'orders-db.internal',
          port: '5432',
          dbname: 'orders',
          user: 'jit_alice_x7k2',
          ...(sslmode && { sslmode }),
        });
      }
      expect(new URL(c.url).searchParams.get('sslmode')).toBe(sslmode ?? null);
      expect(c.command + c.url).not.toContain('/etc/db-access/ca.pem');
    });

    it(`mysql, tls ${mode ?? 'absent'}: both clients' TLS options, --loose- so either client takes them`, () => {
      const c = buildCredentials(withMode('mysql', mode), 'jit_alice_x7k2', PASSWORD, 0);
      const tls = (mode && MYSQL_TLS_ARGS[mode]) ?? [];
      for (const shell of SHELLS) {
        const { argv, env } = runInShell(shell, c.command);
        expect(env.MYSQL_PWD).toBe(PASSWORD);
        expect(argv).toEqual([
          '-h',
          'orders-db.internal',
          '-P',
          '3306',
          '-u',
          'jit_alice_x7k2',
          ...tls,
          '-D',
          'orders',
        ]);
      }
      const sslMode = new URL(c.url).searchParams.get('ssl-mode');
      expect(sslMode).toBe(mode === undefined || mode === 'disable' ? null : tls[0]!.replace('--loose-ssl-mode=', ''));
      expect(c.command + c.url).not.toContain('/etc/db-access/ca.pem');
    });
  }

  it('mysql to localhost (a tunnel) says --protocol=TCP: both clients would otherwise use their Unix socket and ignore -P', () => {
    const c = buildCredentials(
      withMode('mysql', 'require', { publicHost: 'localhost', publicPort: 13306 }),
      'jit_alice_x7k2',
      PASSWORD,
      0,
    );
    expect(runInShell(SHELLS[0]!, c.command).argv).toEqual([
      '-h',
      'localhost',
      '-P',
      '13306',
      '--protocol=TCP',
      '-u',
      'jit_alice_x7k2',
      ...MYSQL_TLS_ARGS.require!,
      '-D',
      'orders',
    ]);
  });
});

describe('the URL', () => {
  it('carries every part, the password included, percent-encoded so any value survives', () => {
    for (const [, c] of cases.filter(([, c]) => HOST.test(c.host))) {
      const u = new URL(c.url);
      expect(u.protocol).toBe(c.engine === 'postgres' ? 'postgresql:' : 'mysql:');
      expect(decodeURIComponent(u.username)).toBe(c.username);
      expect(decodeURIComponent(u.password)).toBe(c.password);
      expect(u.hostname).toBe(c.host.includes(':') && !c.host.startsWith('[') ? `[${c.host}]` : c.host);
      expect(u.port).toBe(String(c.port));
      expect(decodeURIComponent(u.pathname.slice(1))).toBe(c.database);
    }
  });
});
