/** Catalog YAML → validated Catalog. Errors name the YAML path at fault: `databases[1].engine: expected …`. */
import { readFileSync, statSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import type { AccessLevel, Bundle, Catalog, DatabaseEntry } from '../core/catalog.js';
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

export interface SecretField {
  /** YAML path; `[]` stands for any list index. */
  path: readonly string[];
  /** The value is the secret itself (not, say, the path of a file holding it): written literally, it is a plaintext secret. */
  inline: boolean;
}

/**
 * The only fields `${VAR}` is read into: secrets, which no chat message or error text shows. Everything else is
 * shown to people (a description reaches every Slack user), so a reference there would publish the environment.
 */
export const SECRET_FIELDS: readonly SecretField[] = [
  { path: ['databases', '[]', 'admin', 'password'], inline: true },
  { path: ['databases', '[]', 'admin', 'passwordFile'], inline: false },
  { path: ['databases', '[]', 'tls', 'ca'], inline: false },
];

const VAR_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
/** Anything that looks like a reference, well-formed or not: refused outside the secret fields. */
const ANY_REF = /\$\{[^}]*\}/;

function secretField(path: ReadonlyArray<PropertyKey>): SecretField | undefined {
  return SECRET_FIELDS.find(
    (f) =>
      f.path.length === path.length &&
      f.path.every((seg, i) => (seg === '[]' ? typeof path[i] === 'number' : seg === path[i])),
  );
}

const secretFieldNames = SECRET_FIELDS.map((f) => f.path.join('.').replace(/\.\[\]/g, '[]')).join(', ');

/** Applies `fn` to every string scalar of a parsed YAML document, keeping its shape. */
function mapStrings(value: unknown, path: PropertyKey[], fn: (s: string, path: PropertyKey[]) => string): unknown {
  if (typeof value === 'string') return fn(value, path);
  if (Array.isArray(value)) return value.map((v, i) => mapStrings(v, [...path, i], fn));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapStrings(v, [...path, k], fn)]));
  }
  return value;
}

/**
 * Replaces `${VAR}` in the secret fields (SECRET_FIELDS) with the variable's value. A variable that is unset or
 * empty, and a reference in any other field, is a problem naming the YAML path (and the variable, never its value).
 */
export function interpolate(value: unknown, env: NodeJS.ProcessEnv, path: PropertyKey[], problems: string[]): unknown {
  return mapStrings(value, path, (s, at) => {
    if (!secretField(at)) {
      const ref = ANY_REF.exec(s);
      if (ref) {
        problems.push(
          `${formatPath(at)}: ${ref[0]} is not allowed here: \${VAR} interpolation is only allowed in secret fields (${secretFieldNames})`,
        );
      }
      return s;
    }
    return s.replace(VAR_REF, (_, name: string) => {
      const v = env[name];
      if (v === undefined) problems.push(`${formatPath(at)}: environment variable ${name} is not set`);
      else if (v === '') problems.push(`${formatPath(at)}: environment variable ${name} is empty`);
      return v ?? '';
    });
  });
}

/** YAML paths of the secret fields written into the file itself rather than referenced as `${VAR}`. */
export function plaintextSecrets(text: string): string[] {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) return [];
  const found: string[] = [];
  mapStrings(doc.toJS(), [], (s, at) => {
    if (secretField(at)?.inline && s.replace(VAR_REF, '') !== '') found.push(formatPath(at));
    return s;
  });
  return found;
}

/**
 * What `db-access check` warns about the catalog file itself: plaintext secrets in a file that other local
 * accounts can read (group or world read bit).
 */
export function catalogFileWarnings(path: string): string[] {
  let text: string;
  let mode: number;
  try {
    text = readFileSync(path, 'utf8');
    mode = statSync(path).mode;
  } catch {
    return [];
  }
  const secrets = plaintextSecrets(text);
  if ((mode & 0o044) === 0 || secrets.length === 0) return [];
  const perms = (mode & 0o777).toString(8).padStart(3, '0');
  return [
    `${path} is readable by other accounts (mode ${perms}) and holds plaintext secrets (${secrets.join(', ')}): ` +
      `run "chmod 600 ${path}", or write each as "\${VAR}" and set the variable in the broker's environment`,
  ];
}

export function parseCatalog(text: string, env: NodeJS.ProcessEnv, source = 'catalog'): Catalog {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0)
    throw new ConfigError(
      doc.errors.map((e) => e.message.split('\n')[0] ?? e.message),
      source,
    );
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
        ...(l.onExpiry !== 'drop' && { onExpiry: l.onExpiry }),
        ...(l.auditStatements && { auditStatements: true }),
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
      admin: {
        user: d.admin.user,
        ...(d.admin.password !== undefined && { password: d.admin.password }),
        ...(d.admin.passwordFile !== undefined && { passwordFile: d.admin.passwordFile }),
      },
      ...(d.tls && { tls: { mode: d.tls.mode, ...(d.tls.ca !== undefined && { ca: d.tls.ca }) } }),
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
          ...(r.whenResponding && { whenResponding: true as const }),
        })),
        ...(d.approval.breakGlass && {
          breakGlass: {
            users: d.approval.breakGlass.users.map((u) => u.toLowerCase()),
            maxDurationMs: d.approval.breakGlass.maxDuration,
            reviewWithinMs: d.approval.breakGlass.reviewWithin,
            ...(d.approval.breakGlass.alertChannel && { alertChannel: d.approval.breakGlass.alertChannel }),
            ...(d.approval.breakGlass.teamsAlertChannel && {
              teamsAlertChannel: d.approval.breakGlass.teamsAlertChannel,
            }),
          },
        }),
        ...(d.approval.slackChannel !== undefined && { slackChannel: d.approval.slackChannel }),
        ...(d.approval.teamsChannel !== undefined && { teamsChannel: d.approval.teamsChannel }),
      },
    });
  }
  const bundles = new Map<string, Bundle>();
  for (const b of parsed.data.bundles) {
    const members = b.members.map((m) => ({ database: m.database, level: m.level }));
    bundles.set(b.name, {
      name: b.name,
      ...(b.description !== undefined && { description: b.description }),
      members,
      maxDuration: Math.min(...members.map((m) => databases.get(m.database)!.maxDuration)),
      approval: {
        required: b.approval.required,
        timeoutMs: b.approval.timeout,
        approvers: b.approval.approvers,
        escalation: b.approval.escalation.map((t) => ({ afterMs: t.after, approvers: t.approvers })),
        ...(b.approval.slackChannel !== undefined && { slackChannel: b.approval.slackChannel }),
        ...(b.approval.teamsChannel !== undefined && { teamsChannel: b.approval.teamsChannel }),
      },
    });
  }
  return { databases, bundles };
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
