/** CLI verbs. Each opens only what it needs and closes it; errors become exit codes in main.ts. */
import { userInfo } from 'node:os';
import { z } from 'zod';
import type { Catalog } from '../core/catalog.js';
import { BrokerError, TargetError, describeError } from '../core/errors.js';
import { extend, provision, revoke } from '../core/lifecycle.js';
import type { Actor, ApproverRef, GrantId, GrantStatus } from '../core/model.js';
import { LIVE_GRANT_STATUSES } from '../core/model.js';
import { createAdminGrant } from '../core/asking.js';
import { parseDuration } from '../core/duration.js';
import { parseGrantId } from '../core/ids.js';
import { loadSettings, type Settings } from '../config/settings.js';
import { ConfigError, catalogFileWarnings, loadCatalog } from '../config/catalog.js';
import { migrateLatest, openStateStore, describeStateStoreUrl, storeOptions } from '../store/index.js';
import { CatalogEngines } from '../targets/registry.js';
import { targetTlsWarnings } from '../targets/tls.js';
import { exportAudit, parseWhen } from '../audit/export.js';
import { accessReport, reportCsv, reportTable } from '../audit/report.js';
import { reportLinkKey, reportLinkUrl } from '../audit/report-link.js';
import { escapeMrkdwn } from '../chat/slack/mrkdwn.js';
import { createWebClient } from '../chat/slack/app.js';
import { onCallClients, openApp, PendingMigrationsError, startServices, systemClock, type Roles } from '../app.js';
import { ApproverResolver } from '../oncall/resolver.js';
import { SlackPeople } from '../chat/slack/people.js';
import type { WebClient } from '@slack/web-api';
import type { Logger as Pino } from 'pino';
import { createLogger } from '../logging.js';
import { explainError, formatChecks, formatCredentials, formatGrantTable } from './format.js';

export interface CliContext {
  settings: Settings;
  loadCatalog: () => Catalog;
  logger: Pino;
  out: (text: string) => void;
}

/** The settings (environment), the logger and the catalog (read when a verb needs it) of one CLI run. */
export function cliContext(): CliContext {
  const settings = loadSettings();
  const logger = createLogger(settings.LOG_LEVEL);
  return {
    settings,
    logger,
    loadCatalog: () => loadCatalog(settings.CATALOG_PATH),
    out: (text) => process.stdout.write(`${text}\n`),
  };
}

/** A failed verb's message (written with `err`) and exit code: 2 for a configuration error, else 1. */
export function exitCodeOf(err: unknown, write: (text: string) => void): number {
  if (err instanceof ConfigError) {
    write(`error: ${err.message}`);
    return 2;
  }
  if (err instanceof BrokerError) write(`error: ${explainError(err)}`);
  else if (err instanceof TargetError || err instanceof PendingMigrationsError) write(`error: ${describeError(err)}`);
  else write(`error: ${err instanceof Error ? err.message : String(err)}`);
  return 1;
}

export function cliActor(): Actor {
  const name = userInfo().username;
  return { platform: 'cli', id: `cli:${name}`, name };
}

function openStore(ctx: CliContext): ReturnType<typeof openStateStore> {
  return openStateStore(ctx.settings.DATABASE_URL, storeOptions(ctx.settings));
}

export async function migrateCommand(ctx: CliContext): Promise<void> {
  const applied = await migrateLatest(ctx.settings.DATABASE_URL);
  ctx.out(
    applied.length
      ? `Applied ${applied.length} migration(s) to ${describeStateStoreUrl(ctx.settings.DATABASE_URL)}: ${applied.join(', ')}`
      : `${describeStateStoreUrl(ctx.settings.DATABASE_URL)} is up to date.`,
  );
}

export interface GrantOptions {
  db: string;
  level: string;
  user: string;
  duration: string;
  reason: string;
  ticket?: string;
  json?: boolean;
}

const email = z.email();

