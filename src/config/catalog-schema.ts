/** The catalog YAML's shape. Every name that reaches SQL is allow-listed here, at load time. */
import { z } from 'zod';
import { parseDuration } from '../core/duration.js';

export const DATABASE_NAME = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;
export const LEVEL_NAME = /^[a-z][a-z0-9_-]{0,29}$/;
/** Role names are quoted in SQL anyway; this keeps quotes, spaces and wildcards out of them entirely. */
export const ROLE_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,62}$/;
export const TARGET_DATABASE = /^[A-Za-z_][A-Za-z0-9_$-]{0,62}$/;
export const HOST = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$|^\[?[0-9a-fA-F:]+\]?$/;
export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
export const PD_ID = /^[A-Z0-9]{2,20}$/;

const duration = (what: string) =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    const ms = typeof v === 'number' ? v * 1000 : parseDuration(v);
    if (ms === undefined || ms <= 0) {
      ctx.addIssue({
        code: 'custom',
        message: `expected a ${what} such as "30s", "15m" or "4h", got ${JSON.stringify(v)}`,
      });
      return z.NEVER;
    }
    return ms;
  });

/**
 * A templated grant: exactly one GRANT statement whose only grantee is `{{user}}`, at its end. No statement
 * separators, comments, string literals, backslashes, dollar quoting or other placeholders: the broker runs it
 * verbatim with `{{user}}` replaced by the quoted generated user name.
 */
