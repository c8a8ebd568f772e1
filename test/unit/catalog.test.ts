import { describe, expect, it } from 'vitest';
import { ConfigError, parseCatalog } from '../../src/config/catalog.js';
import { grantTemplateProblem } from '../../src/config/catalog-schema.js';

const good = `
databases:
  - name: orders-prod
    description: Orders, production
    engine: postgres
    host: orders-db.internal
    port: 5432
    database: orders
    admin: { user: jit_admin, password: "\${ORDERS_ADMIN_PASSWORD}" }
    levels:
      read:  { roles: [orders_read], statementTimeout: 30s }
      write: { roles: [orders_read, orders_write], connectionLimit: 3 }
      ddl:   { grants: ["GRANT CREATE ON SCHEMA public TO {{user}}"] }
    maxDuration: 4h
    approval:
      slackChannel: C0123456789
      teamsChannel: "19:abc@thread.tacv2"
      approvers:
        - email: dba-lead@example.com
        - slackUsergroup: S0DBAS
        - pagerduty: { schedule: PABC123 }
        - opsgenie: { schedule: dba-oncall }
      required: 1
      autoApprove:
        - { levels: [read], maxDuration: 1h, requesterOnCall: true }
        - { levels: [read], maxDuration: 2h, whenResponding: true, budget: 3 }
      breakGlass: { users: [sre-lead@example.com], alertChannel: C0SECURITY, maxDuration: 1h }
  - name: billing
    engine: mysql
    host: 10.0.0.5
    database: billing
    admin: { user: jit_admin, password: secret }
    levels: { read: { roles: [billing_ro] } }
`;

