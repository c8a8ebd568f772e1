/**
 * `db-access check` (the real CLI) warns when the catalog file holds a plaintext admin password and other accounts
 * can read it, and says what to do; it stays quiet once the file is private or the password comes from ${VAR}.
 * The target is a closed port: the warning is about the file and must not depend on reaching a database.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempSqliteUrl } from '../support/catalog.js';
import { runCli } from '../support/processes.js';
import { freePort } from '../support/redis.js';

const PASSWORD = 'plain-hunter2-in-the-file';

describe('db-access check: the catalog file', () => {
  let dir: string;
  let env: Record<string, string>;
  let yaml: (password: string) => string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'check-secrets-'));
    const port = await freePort();
    yaml = (password) =>
      `databases:\n  - { name: orders, engine: postgres, host: 127.0.0.1, port: ${port}, database: orders, ` +
      `admin: { user: jit_admin, password: "${password}" }, levels: { read: { roles: [orders_read] } } }\n`;
    env = { DATABASE_URL: tempSqliteUrl(), LOG_LEVEL: 'silent', ORDERS_ADMIN_PASSWORD: 'from-the-environment' };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function catalog(name: string, password: string, mode: number): string {
    const path = join(dir, name);
    writeFileSync(path, yaml(password));
    chmodSync(path, mode);
    return path;
  }

  it('warns about a readable file with a plaintext password, naming the field and the fixes', async () => {
    const path = catalog('open.yaml', PASSWORD, 0o644);
    const res = await runCli(['check'], { ...env, CATALOG_PATH: path });
    expect(res.stdout).toContain('catalog: 1 database(s), valid');
    const warning = res.stdout.split('\n').find((l) => l.includes('[WARN]'));
    expect(warning, res.stdout + res.stderr).toBeDefined();
    expect(warning).toContain(`${path} is readable by other accounts (mode 644)`);
    expect(warning).toContain('databases[0].admin.password');
    expect(warning).toContain(`chmod 600 ${path}`);
    expect(warning).toContain('${VAR}');
    expect(res.stdout + res.stderr).not.toContain(PASSWORD);

    const json = await runCli(['check', '--json'], { ...env, CATALOG_PATH: path });
    const report = JSON.parse(json.stdout) as { warnings: string[] };
    expect(report.warnings).toHaveLength(1);
    expect(report.warnings[0]).toContain(`chmod 600 ${path}`);
  });

  it('is quiet when the file is private, or when the password comes from ${VAR}', async () => {
    const closed = await runCli(['check'], { ...env, CATALOG_PATH: catalog('private.yaml', PASSWORD, 0o600) });
    expect(closed.stdout).toContain('catalog: 1 database(s), valid');
    expect(closed.stdout).not.toContain('[WARN]');
    const referenced = await runCli(['check'], {
      ...env,
      CATALOG_PATH: catalog('referenced.yaml', '${ORDERS_ADMIN_PASSWORD}', 0o644),
    });
    expect(referenced.stdout).toContain('catalog: 1 database(s), valid');
    expect(referenced.stdout).not.toContain('[WARN]');
  });
});