export function grantTemplateProblem(template: string): string | undefined {
  const t = template.trim().replace(/;$/, '').trim();
  if (t.includes(';')) return 'must be a single statement (no ";")';
  if (/--|\/\*|\*\/|#/.test(t)) return 'must not contain comments';
  if (/['\\]|\$\$/.test(t)) return 'must not contain string literals, backslashes or dollar quoting';
  if (!/^GRANT\s/i.test(t)) return 'must be a GRANT statement';
  if (!/\sTO\s+\{\{user\}\}$/i.test(t)) return 'must end with "TO {{user}}" (the issued user is its only grantee)';
  if ((t.match(/\{\{[^}]*\}\}/g) ?? []).some((p) => p !== '{{user}}'))
    return 'only the {{user}} placeholder is allowed';
  if ((t.match(/\{\{user\}\}/g) ?? []).length !== 1) return '{{user}} must appear exactly once';
  if (/WITH\s+(GRANT|ADMIN)\s+OPTION/i.test(t)) return 'must not pass on GRANT or ADMIN OPTION';
  return undefined;
}

const levelSchema = z
  .object({
    roles: z.array(z.string().regex(ROLE_NAME, 'role names may hold only letters, digits, "_" and "-"')).default([]),
    grants: z
      .array(
        z.string().superRefine((v, ctx) => {
          const problem = grantTemplateProblem(v);
          if (problem) ctx.addIssue({ code: 'custom', message: `grant template ${problem}` });
        }),
      )
      .default([]),
    statementTimeout: duration('statement timeout').optional(),
    idleInTransactionTimeout: duration('idle-in-transaction timeout').optional(),
    connectionLimit: z.number().int().min(1).max(1000).default(10),
    /** Approvals this level needs (overrides approval.required). */
    required: z.number().int().min(1).max(10).optional(),
    /** What happens to objects the user created, at expiry: dropped with it, or handed to an existing role. */
    onExpiry: z
      .union([
        z.literal('drop'),
        z
          .object({ reassignTo: z.string().regex(ROLE_NAME, 'role names may hold only letters, digits, "_" and "-"') })
          .strict(),
      ])
      .default('drop'),
    /** Log every statement of the issued user on the target server (PostgreSQL log_statement, MariaDB server_audit). */
    auditStatements: z.boolean().default(false),
  })
  .strict()
  .refine((l) => l.roles.length + l.grants.length > 0, { message: 'a level needs "roles" or "grants"' });

const approverSchema = z.union([
  z.object({ email: z.email() }).strict(),
  z.object({ slackUser: z.string().regex(/^[UW][A-Z0-9]+$/) }).strict(),
  z.object({ slackUsergroup: z.string().regex(/^S[A-Z0-9]+$/) }).strict(),
  z
    .object({
      pagerduty: z
        .object({
          schedule: z.string().regex(PD_ID, 'expected a PagerDuty id such as PABC123').optional(),
          escalationPolicy: z.string().regex(PD_ID, 'expected a PagerDuty id such as PABC123').optional(),
          /** Escalation-policy level (1 = first responders). */
          level: z.number().int().min(1).max(20).optional(),
        })
        .strict()
        .refine((p) => (p.schedule ? 1 : 0) + (p.escalationPolicy ? 1 : 0) === 1, {
          message: 'name exactly one of schedule or escalationPolicy',
        }),
    })
    .strict(),
  z.object({ opsgenie: z.object({ schedule: z.string().min(1) }).strict() }).strict(),
]);

/** An on-call source the requester may be on (auto-approval); `true` = any on-call source among the approvers. */
const onCallSchema = z.union([
  z.literal(true),
  z
    .object({
      pagerduty: z
        .object({
          schedule: z.string().regex(PD_ID).optional(),
          escalationPolicy: z.string().regex(PD_ID).optional(),
          level: z.number().int().min(1).optional(),
        })
        .strict(),
    })
    .strict(),
  z.object({ opsgenie: z.object({ schedule: z.string().min(1) }).strict() }).strict(),
]);

const autoApproveSchema = z
  .object({
    /** Levels this rule may approve (all when absent). */
    levels: z.array(z.string().regex(LEVEL_NAME)).min(1).optional(),
    maxDuration: duration('duration').optional(),
    requesterOnCall: onCallSchema.optional(),
    /** A Slack user group the requester must be in. */
    requesterInGroup: z
      .string()
      .regex(/^S[A-Z0-9]+$/, 'expected a Slack user group id such as S0DBAS')
      .optional(),
    /** The requester must be responding to the incident named in the request (assigned to it or having
     *  acknowledged it, while it is open); the grant then ends when that incident resolves. */
    whenResponding: z.literal(true).optional(),
    /** At most this many auto-approvals per person per day under this database (default 5). */
    budget: z.number().int().min(1).max(1000).default(5),
  })
  .strict();

const breakGlassSchema = z
  .object({
    users: z.array(z.email()).min(1, 'list who may break the glass'),
    alertChannel: z
      .string()
      .regex(/^[CG][A-Z0-9]+$/, 'expected a Slack channel id such as C0SECURITY')
      .optional(),
    /** The Teams channel for break-glass alerts (default: the database's teamsChannel). */
    teamsAlertChannel: z.string().min(1).optional(),
    maxDuration: duration('duration').default(3_600_000),
    /** An approver must review a break-glass grant within this time; ignored reviews are escalated. */
    reviewWithin: duration('duration').default(30 * 60_000),
  })
  .strict();

const approvalSchema = z
  .object({
    slackChannel: z
      .string()
      .regex(/^[CG][A-Z0-9]+$/, 'expected a Slack channel id such as C0123456789')
      .optional(),
    teamsChannel: z.string().min(1).optional(),
    approvers: z.array(approverSchema).default([]),
    required: z.number().int().min(1).max(10).default(1),
    timeout: duration('approval timeout').default(30 * 60_000),
    /** Later tiers: asked when nobody decided `after` the request was made; each tier adds approvers. */
    escalation: z
      .array(z.object({ after: duration('duration'), approvers: z.array(approverSchema).min(1) }).strict())
      .default([]),
    autoApprove: z.array(autoApproveSchema).default([]),
    breakGlass: breakGlassSchema.optional(),
  })
  .strict()
  .superRefine((a, ctx) => {
    a.escalation.forEach((tier, i) => {
      const prev = i === 0 ? 0 : a.escalation[i - 1]!.after;
      if (tier.after <= prev)
        ctx.addIssue({
          code: 'custom',
          path: ['escalation', i, 'after'],
          message: 'each tier must come later than the previous one',
        });
    });
  });

export const databaseSchema = z
  .object({
    name: z.string().regex(DATABASE_NAME, 'expected lowercase letters, digits and "-" (what people type)'),
    description: z.string().max(200).optional(),
    engine: z.enum(['postgres', 'mysql']),
    host: z.string().regex(HOST, 'expected a host name or IP address'),
    port: z.number().int().min(1).max(65535).optional(),
    database: z.string().regex(TARGET_DATABASE, 'expected a database name of letters, digits, "_", "$" or "-"'),
    publicHost: z.string().regex(HOST, 'expected a host name or IP address').optional(),
    publicPort: z.number().int().min(1).max(65535).optional(),
    admin: z
      .object({
        user: z.string().regex(ROLE_NAME, 'expected a plain account name'),
        password: z.string().optional(),
        /** A file holding the password (a mounted secret), read again for every new connection. */
        passwordFile: z.string().min(1).optional(),
      })
      .strict()
      .refine((a) => (a.password === undefined) !== (a.passwordFile === undefined), {
        message: 'give exactly one of password or passwordFile',
      }),
    /** How the broker's connections to this server are protected; absent = the driver's default (no TLS). */
    tls: z
      .object({
        mode: z.enum(['disable', 'require', 'verify-ca', 'verify-full']),
        /** A PEM bundle of the CAs to trust (verify-ca, verify-full); the system's store when absent. */
        ca: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
    levels: z
      .record(z.string().regex(LEVEL_NAME, 'level names are lowercase letters, digits, "_" or "-"'), levelSchema)
      .refine((r) => Object.keys(r).length > 0, { message: 'define at least one level' }),
    maxDuration: duration('duration').default(4 * 3_600_000),
    brokerSchema: z.string().regex(SCHEMA_NAME, 'expected a lowercase schema name').default('db_access'),
    delivery: z.enum(['reveal', 'message']).default('reveal'),
    approval: approvalSchema.default({
      approvers: [],
      required: 1,
      timeout: 30 * 60_000,
      escalation: [],
      autoApprove: [],
    }),
    limits: z
      .object({
        /** Live grants one person may hold on this database; a request for a level they hold extends it instead. */
        activeGrantsPerPerson: z.number().int().min(1).max(100).default(3),
        /** Requests one person may have waiting for a decision on this database at once. */
        pendingRequestsPerPerson: z.number().int().min(1).max(100).default(3),
        /** Extensions a holder may apply to their own live grant without approval (beyond them: approvers). */
        selfExtensions: z.number().int().min(0).max(100).default(0),
        /** How long a grant may run from its activation, extensions included; default 3 × maxDuration. */
        maxLifetime: duration('duration').optional(),
      })
      .strict()
      .default({ activeGrantsPerPerson: 3, pendingRequestsPerPerson: 3, selfExtensions: 0 }),
  })
  .strict();

/** Members a bundle may have: each is provisioned and revoked on its own target. */
export const MAX_BUNDLE_MEMBERS = 10;

/**
 * A bundle: several databases, each at one level, asked for in one request and decided by the bundle's own approval
 * block. Auto-approval and break-glass stay per database: a bundle is always decided by people.
 */
export const bundleSchema = z
  .object({
    name: z.string().regex(DATABASE_NAME, 'expected lowercase letters, digits and "-" (what people type)'),
    description: z.string().max(200).optional(),
    members: z
      .array(
        z
          .object({
            database: z.string().regex(DATABASE_NAME, 'expected the name of a database listed under databases'),
            level: z.string().regex(LEVEL_NAME, 'level names are lowercase letters, digits, "_" or "-"'),
          })
          .strict(),
      )
      .min(2, 'a bundle groups at least two databases')
      .max(MAX_BUNDLE_MEMBERS, `a bundle has at most ${MAX_BUNDLE_MEMBERS} members`),
    approval: approvalSchema,
  })
  .strict()
  .superRefine((b, ctx) => {
    if (b.approval.autoApprove.length > 0)
      ctx.addIssue({
        code: 'custom',
        path: ['approval', 'autoApprove'],
        message: 'a bundle is always decided by its approvers: auto-approval is set per database; remove it',
      });
    if (b.approval.breakGlass)
      ctx.addIssue({
        code: 'custom',
        path: ['approval', 'breakGlass'],
        message: 'break-glass is set per database, not on a bundle; remove it',
      });
  });

export const catalogSchema = z
  .object({
    databases: z.array(databaseSchema).min(1, 'list at least one database'),
    bundles: z.array(bundleSchema).default([]),
  })
  .strict()
  .superRefine((c, ctx) => {
    const byName = new Map(c.databases.map((d) => [d.name, d]));
    const bundleNames = new Set<string>();
    c.bundles.forEach((b, i) => {
      // One namespace: what people type names exactly one thing.
      if (byName.has(b.name))
        ctx.addIssue({
          code: 'custom',
          path: ['bundles', i, 'name'],
          message: `"${b.name}" is already the name of a database; bundles and databases share one set of names`,
        });
      else if (bundleNames.has(b.name))
        ctx.addIssue({ code: 'custom', path: ['bundles', i, 'name'], message: `"${b.name}" is listed twice` });
      bundleNames.add(b.name);
      const members = new Set<string>();
      b.members.forEach((m, j) => {
        const db = byName.get(m.database);
        if (!db)
          ctx.addIssue({
            code: 'custom',
            path: ['bundles', i, 'members', j, 'database'],
            message: `"${m.database}" is not a database listed under databases`,
          });
        else if (!Object.hasOwn(db.levels, m.level))
          ctx.addIssue({
            code: 'custom',
            path: ['bundles', i, 'members', j, 'level'],
            message: `${m.database} has no level "${m.level}" (it has ${Object.keys(db.levels).join(', ')})`,
          });
        if (members.has(m.database))
          ctx.addIssue({
            code: 'custom',
            path: ['bundles', i, 'members', j, 'database'],
            message: `${m.database} is a member twice; a bundle names each database once`,
          });
        members.add(m.database);
      });
    });
    const seen = new Set<string>();
    c.databases.forEach((d, i) => {
      if (seen.has(d.name))
        ctx.addIssue({ code: 'custom', path: ['databases', i, 'name'], message: `"${d.name}" is listed twice` });
      seen.add(d.name);
      if (d.limits.maxLifetime !== undefined && d.limits.maxLifetime < d.maxDuration)
        ctx.addIssue({
          code: 'custom',
          path: ['databases', i, 'limits', 'maxLifetime'],
          message: 'limits.maxLifetime must be at least maxDuration (a grant may run that long from activation)',
        });
      if (d.engine === 'mysql') {
        for (const [name, level] of Object.entries(d.levels)) {
          // MySQL/MariaDB accounts own no objects (tables belong to schemas; routines and views carry a DEFINER,
          // which DROP USER refuses or orphans instead of handing over): nothing could be reassigned.
          if (level.onExpiry !== 'drop') {
            ctx.addIssue({
              code: 'custom',
              path: ['databases', i, 'levels', name, 'onExpiry'],
              message:
                'onExpiry reassignTo is PostgreSQL only: MySQL and MariaDB accounts do not own tables (schemas do), so there is nothing to hand over; remove it or use "drop"',
            });
          }
          if (level.idleInTransactionTimeout !== undefined) {
            ctx.addIssue({
              code: 'custom',
              path: ['databases', i, 'levels', name, 'idleInTransactionTimeout'],
              message: 'MySQL and MariaDB have no per-account idle-in-transaction timeout; remove it',
            });
          }
        }
      }
    });
  });

export type CatalogInput = z.input<typeof catalogSchema>;
