/** Catalog YAML → validated Catalog. Errors name the YAML path at fault: `databases[1].engine: expected …`. */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import type { AccessLevel, Catalog, DatabaseEntry } from '../core/catalog.js';
import { catalogSchema } from './catalog-schema.js';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly problems: string[],
    readonly source: string,
  ) {
    super(`${source} is invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `${out ? '.' : ''}${String(p)}`;
  return out || '(top level)';
}

function issueMessage(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_value':
      return `expected ${issue.values.map((v) => JSON.stringify(v)).join(' or ')}`;
    case 'unrecognized_keys':
      return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
    case 'invalid_type':
      return issue.input === undefined ? `is required (expected ${issue.expected})` : `expected ${issue.expected}`;
    default:
      return issue.message;
  }
}

export function zodProblems(error: z.ZodError): string[] {
  return error.issues.map((i) => `${formatPath(i.path)}: ${issueMessage(i)}`);
}

/** Replaces `${VAR}` in every string scalar; a missing variable is a problem naming it and its YAML path. */
export function interpolate(value: unknown, env: NodeJS.ProcessEnv, path: PropertyKey[], problems: string[]): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const v = env[name];
      if (v === undefined) {
        problems.push(`${formatPath(path)}: environment variable ${name} is not set`);
        return '';
      }
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, env, [...path, i], problems));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env, [...path, k], problems)]));
  }
  return value;
}

export function parseCatalog(text: string, env: NodeJS.ProcessEnv, source = 'catalog'): Catalog {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) throw new ConfigError(doc.errors.map((e) => e.message.split('\n')[0] ?? e.message), source);
  const problems: string[] = [];
  const raw = interpolate(doc.toJS(), env, [], problems);
  if (problems.length > 0) throw new ConfigError(problems, source);
  const parsed = catalogSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(zodProblems(parsed.error), source);

  const databases = new Map<string, DatabaseEntry>();
  for (const d of parsed.data.databases) {
    const levels = new Map<string, AccessLevel>();
    for (const [name, l] of Object.entries(d.levels)) {
      levels.set(name, {
        name,
        roles: l.roles,
        grants: l.grants.map((g) => g.trim().replace(/;$/, '').trim()),
        ...(l.required !== undefined && { required: l.required }),
        guardRails: {
          connectionLimit: l.connectionLimit,
          ...(l.statementTimeout !== undefined && { statementTimeoutMs: l.statementTimeout }),
          ...(l.idleInTransactionTimeout !== undefined && { idleInTransactionTimeoutMs: l.idleInTransactionTimeout }),
        },
      });
    }
    databases.set(d.name, {
      name: d.name,
      ...(d.description !== undefined && { description: d.description }),
      engine: d.engine,
      host: d.host,
      port: d.port ?? (d.engine === 'postgres' ? 5432 : 3306),
      database: d.database,
      ...(d.publicHost !== undefined && { publicHost: d.publicHost }),
      ...(d.publicPort !== undefined && { publicPort: d.publicPort }),
      admin: d.admin,
      levels,
      maxDuration: d.maxDuration,
      brokerSchema: d.brokerSchema,
      delivery: d.delivery,
      limits: d.limits,
      approval: {
        required: d.approval.required,
        timeoutMs: d.approval.timeout,
        approvers: d.approval.approvers,
        escalation: d.approval.escalation.map((t) => ({ afterMs: t.after, approvers: t.approvers })),
        autoApprove: d.approval.autoApprove.map((r) => ({
          budget: r.budget,
          ...(r.levels && { levels: r.levels }),
          ...(r.maxDuration !== undefined && { maxDurationMs: r.maxDuration }),
          ...(r.requesterOnCall !== undefined && { requesterOnCall: r.requesterOnCall }),
          ...(r.requesterInGroup !== undefined && { requesterInGroup: r.requesterInGroup }),
        })),
        ...(d.approval.breakGlass && {
          breakGlass: {
            users: d.approval.breakGlass.users.map((u) => u.toLowerCase()),
            maxDurationMs: d.approval.breakGlass.maxDuration,
            reviewWithinMs: d.approval.breakGlass.reviewWithin,
            ...(d.approval.breakGlass.alertChannel && { alertChannel: d.approval.breakGlass.alertChannel }),
            ...(d.approval.breakGlass.teamsAlertChannel && { teamsAlertChannel: d.approval.breakGlass.teamsAlertChannel }),
          },
        }),
        ...(d.approval.slackChannel !== undefined && { slackChannel: d.approval.slackChannel }),
        ...(d.approval.teamsChannel !== undefined && { teamsChannel: d.approval.teamsChannel }),
      },
    });
  }
  return { databases };
}

export function loadCatalog(path: string, env: NodeJS.ProcessEnv = process.env): Catalog {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`cannot read the catalog: ${(err as NodeJS.ErrnoException).code ?? String(err)}`], path);
  }
  return parseCatalog(text, env, path);
}