function problems(yaml: string, env: Record<string, string> = {}): string[] {
  try {
    parseCatalog(yaml, env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('catalog', () => {
  it('loads the documented example catalog with ${VAR} interpolation and defaults', () => {
    const c = parseCatalog(good, { ORDERS_ADMIN_PASSWORD: 's3cret' });
    const orders = c.databases.get('orders-prod')!;
    expect(orders.admin.password).toBe('s3cret');
    expect(orders.maxDuration).toBe(4 * 3_600_000);
    expect(orders.levels.get('read')).toMatchObject({
      roles: ['orders_read'],
      guardRails: { statementTimeoutMs: 30_000, connectionLimit: 10 },
    });
    expect(orders.levels.get('write')!.guardRails.connectionLimit).toBe(3);
    const billing = c.databases.get('billing')!;
    expect(billing.port).toBe(3306);
    expect(billing.brokerSchema).toBe('db_access');
    expect(orders.approval.autoApprove[1]).toEqual({
      levels: ['read'],
      maxDurationMs: 2 * 3_600_000,
      whenResponding: true,
      budget: 3,
    });
  });

  it('whenResponding is true or absent', () => {
    const bad = good.replace('whenResponding: true', 'whenResponding: false');
    expect(problems(bad, { ORDERS_ADMIN_PASSWORD: 'x' })).toEqual([
      expect.stringMatching(/^databases\[0\]\.approval\.autoApprove\[1\]\.whenResponding: /),
    ]);
  });

  it('a missing variable names itself and where it is used', () => {
    expect(problems(good)).toEqual([
      'databases[0].admin.password: environment variable ORDERS_ADMIN_PASSWORD is not set',
    ]);
  });

  it('a wrong engine names the YAML path and the accepted values', () => {
    const bad = good.replace('engine: mysql', 'engine: oracle');
    expect(problems(bad, { ORDERS_ADMIN_PASSWORD: 'x' })).toEqual([
      'databases[1].engine: expected "postgres" or "mysql"',
    ]);
  });

  it('refuses a role name with a quote', () => {
    const bad = good.replace('roles: [billing_ro]', `roles: ["billing_ro\\"; DROP TABLE x; --"]`);
    const p = problems(bad, { ORDERS_ADMIN_PASSWORD: 'x' });
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/^databases\[1\]\.levels\.read\.roles\[0\]: role names may hold only/);
  });

  it('refuses a template that is more than one statement', () => {
    const bad = good.replace(
      '"GRANT CREATE ON SCHEMA public TO {{user}}"',
      '"GRANT CREATE ON SCHEMA public TO {{user}}; DROP ROLE admin"',
    );
    expect(problems(bad, { ORDERS_ADMIN_PASSWORD: 'x' })).toEqual([
      'databases[0].levels.ddl.grants[0]: grant template must be a single statement (no ";")',
    ]);
  });

  it('refuses unknown keys, duplicate names, bad durations and bad database names', () => {
    const bad = good
      .replace('maxDuration: 4h', 'maxDuration: forever\n    colour: blue')
      .replace('name: billing', 'name: orders-prod');
    const p = problems(bad, { ORDERS_ADMIN_PASSWORD: 'x' });
    expect(p).toContain('databases[0]: unknown key "colour"');
    expect(p.some((x) => x.startsWith('databases[0].maxDuration: expected a duration'))).toBe(true);
    expect(problems(good.replace('name: billing', 'name: orders-prod'), { ORDERS_ADMIN_PASSWORD: 'x' })).toEqual([
      'databases[1].name: "orders-prod" is listed twice',
    ]);
    expect(problems(good.replace('name: billing', 'name: Billing_DB'), { ORDERS_ADMIN_PASSWORD: 'x' })[0]).toMatch(
      /^databases\[1\]\.name:/,
    );
  });

  it('refuses an idle-in-transaction timeout on MySQL (no per-account setting exists)', () => {
    const bad = good.replace(
      'read: { roles: [billing_ro] }',
      'read: { roles: [billing_ro], idleInTransactionTimeout: 5m }',
    );
    expect(problems(bad, { ORDERS_ADMIN_PASSWORD: 'x' })[0]).toMatch(
      /^databases\[1\]\.levels\.read\.idleInTransactionTimeout: MySQL and MariaDB/,
    );
  });

  it('reports YAML syntax errors', () => {
    expect(problems('databases: [\n  - name: x')[0]).toBeTruthy();
  });
});

describe('grant templates', () => {
  it.each([
    ['GRANT SELECT ON ALL TABLES IN SCHEMA public TO {{user}}', undefined],
    ['GRANT SELECT ON `app`.* TO {{user}};', undefined],
    ['GRANT SELECT ON t TO {{user}}; GRANT ALL ON u TO {{user}}', 'must be a single statement (no ";")'],
    ['GRANT SELECT ON t TO {{user}} -- hi', 'must not contain comments'],
    ["GRANT SELECT ON t TO {{user}} PASSWORD 'x'", 'must not contain string literals, backslashes or dollar quoting'],
    ['ALTER ROLE {{user}} SUPERUSER', 'must be a GRANT statement'],
    ['GRANT admin TO {{user}} WITH ADMIN OPTION', 'must end with "TO {{user}}" (the issued user is its only grantee)'],
    ['GRANT SELECT ON t TO {{user}}, PUBLIC', 'must end with "TO {{user}}" (the issued user is its only grantee)'],
    ['GRANT {{password}} ON t TO {{user}}', 'only the {{user}} placeholder is allowed'],
  ])('%s', (template, problem) => {
    expect(grantTemplateProblem(template)).toBe(problem);
  });
});

describe('limits.selfExtensions and limits.maxLifetime', () => {
  const env = { ORDERS_ADMIN_PASSWORD: 's3cret' };
  const withLimits = (limits: string) =>
    good.replace('    maxDuration: 4h\n', `    maxDuration: 4h\n    limits: ${limits}\n`);

  it('are read as given; absent, no self-extension and a lifetime left to the default (3 × maxDuration)', () => {
    const c = parseCatalog(withLimits('{ selfExtensions: 2, maxLifetime: 9h }'), env);
    expect(c.databases.get('orders-prod')!.limits).toMatchObject({ selfExtensions: 2, maxLifetime: 9 * 3_600_000 });
    const plain = parseCatalog(good, env).databases.get('orders-prod')!;
    expect(plain.limits.selfExtensions).toBe(0);
    expect(plain.limits.maxLifetime).toBeUndefined();
  });

  it('refuse a negative count and a lifetime shorter than maxDuration, naming the key', () => {
    expect(problems(withLimits('{ selfExtensions: -1 }'), env).join('\n')).toMatch(/limits\.selfExtensions/);
    expect(problems(withLimits('{ maxLifetime: 1h }'), env).join('\n')).toMatch(
      /limits\.maxLifetime.*at least maxDuration/,
    );
    expect(problems(withLimits('{ maxLifetime: soon }'), env).join('\n')).toMatch(/limits\.maxLifetime/);
  });
});
