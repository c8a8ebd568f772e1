/**
 * `GET /report` (HTML) and `GET /report.csv` (or `/report?format=csv`): the access report for people, with its
 * static files under `/report/assets/`. Readable with the admin token (Authorization: Bearer) or a signed link
 * (report-link.ts); off without ADMIN_API_TOKEN, from which the link key is derived. Every view is audited
 * (`report.viewed`); a refused link gets a 403 page saying why, and an expired one — signed by us, so its holder is
 * known — is audited too (`access.refused`, once per link and process). A link with a bad signature is only logged: anyone can make one, and
 * the audit log is not theirs to fill.
 */
import type express from 'express';
import type { Request, Response } from 'express';
import type { Actor, GrantId } from '../core/model.js';
import type { Logger, StateStore } from '../core/ports.js';
import { reportLinkKey, verifyReportLink, type ReportLink, type ReportLinkKey } from '../audit/report-link.js';
import {
  pageActivity,
  reportPageCsv,
  reportPageData,
  reportPageRows,
  type GrantActivityMap,
  type ReportFilter,
} from '../audit/report-page.js';
import { messagePage, REPORT_CSP, reportPage, type ReportAccess } from './report-html.js';
import { REPORT_ASSETS } from './report-assets.js';

export interface ReportRouteDeps {
  store: StateStore;
  logger: Logger;
  /** ADMIN_API_TOKEN: the bearer that opens the page, and the root of the link key. The page is off without it. */
  adminToken?: string;
  /** Whether the request carries the admin bearer token (the server's constant-time check). */
  isAdmin: (req: Request) => boolean;
  /** Sessions and statements per grant, for the page's Activity column and CSV. Default: what the store recorded
   *  (StateStore.grantActivity, see pageActivity). */
  reportActivity?: (grantIds: GrantId[]) => Promise<GrantActivityMap>;
  now?: () => number;
}

const DAY = 86_400_000;
/** The range shown when the query names none. */
const DEFAULT_RANGE_MS = 30 * DAY;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const ASSET_CACHE = 'public, max-age=31536000, immutable';

class BadFilter extends Error {}

function one(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
}

/** A `YYYY-MM-DD` from the date inputs, as the start of that day (UTC). */
function dateParam(v: unknown, field: string): number | undefined {
  const s = one(v);
  if (s === undefined) return undefined;
  const ms = DATE.test(s) ? Date.parse(`${s}T00:00:00Z`) : NaN;
  if (Number.isNaN(ms)) throw new BadFilter(`"${field}" must be a date such as 2026-11-01`);
  return ms;
}

function parseFilter(q: Record<string, unknown>, now: number): ReportFilter {
  const from = dateParam(q.from, 'from');
  const to = dateParam(q.to, 'to');
  // `to` names a whole day: the range ends at the end of it.
  const until = to !== undefined ? to + DAY : now;
  const since = from ?? until - DEFAULT_RANGE_MS;
  if (since >= until) throw new BadFilter('"from" must not be after "to"');
  const person = one(q.person);
  const database = one(q.database);
  if (person && person.length > 320) throw new BadFilter('"person" is longer than an email address can be');
  if (database && !/^[a-z0-9-]{1,63}$/.test(database)) throw new BadFilter('"database" is not a database name');
  return { since, until, ...(person && { person }), ...(database && { database }) };
}

function pageHeaders(res: Response): void {
  res.set({
    'Content-Security-Policy': REPORT_CSP,
    'Referrer-Policy': 'no-referrer',
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Cache-Control': 'no-store',
  });
}

function refuse(res: Response, status: number, title: string, sentences: string[]): void {
  pageHeaders(res);
  if (status === 401) res.set('WWW-Authenticate', 'Bearer');
  res.status(status).type('html').send(messagePage(title, sentences));
}

