/** Environment → typed Settings, validated once at start. The only module that reads process.env. */
import { z } from 'zod';
import { parseDuration } from '../core/duration.js';
import { ConfigError, zodProblems } from './catalog.js';

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v));

const durationMs = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((v, ctx) => {
      const ms = parseDuration(v) ?? (/^\d+$/.test(v) ? Number(v) : undefined);
      if (ms === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `expected a duration such as "5s" or "10m", got ${JSON.stringify(v)}`,
        });
        return z.NEVER;
      }
      return ms;
    });

export const settingsSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /** Address the HTTP server binds. */
  HOST: z.string().min(1).default('0.0.0.0'),
  DATABASE_URL: z.string().default('sqlite:./data/db-access.sqlite'),
  /** PostgreSQL state store: `false` = do not prepare statements (behind a pooler in transaction mode that cannot
   *  keep them, such as PgBouncer before 1.21); the broker also stops by itself when one is lost. */
  DATABASE_PREPARED_STATEMENTS: z
    .enum(['true', 'false', ''])
    .optional()
    .transform((v) => v !== 'false'),
  REDIS_URL: z.string().default('redis://127.0.0.1:6379'),
  CATALOG_PATH: z.string().default('./catalog.yaml'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  SLACK_BOT_TOKEN: optionalString,
  SLACK_SIGNING_SECRET: optionalString,
  SLACK_APP_TOKEN: optionalString,
  SLACK_API_URL: optionalString,
  /** Comma-separated Slack team / Enterprise Grid ids whose people may use the bot (default: the installing team,
   *  from auth.test). */
  SLACK_ALLOWED_TEAMS: optionalString,
  TEAMS_APP_ID: optionalString,
  TEAMS_APP_PASSWORD: optionalString,
  TEAMS_TENANT_ID: optionalString,
  /** `true` = local development without Bot Framework auth: refused unless HOST is a loopback address. */
  TEAMS_ANONYMOUS: z
    .enum(['true', 'false', ''])
    .optional()
    .transform((v) => v === 'true'),
  /** Bot Connector URL used until an activity shows the tenant's own (they are regional). */
  TEAMS_SERVICE_URL: z.url().default('https://smba.trafficmanager.net/teams/'),
  PAGERDUTY_TOKEN: optionalString,
  PAGERDUTY_API_URL: optionalString,
  OPSGENIE_API_KEY: optionalString,
  OPSGENIE_API_URL: optionalString,
  ADMIN_API_TOKEN: optionalString,
  /** The broker's address as people's browsers reach it (https://db-access.example.com): signed links to the
   *  access report page (GET /report) in chat start with it. Without it, the posted report carries no link. */
  PUBLIC_URL: optionalString.pipe(z.url({ protocol: /^https?$/ }).optional()),
  /** Bearer token for /metrics and the detail of /readyz (without it /metrics is open and /readyz says status only). */
  METRICS_TOKEN: optionalString,
  /** HMAC key for terminal sign-in codes and tokens (`db-access request`); empty = the terminal API is off. At least
   *  32 characters, the same on every replica. */
  TERMINAL_TOKEN_SECRET: optionalString.refine((v) => v === undefined || v.length >= 32, {
    message: 'must be at least 32 characters',
  }),
  /** Where `db-access request` finds the broker (its HTTP server), e.g. https://db-access.example.com. */
  DB_ACCESS_URL: optionalString,
  /** Every audit event is POSTed here (a SIEM), in order, with retries and no loss across restarts. */
  AUDIT_WEBHOOK_URL: optionalString,
  /** HMAC-SHA256 key for the X-DbAccess-Signature header of those POSTs. */
  AUDIT_WEBHOOK_SECRET: optionalString,
  /** Requests (and extension requests) one person may file: `<n>/<duration>` = n at once, then n per duration,
   *  across Slack, Teams and every replica (a token bucket in Redis). */
  REQUEST_RATE: z
    .string()
    .default('5/1m')
    .transform((v, ctx) => {
      const m = /^(\d{1,4})\/(\S+)$/.exec(v.trim());
      const per = m ? parseDuration(m[2]!) : undefined;
      if (!m || Number(m[1]) < 1 || per === undefined || per <= 0) {
        ctx.addIssue({
          code: 'custom',
          message: `expected "<count>/<duration>" such as "5/1m", got ${JSON.stringify(v)}`,
        });
        return z.NEVER;
      }
      return { capacity: Number(m[1]), refillMs: per / Number(m[1]) };
    }),
  /** How often the sweeper reads the state DB for overdue grants and orphans (≤ 15 s). */
  SWEEP_INTERVAL: durationMs('5s'),
  /** A grant whose revocation keeps failing this long is flagged for a human. */
  REVOKE_ALERT_AFTER: durationMs('10m'),
  /** The "expires soon" DM with Extend / I'm done goes out this long before expiry. */
  REMIND_BEFORE: durationMs('5m'),
  /** How often grants scoped to an incident (PagerDuty, Opsgenie) check whether it resolved. */
  INCIDENT_POLL: durationMs('30s'),
  /** Longest wait between two revocation attempts (backoff is capped here; attempts are never capped). */
  REVOKE_RETRY_MAX: durationMs('60s'),
  /** Provisioning jobs one worker process runs at once. Those in flight together are provisioned as one batch per server (one DDL section), so more in flight means fewer, larger batches under a burst (PostgreSQL burst, 3 paired runs: 10 → 65 grants/s, 50 → 75). */
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(200).default(50),
  /** Revocation jobs one worker process runs at once: many grants can expire in the same second, and a revocation
   *  mostly waits (target DDL is serialised per server anyway), so this is higher. */
  WORKER_REVOKE_CONCURRENCY: z.coerce.number().int().min(1).max(500).default(50),
  /**
   * The approval message shows "approved; provisioning" only if the grant is not active this long after the
   * approval (it usually is within tens of milliseconds, and the activation's update replaces the message anyway:
   * one chat update per grant instead of two). 0 = show it at once.
   */
  PROVISIONING_NOTICE_AFTER: durationMs('2s'),
  /** A grant still provisioning this long after it was approved (its job lost with Redis) is queued again. */
  PROVISION_STALE_AFTER: durationMs('30s'),
  /** BullMQ lock duration: how soon a job of a dead worker is taken over by another. */
  WORKER_LOCK: durationMs('30s'),
  /** BullMQ queue prefix (lets several installs, or test runs, share one Redis). */
  QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/)
    .default('db-access'),
  /** Test-only fault injection: crash the process at a named point (see src/core/failpoints.ts). */
  DB_ACCESS_FAILPOINT: optionalString,
});

export type Settings = z.output<typeof settingsSchema>;

export function loadSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const parsed = settingsSchema.safeParse(env);
  if (!parsed.success) throw new ConfigError(zodProblems(parsed.error), 'environment');
  const s = parsed.data;
  if (s.SWEEP_INTERVAL > 15_000) throw new ConfigError(['SWEEP_INTERVAL: must be 15s or less'], 'environment');
  return s;
}
