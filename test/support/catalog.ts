/** Writes a catalog YAML for test targets, with admin passwords passed through ${VAR} interpolation. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { DatabaseEntry } from '../../src/core/catalog.js';

export interface TestCatalog {
  path: string;
  env: Record<string, string>;
}

/** Approvers every test catalog lists unless told otherwise (the lifecycle tests approve as these people). */
export const DEFAULT_TEST_APPROVERS = [{ email: 'bob@example.com' }, { slackUser: 'UAPPROVER2' }];

export function writeCatalog(
  entries: DatabaseEntry[],
  opts: {
    maxDuration?: string;
    approvers?: unknown[];
    extra?: Record<string, unknown>;
    /** Keys merged into one database's YAML entry (after the defaults; e.g. its `approval` or `delivery`). */
    perEntry?: (d: DatabaseEntry) => Record<string, unknown>;
    /** The catalog's top-level `bundles`, as YAML would hold them. */
    bundles?: unknown[];
  } = {},
): TestCatalog {
  const env: Record<string, string> = {};
  const databases = entries.map((d) => {
    const varName = `TEST_${d.name.replace(/[^A-Za-z0-9]/g, '_').toUpperCase()}_ADMIN_PASSWORD`;
    if (d.admin.password === undefined)
      throw new Error(`writeCatalog: ${d.name} has no admin password (test targets give one)`);
    env[varName] = d.admin.password;
    const levels = Object.fromEntries(
      [...d.levels.values()].map((l) => [
        l.name,
        {
          ...(l.roles.length && { roles: [...l.roles] }),
          ...(l.grants.length && { grants: [...l.grants] }),
          connectionLimit: l.guardRails.connectionLimit,
          ...(l.guardRails.statementTimeoutMs && {
            statementTimeout: `${Math.round(l.guardRails.statementTimeoutMs / 1000)}s`,
          }),
          ...(l.onExpiry && { onExpiry: l.onExpiry }),
          ...(l.auditStatements && { auditStatements: true }),
        },
      ]),
    );
    return {
      name: d.name,
      engine: d.engine,
      host: d.host,
      port: d.port,
      database: d.database,
      admin: { user: d.admin.user, password: `\${${varName}}` },
      levels,
      maxDuration: opts.maxDuration ?? '1h',
      ...(d.engine === 'mysql' && { brokerSchema: d.brokerSchema }),
      approval: { approvers: opts.approvers ?? DEFAULT_TEST_APPROVERS, required: d.approval.required },
      ...opts.extra,
      ...opts.perEntry?.(d),
    };
  });
  const dir = mkdtempSync(join(tmpdir(), 'db-access-catalog-'));
  const path = join(dir, 'catalog.yaml');
  writeFileSync(path, stringify({ databases, ...(opts.bundles && { bundles: opts.bundles }) }));
  return { path, env };
}

export function tempSqliteUrl(): string {
  return `sqlite:${join(mkdtempSync(join(tmpdir(), 'db-access-state-')), 'state.sqlite')}`;
}