export function mountReport(app: express.Express, deps: ReportRouteDeps): void {
  const now = deps.now ?? Date.now;
  const key: ReportLinkKey | undefined = deps.adminToken ? reportLinkKey(deps.adminToken) : undefined;

  app.get('/report/assets/:name', (req, res) => {
    const name = req.params.name;
    const asset = Object.hasOwn(REPORT_ASSETS, name) ? REPORT_ASSETS[name]!() : undefined;
    if (!asset) {
      res.status(404).json({ error: 'not found' });
      return;
    }
    res.set({ 'Cache-Control': ASSET_CACHE, 'X-Content-Type-Options': 'nosniff' }).type(asset.type).send(asset.body);
  });

  /** Expired links already audited by this process: reloading one must not add a row each time (bounded). */
  const refusedLinks = new Set<string>();
  const firstRefusal = (link: ReportLink): boolean => {
    const id = `${link.issuedTo} ${link.expiresAt}`;
    if (refusedLinks.has(id)) return false;
    if (refusedLinks.size >= 1000) refusedLinks.clear();
    refusedLinks.add(id);
    return true;
  };
  const auditExpired = (req: Request, link: ReportLink) =>
    deps.store.appendAudit([
      {
        at: now(),
        type: 'access.refused',
        actor: linkActor(link.issuedTo),
        detail: {
          action: 'report.view',
          code: 'LINK_EXPIRED',
          reason: 'the report link has expired',
          issuedTo: link.issuedTo,
          linkExpiresAt: link.expiresAt,
          remote: req.ip ?? null,
        },
      },
    ]);

  /** Who may read, or undefined once the refusal is sent. */
  async function admit(req: Request, res: Response): Promise<ReportAccess | undefined> {
    if (!key) {
      refuse(res, 404, 'The access report is off', [
        'This installation has no ADMIN_API_TOKEN: the report page and its links are off.',
      ]);
      return undefined;
    }
    if (req.headers.authorization !== undefined) {
      if (deps.isAdmin(req)) return { via: 'admin-token' };
      refuse(res, 401, 'Not allowed', ['The bearer token is not the admin token (ADMIN_API_TOKEN).']);
      return undefined;
    }
    const q = req.query as Record<string, unknown>;
    const check = verifyReportLink(key, q, now());
    if (check.ok) {
      const params = { for: String(q.for), exp: String(q.exp), sig: String(q.sig) };
      return { via: 'link', issuedTo: check.link.issuedTo, expiresAt: check.link.expiresAt, params };
    }
    if (check.why === 'absent') {
      refuse(res, 401, 'A link is needed', [
        'Open this page from the link db-access sent you (the weekly access report carries one), or with the admin token.',
      ]);
    } else if (check.why === 'expired') {
      if (firstRefusal(check.link)) await auditExpired(req, check.link);
      refuse(res, 403, 'This link has expired', [
        `This link to the access report was issued to ${check.link.issuedTo} and expired on ${new Date(check.link.expiresAt).toISOString().replace('T', ' ').slice(0, 16)} UTC.`,
        'Use the link in the latest weekly access report, or ask an administrator for a new one.',
      ]);
    } else {
      deps.logger.warn({ path: req.path, remote: req.ip }, 'report: refused a link with an invalid signature');
      refuse(res, 403, 'This link is not valid', [
        'This link to the access report was not issued by db-access, or it has been altered (or the admin token it was signed with has been changed).',
        'Use the link exactly as you received it, or ask an administrator for a new one.',
      ]);
    }
    return undefined;
  }

  const serve = (csvPath: boolean) => async (req: Request, res: Response) => {
    const access = await admit(req, res);
    if (!access) return;
    const q = req.query as Record<string, unknown>;
    let filter: ReportFilter;
    try {
      filter = parseFilter(q, now());
    } catch (err) {
      if (!(err instanceof BadFilter)) throw err;
      refuse(res, 400, 'Those filters cannot be read', [err.message]);
      return;
    }
    const csv = csvPath || q.format === 'csv';
    const source = await reportPageRows(deps.store, filter, now());
    const ids = source.rows.map((r) => r.grantId);
    const activity = deps.reportActivity
      ? await deps.reportActivity(ids)
      : pageActivity(await deps.store.grantActivity(ids));
    const data = reportPageData(source, filter, activity);
    await deps.store.appendAudit([
      {
        at: now(),
        type: 'report.viewed',
        actor: access.via === 'link' ? linkActor(access.issuedTo) : ADMIN_ACTOR,
        ...(filter.database && { database: filter.database }),
        detail: {
          access: access.via,
          ...(access.via === 'link' && { issuedTo: access.issuedTo, linkExpiresAt: access.expiresAt }),
          format: csv ? 'csv' : 'html',
          since: filter.since,
          until: filter.until,
          person: filter.person ?? null,
          database: filter.database ?? null,
          rows: data.rows.length,
          remote: req.ip ?? null,
        },
      },
    ]);
    pageHeaders(res);
    if (csv) {
      const name = `db-access-report-${new Date(filter.since).toISOString().slice(0, 10)}-to-${new Date(filter.until - 1).toISOString().slice(0, 10)}.csv`;
      res
        .type('text/csv; charset=utf-8')
        .set('Content-Disposition', `attachment; filename="${name}"`)
        .send(`${reportPageCsv(data.rows)}\n`);
      return;
    }
    res.type('html').send(reportPage(data, access, now()));
  };
  app.get('/report', serve(false));
  app.get('/report.csv', serve(true));
}

/** The admin API's caller: the token names no person. */
const ADMIN_ACTOR: Actor = { platform: 'system', id: 'admin-api' };

/** Whoever holds a link, named as the one it was issued to (all the broker knows; not a verified person, so no
 *  email: nothing may take it for that person's own action). */
function linkActor(issuedTo: string): Actor {
  return { platform: 'system', id: 'report-link', name: issuedTo };
}