export async function grantCommand(ctx: CliContext, o: GrantOptions): Promise<void> {
  if (!email.safeParse(o.user).success) {
    throw new BrokerError('INVALID_INPUT', `"${o.user}" is not an email address`, { field: 'user' });
  }
  const catalog = ctx.loadCatalog();
  const app = await openApp({ settings: ctx.settings, catalog, logger: ctx.logger, role: 'producer' });
  try {
    const admin = cliActor();
    const grantee: Actor = { platform: 'cli', id: `email:${o.user.toLowerCase()}`, email: o.user.toLowerCase() };
    const { grant } = await createAdminGrant(app.deps, admin, grantee, {
      database: o.db,
      level: o.level,
      duration: o.duration,
      reason: o.reason,
      ...(o.ticket !== undefined && { ticket: o.ticket }),
    });
    let result;
    try {
      result = await provision(app.deps, grant.id, { credentials: true });
    } catch (err) {
      // Nobody else will hand these credentials over: end the grant now rather than leave it to a retry.
      await revoke(app.deps, grant.id, admin, `provisioning failed: ${describeError(err)}`, 'provision_failed').catch(
        () => undefined,
      );
      throw err;
    }
    if (result.outcome !== 'active' || !result.credentials)
      throw new Error(`grant #${grant.id} could not be activated (${result.grant.status})`);
    const now = app.deps.clock.now();
    if (o.json) {
      ctx.out(JSON.stringify({ grant: { ...result.grant }, credentials: result.credentials }, null, 2));
    } else {
      ctx.out(formatCredentials(result.grant, result.credentials, now));
    }
  } finally {
    await app.close();
  }
}

export async function grantsListCommand(
  ctx: CliContext,
  o: { all?: boolean; status?: string; json?: boolean },
): Promise<void> {
  const store = await openStore(ctx);
  try {
    const statuses = o.status ? (o.status.split(',') as GrantStatus[]) : o.all ? undefined : LIVE_GRANT_STATUSES;
    const grants = await store.listGrants({ ...(statuses && { statuses }), limit: 500 });
    ctx.out(o.json ? JSON.stringify(grants, null, 2) : formatGrantTable(grants, Date.now()));
  } finally {
    await store.close();
  }
}

export async function revokeCommand(
  ctx: CliContext,
  id: string,
  o: { reason?: string; json?: boolean },
): Promise<void> {
  const grantId = parseId(id);
  const catalog = ctx.loadCatalog();
  const app = await openApp({ settings: ctx.settings, catalog, logger: ctx.logger, role: 'producer' });
  try {
    const admin = cliActor();
    const res = await revoke(
      app.deps,
      grantId,
      admin,
      o.reason ? `revoked by ${admin.name}: ${o.reason}` : `revoked by ${admin.name}`,
      'admin',
    );
    if (o.json) ctx.out(JSON.stringify(res, null, 2));
    else if (!res.receipt) ctx.out(`Grant #${grantId} had already ended (${res.grant.status}).`);
    else {
      const r = res.receipt;
      ctx.out(
        `Grant #${grantId} revoked: ${r.sessionsTerminated} session(s) terminated, user ${res.grant.username} ${
          r.userOutcome === 'dropped' ? 'dropped' : 'was already absent'
        }.`,
      );
    }
  } finally {
    await app.close();
  }
}

export async function extendCommand(ctx: CliContext, id: string, duration: string): Promise<void> {
  const grantId = parseId(id);
  const ms = parseDuration(duration);
  if (!ms)
    throw new BrokerError('INVALID_INPUT', `"${duration}" is not a duration such as 30m or 2h`, { field: 'duration' });
  const app = await openApp({
    settings: ctx.settings,
    catalog: ctx.loadCatalog(),
    logger: ctx.logger,
    role: 'producer',
  });
  try {
    const g = await extend(app.deps, grantId, ms, cliActor());
    ctx.out(`Grant #${grantId} now expires at ${new Date(g.expiresAt).toISOString()}.`);
  } finally {
    await app.close();
  }
}

