/** Plain-text rendering for the CLI. Pure. */
import type { Credentials } from '../core/credentials.js';
import { grantedDuration } from '../core/activation.js';
import { formatDuration } from '../core/duration.js';
import { BrokerError } from '../core/errors.js';
import type { EngineCheck } from '../core/ports.js';
import type { Grant } from '../core/model.js';

export function utc(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC');
}

export function formatCredentials(
  grant: Pick<Grant, 'id' | 'level' | 'database'> & { requester: Pick<Grant['requester'], 'id' | 'email'> },
  c: Credentials,
  now: number,
): string {
  const rows: Array<[string, string]> = [
    ['host', c.host],
    ['port', String(c.port)],
    ['database', c.database],
    ['user', c.username],
    ['password', c.password],
    ['expires', `${utc(c.expiresAt)} (in ${formatDuration(Math.max(0, c.expiresAt - now))})`],
    [c.engine === 'postgres' ? 'psql' : 'mysql', c.command],
    ['url', c.url],
  ];
  return [
    `Access granted: grant #${grant.id} — ${grant.level} on ${grant.database} for ${grant.requester.email ?? grant.requester.id}`,
    ...rows.map(([k, v]) => `  ${k.padEnd(9)} ${v}`),
    'These credentials are shown once and stored nowhere. At expiry the user is locked, its sessions ended and it is dropped.',
  ].join('\n');
}

export function formatGrantTable(grants: readonly Grant[], now: number): string {
  if (grants.length === 0) return 'No grants.';
  const header = ['ID', 'DATABASE', 'LEVEL', 'USER', 'FOR', 'STATUS', 'EXPIRES', 'NOTE'];
  const rows = grants.map((g) => [
    String(g.id),
    g.database,
    g.level,
    g.username,
    g.requester.email ?? g.requester.id,
    g.flaggedAt ? `${g.status} (FLAGGED)` : g.status,
    g.status === 'active'
      ? `${utc(g.expiresAt)} (in ${formatDuration(Math.max(0, g.expiresAt - now))})`
      : g.status === 'provisioning'
        ? `being created (${formatDuration(grantedDuration(g))} once the user exists)`
        : utc(g.revokedAt ?? g.expiresAt),
    g.lastError ?? g.endReason ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows]
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function formatChecks(database: string, checks: readonly EngineCheck[]): string {
  const lines = [`${database}:`];
  for (const c of checks) {
    const mark = c.ok ? 'ok  ' : c.severity === 'warning' ? 'WARN' : 'FAIL';
    lines.push(`  [${mark}] ${c.name}: ${c.detail}`);
    if (!c.ok && c.fix) lines.push(`         fix: ${c.fix}`);
  }
  return lines.join('\n');
}

/** A BrokerError as one or two sentences for a person at a terminal. */
export function explainError(err: BrokerError): string {
  const valid = err.details.valid?.length ? ` Valid: ${err.details.valid.join(', ')}.` : '';
  const field = err.details.field ? `--${err.details.field === 'database' ? 'db' : err.details.field}: ` : '';
  return `${field}${err.message}.${valid}`;
}
