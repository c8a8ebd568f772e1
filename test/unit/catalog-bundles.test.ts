import { describe, expect, it } from 'vitest';
import { ConfigError, parseCatalog } from '../../src/config/catalog.js';

const databases = `
databases:
  - name: orders-prod
    engine: postgres
    host: orders-db.internal
    database: orders
    admin: { user: jit_admin, password: secret }
    levels: { read: { roles: [orders_read] }, write: { roles: [orders_write] } }
    maxDuration: 4h
  - name: billing
    engine: mysql
    host: 10.0.0.5
    database: billing
    admin: { user: jit_admin, password: secret }
    levels: { read: { roles: [billing_ro] } }
    maxDuration: 2h
`;

function withBundles(bundles: string): string {
  return `${databases}bundles:\n${bundles}`;
}

function problems(yaml: string): string[] {
  try {
    parseCatalog(yaml, {});
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

const incident = `
  - name: incident-kit
    description: Orders and billing, read only
    members:
      - { database: orders-prod, level: read }
      - { database: billing, level: read }
    approval:
      slackChannel: C0INCIDENT
      approvers: [{ email: dba-lead@example.com }, { slackUsergroup: S0DBAS }]
      required: 2
      timeout: 10m
`;

describe('catalog bundles', () => {
  it('loads a bundle with its own approval block and the smallest maxDuration of its members', () => {
    const c = parseCatalog(withBundles(incident), {});
    const b = c.bundles?.get('incident-kit');
    expect(b).toEqual({
      name: 'incident-kit',
      description: 'Orders and billing, read only',
      members: [
        { database: 'orders-prod', level: 'read' },
        { database: 'billing', level: 'read' },
      ],
      maxDuration: 2 * 3_600_000,
      approval: {
        required: 2,
        timeoutMs: 10 * 60_000,
        slackChannel: 'C0INCIDENT',
        approvers: [{ email: 'dba-lead@example.com' }, { slackUsergroup: 'S0DBAS' }],
        escalation: [],
      },
    });
    // A bundle is not a database: nothing that walks the databases (provisioning, the sweeper) sees it.
    expect(c.databases.has('incident-kit')).toBe(false);
  });

  it('has no bundles when the catalog lists none', () => {
    expect(parseCatalog(databases, {}).bundles?.size).toBe(0);
  });

  it('refuses a bundle named like a database: one namespace for what people type', () => {
    expect(problems(withBundles(incident.replace('incident-kit', 'billing')))).toEqual([
      'bundles[0].name: "billing" is already the name of a database; bundles and databases share one set of names',
    ]);
  });

  it('refuses a bundle listed twice', () => {
    expect(problems(withBundles(incident + incident))).toEqual(['bundles[1].name: "incident-kit" is listed twice']);
  });

  it('refuses a member database that does not exist, a level it lacks, and a database named twice', () => {
    const bad = `
  - name: kit
    members:
      - { database: orders-stage, level: read }
      - { database: orders-prod, level: admin }
      - { database: billing, level: read }
      - { database: billing, level: read }
    approval: { approvers: [{ email: dba-lead@example.com }] }
`;
    expect(problems(withBundles(bad))).toEqual([
      'bundles[0].members[0].database: "orders-stage" is not a database listed under databases',
      'bundles[0].members[1].level: orders-prod has no level "admin" (it has read, write)',
      'bundles[0].members[3].database: billing is a member twice; a bundle names each database once',
    ]);
  });

  it('refuses a bundle of one database, auto-approval and break-glass on a bundle, and unknown keys', () => {
    const one = `
  - name: kit
    members: [{ database: billing, level: read }]
    approval:
      autoApprove: [{ levels: [read] }]
      breakGlass: { users: [sre@example.com] }
    extra: 1
`;
    const found = problems(withBundles(one));
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^bundles\[0\]\.members: a bundle groups at least two databases/),
        expect.stringMatching(/^bundles\[0\]: .*extra/),
      ]),
    );
    const noExtra = problems(
      withBundles(
        one.replace('    extra: 1\n', '').replace('members: [', 'members: [{ database: orders-prod, level: read }, '),
      ),
    );
    expect(noExtra).toEqual([
      'bundles[0].approval.autoApprove: a bundle is always decided by its approvers: auto-approval is set per database; remove it',
      'bundles[0].approval.breakGlass: break-glass is set per database, not on a bundle; remove it',
    ]);
  });
});
