/**
 * The catalog cannot leak the environment: `${VAR}` is read only into secret fields (admin.password), never into
 * text people see; a referenced variable that is empty is refused; and a plaintext password in a file other accounts
 * can read is named with what to do about it.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, catalogFileWarnings, loadCatalog, plaintextSecrets } from '../../src/config/catalog.js';

const dir = mkdtempSync(join(tmpdir(), 'catalog-secrets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
function file(yaml: string, mode = 0o600): string {
  const path = join(dir, `catalog-${++files}.yaml`);
  writeFileSync(path, yaml);
  chmodSync(path, mode);
  return path;
}

/** One database; `fields` are YAML lines added to (or replacing) its defaults. */
function catalog(fields: Record<string, string> = {}): string {
  const d: Record<string, string> = {
    name: 'orders-prod',
    description: 'Orders, production',
    engine: 'postgres',
    host: 'orders-db.internal',
    database: 'orders',
    admin: '{ user: jit_admin, password: "${ORDERS_ADMIN_PASSWORD}" }',
    levels: '{ read: { roles: [orders_read] } }',
    approval:
      '{ slackChannel: C0123456789, teamsChannel: "19:abc@thread.tacv2", approvers: [{ email: dba@example.com }] }',
    ...fields,
  };
  return `databases:\n${Object.entries(d)
    .map(([k, v], i) => `${i === 0 ? '  - ' : '    '}${k}: ${v}`)
    .join('\n')}\n`;
}

const SECRET = 'xoxb-signing-secret-9f8e7d';
const env = { ORDERS_ADMIN_PASSWORD: 'admin-pw', SLACK_SIGNING_SECRET: SECRET, DB_HOST: 'db.internal' };

function problems(path: string, e: NodeJS.ProcessEnv = env): string[] {
  try {
    loadCatalog(path, e);
  } catch (err) {
    if (err instanceof ConfigError) {
      expect(err.message).not.toContain(SECRET);
      return err.problems;
    }
    throw err;
  }
  return [];
}

const ONLY_SECRETS =
  'interpolation is only allowed in secret fields (databases[].admin.password, databases[].admin.passwordFile, databases[].tls.ca)';

describe('${VAR} interpolation', () => {
  it('reads admin.password from the environment, whole or as part of the value', () => {
    expect(loadCatalog(file(catalog()), env).databases.get('orders-prod')!.admin.password).toBe('admin-pw');
    const mixed = file(catalog({ admin: '{ user: jit_admin, password: "pre-${ORDERS_ADMIN_PASSWORD}-${DB_HOST}" }' }));
    expect(loadCatalog(mixed, env).databases.get('orders-prod')!.admin.password).toBe('pre-admin-pw-db.internal');
  });

  it('refuses a reference in a description, naming the path and the rule, and never reads the variable', () => {
    const path = file(catalog({ description: '"Orders (signed with ${SLACK_SIGNING_SECRET})"' }));
    expect(problems(path)).toEqual([
      `databases[0].description: \${SLACK_SIGNING_SECRET} is not allowed here: \${VAR} ${ONLY_SECRETS}`,
    ]);
    // Unset or set, the answer is the same: the value is never looked up.
    expect(problems(path, { ORDERS_ADMIN_PASSWORD: 'admin-pw' })).toEqual(problems(path));
  });

  it.each([
    ['host', { host: '"${DB_HOST}"' }, 'databases[0].host'],
    [
      'the admin user',
      { admin: '{ user: "${DB_HOST}", password: "${ORDERS_ADMIN_PASSWORD}" }' },
      'databases[0].admin.user',
    ],
    [
      'a Teams channel',
      { approval: '{ teamsChannel: "${SLACK_SIGNING_SECRET}" }' },
      'databases[0].approval.teamsChannel',
    ],
    ['a list item', { levels: '{ read: { roles: ["${DB_HOST}"] } }' }, 'databases[0].levels.read.roles[0]'],
    ['a malformed reference', { description: '"see ${ not a name }"' }, 'databases[0].description'],
  ])('refuses a reference in %s', (_what, fields, at) => {
    const p = problems(file(catalog(fields)));
    expect(p).toHaveLength(1);
    expect(p[0]!.startsWith(`${at}: \${`), p[0]).toBe(true);
    expect(p[0]!.endsWith(` is not allowed here: \${VAR} ${ONLY_SECRETS}`), p[0]).toBe(true);
  });

  it('refuses an empty variable, naming it and where it is used', () => {
    expect(problems(file(catalog()), { ...env, ORDERS_ADMIN_PASSWORD: '' })).toEqual([
      'databases[0].admin.password: environment variable ORDERS_ADMIN_PASSWORD is empty',
    ]);
  });

  it('still names a variable that is not set', () => {
    expect(problems(file(catalog()), {})).toEqual([
      'databases[0].admin.password: environment variable ORDERS_ADMIN_PASSWORD is not set',
    ]);
  });
});

describe('plaintext secrets in the catalog file', () => {
  const plaintext = catalog({ admin: '{ user: jit_admin, password: hunter2 }' });

  it('names the secret fields written literally, not those referenced as ${VAR}', () => {
    expect(plaintextSecrets(catalog())).toEqual([]);
    expect(plaintextSecrets(plaintext)).toEqual(['databases[0].admin.password']);
    expect(plaintextSecrets(catalog({ admin: '{ user: jit_admin, password: "x${ORDERS_ADMIN_PASSWORD}" }' }))).toEqual([
      'databases[0].admin.password',
    ]);
  });

  it('warns when other accounts can read a file holding one, saying what to do', () => {
    const open = file(plaintext, 0o644);
    const [warning, ...more] = catalogFileWarnings(open);
    expect(more).toEqual([]);
    expect(warning).toContain(`${open} is readable by other accounts (mode 644)`);
    expect(warning).toContain('databases[0].admin.password');
    expect(warning).toContain(`chmod 600 ${open}`);
    expect(warning).toContain('${VAR}');
    expect(warning).not.toContain('hunter2');
    expect(catalogFileWarnings(file(plaintext, 0o640))).toHaveLength(1);
  });

  it('is quiet for a private file, or one whose secrets all come from the environment', () => {
    expect(catalogFileWarnings(file(plaintext, 0o600))).toEqual([]);
    expect(catalogFileWarnings(file(catalog(), 0o644))).toEqual([]);
  });
});