export async function checkCommand(ctx: CliContext, o: { json?: boolean }): Promise<boolean> {
  const catalog = ctx.loadCatalog();
  // Warnings do not fail the check: the broker runs as configured, but the operator should change it.
  const warnings = [...catalogFileWarnings(ctx.settings.CATALOG_PATH), ...targetTlsWarnings(catalog)];
  const lines: string[] = [
    `catalog: ${catalog.databases.size} database(s), valid`,
    ...warnings.map((w) => `  [WARN] ${w}`),
  ];
  const report: Record<string, unknown> = {};
  let ok = true;
  const store = await openStore(ctx).catch((err: unknown) => err as Error);
  if (store instanceof Error) {
    ok = false;
    lines.push(`state store: FAIL ${store.message}`);
  } else {
    await store.ping().then(
      () => lines.push(`state store: ok (${describeStateStoreUrl(ctx.settings.DATABASE_URL)})`),
      (err: unknown) => {
        ok = false;
        lines.push(`state store: FAIL ${String(err)}`);
      },
    );
    await store.close();
  }
  const engines = new CatalogEngines(catalog, ctx.logger);
  try {
    for (const { database, engine } of engines.all()) {
      try {
        const caps = await engine.initialize();
        report[database] = caps;
        if (caps.checks.some((c) => !c.ok && c.severity === 'error')) ok = false;
        lines.push(formatChecks(`${database} (${caps.flavour} ${caps.serverVersion})`, caps.checks));
      } catch (err) {
        ok = false;
        report[database] = { error: describeError(err) };
        lines.push(`${database}:\n  [FAIL] connect: ${describeError(err)}`);
      }
    }
  } finally {
    await engines.close();
  }
  ctx.out(
    o.json
      ? JSON.stringify({ ok, warnings, targets: report }, null, 2)
      : [...lines, ok ? 'All checks passed.' : 'Some checks failed.'].join('\n'),
  );
  return ok;
}

/** worker | serve | all: long-running roles; resolve when a signal asks them to stop. */
export async function runRoles(ctx: CliContext, roles: Roles): Promise<void> {
  const catalog = ctx.loadCatalog();
  const services = await startServices({ settings: ctx.settings, catalog, logger: ctx.logger }, roles);
  ctx.logger.info({ roles, port: services.port, databases: [...catalog.databases.keys()] }, 'db-access started');
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  ctx.logger.info({}, 'shutting down');
  await services.stop();
}

function parseId(id: string): GrantId {
  const n = parseGrantId(id);
  if (n === undefined)
    throw new BrokerError('INVALID_INPUT', `"${id}" is not a grant id (a number such as 42)`, { field: 'id' });
  return n;
}

export async function auditVerifyCommand(ctx: CliContext): Promise<boolean> {
  const store = await openStore(ctx);
  try {
    const v = await store.verifyAudit();
    ctx.out(
      v.ok
        ? `Audit log intact: ${v.rows} event(s), hash chain unbroken.`
        : [
            `Audit log TAMPERED: ${v.problems.length} problem(s) in ${v.rows} event(s):`,
            ...v.problems.map((p) => `  - ${p.problem}`),
          ].join('\n'),
    );
    return v.ok;
  } finally {
    await store.close();
  }
}

export async function auditExportCommand(
  ctx: CliContext,
  o: { since?: string; until?: string; format: 'csv' | 'jsonl' },
): Promise<void> {
  const now = Date.now();
  const since = parseWhen(o.since, 'since', now);
  const until = parseWhen(o.until, 'until', now);
  const store = await openStore(ctx);
  try {
    for await (const line of exportAudit(
      store,
      { ...(since !== undefined && { since }), ...(until !== undefined && { until }) },
      o.format,
    ))
      ctx.out(line);
  } finally {
    await store.close();
  }
}

/**
 * The posted report's link to its page: signed for the channel it is posted in (anyone there may open it for
 * REPORT_LINK_TTL_MS, a week — until the next weekly post), showing the same range. Empty without PUBLIC_URL and
 * ADMIN_API_TOKEN (the link key is derived from the token).
 */
function reportPostLink(settings: Settings, channel: string, now: number, since: number, until: number): string {
  if (!settings.PUBLIC_URL || !settings.ADMIN_API_TOKEN) return '';
  const url = reportLinkUrl(
    settings.PUBLIC_URL,
    reportLinkKey(settings.ADMIN_API_TOKEN),
    `slack-channel:${channel}`,
    now,
    {
      from: new Date(since).toISOString().slice(0, 10),
      to: new Date(until - 1).toISOString().slice(0, 10),
    },
  );
  // A URL in mrkdwn is escaped like any text (& < >); the link text is this code's own.
  return ` · <${escapeMrkdwn(url)}|Open the report page (timeline, filters, CSV)>`;
}

/**
 * Each approver of any database (as the catalog's sources name them now, Slack users only) gets a DM with a link to
 * the report page issued to them (their email, else their Slack id). Returns how many were sent; a DM that fails is
 * logged and the others still go.
 */
async function dmReportLinks(
  ctx: CliContext,
  client: WebClient,
  title: string,
  now: number,
  since: number,
  until: number,
): Promise<number> {
  const { PUBLIC_URL, ADMIN_API_TOKEN } = ctx.settings;
  if (!PUBLIC_URL || !ADMIN_API_TOKEN) return 0; // refused before anything was posted (reportCommand)
  const key = reportLinkKey(ADMIN_API_TOKEN);
  const resolver = new ApproverResolver(
    new SlackPeople(client, systemClock),
    systemClock,
    onCallClients(ctx.settings, systemClock),
  );
  const approvers = new Map<string, ApproverRef>();
  for (const db of ctx.loadCatalog().databases.values()) {
    const { approvers: found, unavailable } = await resolver.resolve(db);
    if (unavailable.length) ctx.logger.warn({ database: db.name, unavailable }, 'report: approver sources unavailable');
    for (const a of found) if (a.platform === 'slack') approvers.set(a.id, a);
  }
  let sent = 0;
  for (const a of approvers.values()) {
    const url = reportLinkUrl(PUBLIC_URL, key, a.email ?? `slack:${a.id}`, now, {
      from: new Date(since).toISOString().slice(0, 10),
      to: new Date(until - 1).toISOString().slice(0, 10),
    });
    try {
      await client.chat.postMessage({
        channel: a.id,
        text: `*${title}*\n<${escapeMrkdwn(url)}|Open the report page> — a link for you alone, valid for 7 days.`,
      });
      sent++;
    } catch (err) {
      ctx.logger.warn({ user: a.id, err: err instanceof Error ? err.message : String(err) }, 'report: DM failed');
    }
  }
  return sent;
}

export async function reportCommand(
  ctx: CliContext,
  o: { since?: string; until?: string; format: 'table' | 'csv'; post?: string; dmApprovers?: boolean },
): Promise<void> {
  const now = Date.now();
  const since = parseWhen(o.since ?? '30d', 'since', now)!;
  const until = parseWhen(o.until, 'until', now) ?? now;
  if (o.dmApprovers && (!o.post || !ctx.settings.PUBLIC_URL || !ctx.settings.ADMIN_API_TOKEN))
    throw new BrokerError(
      'INVALID_INPUT',
      '--dm-approvers goes with --post and needs PUBLIC_URL and ADMIN_API_TOKEN (the links are signed with it)',
      { field: 'dm-approvers' },
    );
  const store = await openStore(ctx);
  try {
    const rows = await accessReport(store, since, until);
    const title = `Database access ${new Date(since).toISOString().slice(0, 10)} → ${new Date(until).toISOString().slice(0, 10)}: ${rows.length} grant(s)`;
    if (o.post) {
      if (!ctx.settings.SLACK_BOT_TOKEN)
        throw new BrokerError('INVALID_INPUT', 'posting the report needs SLACK_BOT_TOKEN', { field: 'post' });
      const client = createWebClient(
        {
          botToken: ctx.settings.SLACK_BOT_TOKEN,
          ...(ctx.settings.SLACK_API_URL && { apiUrl: ctx.settings.SLACK_API_URL }),
        },
        ctx.logger,
      );
      // Slack shows ~4000 characters: the table in a code block, cut with a pointer to the CSV.
      let table = reportTable(rows);
      if (table.length > 3500)
        table = `${table.slice(0, 3500)}\n… (cut: run db-access report --format csv for all of it)`;
      const link = reportPostLink(ctx.settings, o.post, now, since, until);
      await client.chat.postMessage({
        channel: o.post,
        text: `*${title}*${link}\n\`\`\`${table.replace(/`/g, "'")}\`\`\``,
      });
      ctx.out(`Posted the report (${rows.length} grant(s)) to ${o.post}.`);
      if (o.dmApprovers) {
        const sent = await dmReportLinks(ctx, client, title, now, since, until);
        ctx.out(`Sent a personal link to the report page to ${sent} approver(s).`);
      }
      return;
    }
    ctx.out(o.format === 'csv' ? reportCsv(rows) : `${title}\n\n${reportTable(rows)}`);
  } finally {
    await store.close();
  }
}
