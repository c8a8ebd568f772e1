/**
 * PagerDuty REST API v2 as a PagerDutyDirectory (see ./sources.ts for the contract).
 *
 * - On call: `GET /oncalls?schedule_ids[]=…` (or `escalation_policy_ids[]=…`) with `earliest=true`, `include[]=users`,
 *   `time_zone=UTC`, following classic pagination (`limit`/`offset` in, `{ oncalls, limit, offset, more, total }` out)
 *   until `more` is false. Without `since`/`until` PagerDuty answers for "now" (both default to the current time).
 *   At a given moment `at`: `since` and `until` both that moment, to the second (`2026-12-07T12:01:00Z`), the same
 *   one-instant range as the default one; PagerDuty returns the on-calls whose period overlaps it, i.e. whoever was
 *   on call then (at a hand-off second, possibly both sides of it).
 * - Emails come embedded in `oncalls[].user` thanks to `include[]=users`; a user without one is read with
 *   `GET /users/{id}` (`{ user: { email, name } }`). People are deduplicated by email (a schedule used by several
 *   escalation policies, or at several levels, appears once per policy/level).
 * - An escalation-policy level is the policy's on-calls filtered on `escalation_level` (client side: one fetch per
 *   policy serves every level).
 * - `GET /incidents/{id}?include[]=assignees&include[]=acknowledgers` → `{ incident: { id, incident_number, status,
 *   title, html_url, assignments: [{ assignee }], acknowledgements: [{ acknowledger }], conference_bridge:
 *   { conference_url } } }`; its responders are the assignees' and acknowledgers' emails (a user reference without one is read with
 *   `GET /users/{id}`, as for on-calls). PagerDuty has no field for a linked Slack channel; a `conference_url` that
 *   is a Slack channel link (`https://<workspace>.slack.com/archives/C…`, `https://app.slack.com/client/T…/C…`,
 *   `slack://channel?…&id=C…`) names it.
 * - A person's open incidents: `GET /users?query=<email>` (the user whose email is exactly that), then
 *   `GET /incidents?user_ids[]=…&statuses[]=triggered&statuses[]=acknowledged` with the same includes, paginated.
 * - Auth `Authorization: Token token=<key>`, `Accept: application/vnd.pagerduty+json;version=2`.
 * - 429: waits `Retry-After` (or `ratelimit-reset`) seconds and retries; when the server asks for longer than
 *   `maxWaitMs` the call fails at once instead of retrying too early. 5xx, timeouts and network errors: retried with
 *   exponential backoff. At most `maxRetries` retries in all; other 4xx fail at once.
 * - Answers are cached per query (and per moment asked about; "now" is its own key) for `ttlMs` (by the injected
 *   clock), and concurrent identical queries share one request. Incidents are the exception: an open incident is
 *   always read fresh (grants end when it resolves), a resolved one is cached (PagerDuty does not reopen resolved
 *   incidents).
 * - Failures throw OnCallError('PagerDuty schedule PABC123', 'GET /oncalls: HTTP 503 … (gave up after 4 attempts)').
 *   The token never appears in a message.
 */
import { getJson, RequestFailure } from './http.js';
import {
  forgetExpired,
  OnCallError,
  onCallSecond,
  type OnCallPerson,
  type PagerDutyDirectory,
  type PagerDutyIncident,
} from './sources.js';

export const PAGERDUTY_API_URL = 'https://api.pagerduty.com';
/** PagerDuty's largest `limit` for classic pagination. */
export const PAGERDUTY_MAX_LIMIT = 100;
/** Give up on a listing longer than this many pages (PagerDuty's classic pagination stops at offset 10 000 anyway). */
const MAX_PAGES = 100;

export interface PagerDutyClientOptions {
  /** REST API key (account or user token). */
  token: string;
  /** Default https://api.pagerduty.com (PAGERDUTY_API_URL points it elsewhere, e.g. at the local double). */
  apiUrl?: string;
  /** Clock for the cache TTL; waits between retries always use real time. */
  clock?: { now(): number };
  /** How long an answer is reused. Default 30 s. */
  ttlMs?: number;
  /** Retries after the first attempt (429, 5xx, timeouts, network errors). Default 3. */
  maxRetries?: number;
  /** Longest single wait: a longer Retry-After fails the call; backoff is capped to it. Default 10 s. */
  maxWaitMs?: number;
  /** First backoff after a 5xx/timeout/network error, doubled each retry. Default 250 ms. */
  backoffMs?: number;
  /** Per-request timeout. Default 10 s. */
  timeoutMs?: number;
  /** `limit` asked for per page. Default (and PagerDuty's maximum) 100. */
  pageSize?: number;
  fetch?: typeof fetch;
}

/** `oncalls[].user`: a user_reference, or with `include[]=users` a full user. */
interface PdUser {
  id: string;
  type?: string;
  summary?: string;
  name?: string;
  email?: string;
}

interface PdOnCall {
  user?: PdUser | null;
  escalation_level?: number;
}

interface PdOnCallsPage {
  oncalls?: PdOnCall[];
  limit?: number;
  offset?: number;
  more?: boolean;
  total?: number | null;
}

interface PdIncident {
  id?: string;
  incident_number?: number;
  status?: string;
  title?: string;
  summary?: string;
  html_url?: string;
  assignments?: Array<{ assignee?: PdUser | null } | null>;
  acknowledgements?: Array<{ acknowledger?: PdUser | null } | null>;
  conference_bridge?: { conference_url?: string | null; conference_number?: string | null } | null;
}

const INCIDENT_STATUSES = new Set<PagerDutyIncident['status']>(['triggered', 'acknowledged', 'resolved']);
const INCIDENT_INCLUDES: [string, string][] = [
  ['include[]', 'assignees'],
  ['include[]', 'acknowledgers'],
];

const SLACK_CHANNEL_LINKS = [
  /^https:\/\/[a-z0-9-]+\.slack\.com\/archives\/([CG][A-Z0-9]{2,20})(?:[/?#]|$)/,
  /^https:\/\/app\.slack\.com\/client\/T[A-Z0-9]+\/([CG][A-Z0-9]{2,20})(?:[/?#]|$)/,
  /^slack:\/\/channel\?(?:.*&)?id=([CG][A-Z0-9]{2,20})(?:&|$)/,
];

/** The channel id of a Slack channel link; undefined for anything else (a Zoom link, a phone bridge …). */
export function slackChannelOf(url: string | null | undefined): string | undefined {
  const u = url?.trim();
  if (!u) return undefined;
  for (const re of SLACK_CHANNEL_LINKS) {
    const m = re.exec(u);
    if (m) return m[1];
  }
  return undefined;
}

export class PagerDutyClient implements PagerDutyDirectory {
  private readonly token: string;
  private readonly apiUrl: string;
  private readonly clock: { now(): number };
  private readonly ttlMs: number;
  private readonly maxRetries: number;
  private readonly maxWaitMs: number;
  private readonly backoffMs: number;
  private readonly timeoutMs: number;
  private readonly pageSize: number;
  private readonly fetchImpl: typeof fetch;
  private readonly cache = new Map<string, { at: number; value: unknown }>();
  private readonly inflight = new Map<string, Promise<unknown>>();

  constructor(opts: PagerDutyClientOptions) {
    if (!opts.token) throw new Error('PagerDutyClient: a token is required');
    this.token = opts.token;
    this.apiUrl = (opts.apiUrl ?? PAGERDUTY_API_URL).replace(/\/+$/, '');
    this.clock = opts.clock ?? Date;
    this.ttlMs = opts.ttlMs ?? 30_000;
    this.maxRetries = Math.max(0, opts.maxRetries ?? 3);
    this.maxWaitMs = opts.maxWaitMs ?? 10_000;
    this.backoffMs = opts.backoffMs ?? 250;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.pageSize = Math.min(Math.max(1, opts.pageSize ?? PAGERDUTY_MAX_LIMIT), PAGERDUTY_MAX_LIMIT);
    this.fetchImpl = opts.fetch ?? fetch;
  }

  async scheduleOnCall(scheduleId: string, at?: number): Promise<OnCallPerson[]> {
    const source = `PagerDuty schedule ${scheduleId}`;
    const when = moment(at);
    try {
      return await this.cached(`schedule:${scheduleId}@${when ?? 'now'}`, async () =>
        this.people(await this.listOnCalls(['schedule_ids[]', scheduleId], when)),
      );
    } catch (err) {
      throw this.wrap(source, err);
    }
  }

  async escalationPolicyOnCall(policyId: string, level: number, at?: number): Promise<OnCallPerson[]> {
    const source = `PagerDuty escalation policy ${policyId} level ${level}`;
    const when = moment(at);
    try {
      const oncalls = await this.cached(`policy:${policyId}@${when ?? 'now'}`, () =>
        this.listOnCalls(['escalation_policy_ids[]', policyId], when),
      );
      return await this.people(oncalls.filter((o) => o.escalation_level === level));
    } catch (err) {
      throw this.wrap(source, err);
    }
  }

  async openIncidentsOf(email: string): Promise<PagerDutyIncident[]> {
    const source = `PagerDuty incidents of ${email}`;
    try {
      // The user id is cached like any answer; the incidents are read fresh (they change by the minute).
      const userId = await this.cached(`user-of:${email.trim().toLowerCase()}`, () => this.userIdOf(email));
      if (!userId) return [];
      const raw = await this.listPages<PdIncident>('/incidents', 'incidents', [
        ['user_ids[]', userId],
        ['statuses[]', 'triggered'],
        ['statuses[]', 'acknowledged'],
        ...INCIDENT_INCLUDES,
      ]);
      return await Promise.all(raw.map((i) => this.toIncident(i, i.id ?? '')));
    } catch (err) {
      throw this.wrap(source, err);
    }
  }

  async incident(incidentId: string): Promise<PagerDutyIncident> {
    const source = `PagerDuty incident ${incidentId}`;
    try {
      const key = `incident:${incidentId}`;
      const hit = this.fresh<PagerDutyIncident>(key);
      if (hit) return hit;
      const incident = await this.shared(key, () => this.readIncident(incidentId));
      // Only a resolved incident is cached: an open one must be re-read so a resolution is seen promptly.
      if (incident.status === 'resolved') this.cache.set(key, { at: this.clock.now(), value: incident });
      return incident;
    } catch (err) {
      throw this.wrap(source, err);
    }
  }

  // ---------------------------------------------------------------------------------------------------------------

  private async readIncident(incidentId: string): Promise<PagerDutyIncident> {
    const body = await this.get<{ incident?: PdIncident }>(
      `/incidents/${encodeURIComponent(incidentId)}`,
      INCIDENT_INCLUDES,
    );
    if (!body.incident) throw new RequestFailure(`GET /incidents/${incidentId}: the answer has no incident`);
    return this.toIncident(body.incident, incidentId);
  }

  private async toIncident(i: PdIncident, incidentId: string): Promise<PagerDutyIncident> {
    if (typeof i.status !== 'string' || !INCIDENT_STATUSES.has(i.status as PagerDutyIncident['status'])) {
      throw new RequestFailure(`GET /incidents/${incidentId}: unexpected status "${String(i.status)}"`);
    }
    const people = [
      ...(i.assignments ?? []).map((a) => a?.assignee),
      ...(i.acknowledgements ?? []).map((a) => a?.acknowledger),
    ].filter((u): u is PdUser => !!u?.id && (u.type === undefined || u.type === 'user' || u.type === 'user_reference'));
    const responders = (await this.people(people.map((user) => ({ user })))).map((p) => p.email.toLowerCase());
    const slackChannel = slackChannelOf(i.conference_bridge?.conference_url);
    return {
      id: i.id ?? incidentId,
      status: i.status as PagerDutyIncident['status'],
      title: i.title ?? i.summary ?? '',
      url: i.html_url ?? '',
      ...(Number.isSafeInteger(i.incident_number) && { number: i.incident_number }),
      responders,
      ...(slackChannel && { slackChannel }),
    };
  }

  /** The PagerDuty user whose email is `email` (case-insensitive), if any. */
  private async userIdOf(email: string): Promise<string | undefined> {
    const want = email.trim().toLowerCase();
    const users = await this.listPages<PdUser>('/users', 'users', [['query', want]]);
    return users.find((u) => u.email?.trim().toLowerCase() === want)?.id;
  }

  /** Every item of a classic-paginated listing (`limit`/`offset` in, `{ <key>: […], more }` out). */
  private async listPages<T>(path: string, key: string, query: [string, string][]): Promise<T[]> {
    const all: T[] = [];
    let offset = 0;
    for (let page = 0; page < MAX_PAGES; page++) {
      const body = await this.get<Record<string, unknown> & { more?: boolean; offset?: number }>(path, [
        ...query,
        ['limit', String(this.pageSize)],
        ['offset', String(offset)],
      ]);
      const items = body[key];
      if (!Array.isArray(items)) throw new RequestFailure(`GET ${path}: the answer has no "${key}" array`);
      all.push(...(items as T[]));
      if (!body.more || items.length === 0) return all;
      offset = (body.offset ?? offset) + items.length;
    }
    throw new RequestFailure(`GET ${path}: still "more" after ${MAX_PAGES} pages; refusing to read further`);
  }

  /** Every on-call entry for one filter, now or at `when` (an ISO time), following `more`/`offset`. */
  private async listOnCalls(filter: [string, string], when?: string): Promise<PdOnCall[]> {
    const all: PdOnCall[] = [];
    let offset = 0;
    const range: [string, string][] =
      when === undefined
        ? []
        : [
            ['since', when],
            ['until', when],
          ];
    for (let page = 0; page < MAX_PAGES; page++) {
      const body = await this.get<PdOnCallsPage>('/oncalls', [
        filter,
        ...range,
        ['earliest', 'true'],
        ['include[]', 'users'],
        ['time_zone', 'UTC'],
        ['limit', String(this.pageSize)],
        ['offset', String(offset)],
      ]);
      if (!Array.isArray(body.oncalls)) throw new RequestFailure('GET /oncalls: the answer has no "oncalls" array');
      all.push(...body.oncalls);
      if (!body.more || body.oncalls.length === 0) return all;
      offset = (body.offset ?? offset) + body.oncalls.length;
    }
    throw new RequestFailure(`GET /oncalls: still "more" after ${MAX_PAGES} pages; refusing to read further`);
  }

  /** People from on-call entries: emails resolved, deduplicated by email, in first-seen order. */
  private async people(oncalls: PdOnCall[]): Promise<OnCallPerson[]> {
    const users = new Map<string, PdUser>();
    for (const o of oncalls) if (o.user?.id && !users.has(o.user.id)) users.set(o.user.id, o.user);
    const resolved = await Promise.all([...users.values()].map((u) => (u.email ? u : this.user(u.id))));
    const byEmail = new Map<string, OnCallPerson>();
    for (const u of resolved) {
      const email = u.email?.trim();
      if (!email || byEmail.has(email.toLowerCase())) continue;
      const name = u.name ?? u.summary;
      byEmail.set(email.toLowerCase(), { email, ...(name && { name }) });
    }
    return [...byEmail.values()];
  }

  private user(id: string): Promise<PdUser> {
    return this.cached(`user:${id}`, async () => {
      const body = await this.get<{ user?: PdUser }>(`/users/${encodeURIComponent(id)}`, []);
      if (!body.user?.email) throw new RequestFailure(`GET /users/${id}: the answer has no email`);
      return body.user;
    });
  }

  // ---------------------------------------------------------------------------------------------------------------

  private fresh<T>(key: string): T | undefined {
    const hit = this.cache.get(key);
    return hit && this.clock.now() - hit.at < this.ttlMs ? (hit.value as T) : undefined;
  }

  /** Concurrent callers of the same key share one request. */
  private shared<T>(key: string, load: () => Promise<T>): Promise<T> {
    const running = this.inflight.get(key) as Promise<T> | undefined;
    if (running) return running;
    const p = load().finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  private async cached<T>(key: string, load: () => Promise<T>): Promise<T> {
    const hit = this.fresh<T>(key);
    if (hit !== undefined) return hit;
    return this.shared(key, async () => {
      const value = await load();
      forgetExpired(this.cache, this.clock.now(), this.ttlMs);
      this.cache.set(key, { at: this.clock.now(), value });
      return value;
    });
  }

  private wrap(source: string, err: unknown): OnCallError {
    if (err instanceof OnCallError) return err;
    const message = err instanceof Error ? err.message : String(err);
    const notFound = err instanceof RequestFailure && err.status === 404;
    return new OnCallError(source, this.redact(message), { cause: err, notFound });
  }

  private redact(text: string): string {
    return this.token ? text.split(this.token).join('[redacted]') : text;
  }

  /** GET with retries on 429/5xx/timeouts/network errors; throws RequestFailure. */
  private get<T>(path: string, query: [string, string][]): Promise<T> {
    return getJson<T>(
      `${this.apiUrl}${path}${query.length ? `?${new URLSearchParams(query).toString()}` : ''}`,
      `GET ${path}`,
      {
        fetchImpl: this.fetchImpl,
        headers: { Authorization: `Token token=${this.token}`, Accept: 'application/vnd.pagerduty+json;version=2' },
        timeoutMs: this.timeoutMs,
        maxRetries: this.maxRetries,
        maxWaitMs: this.maxWaitMs,
        backoffMs: this.backoffMs,
        retryAfterHeaders: ['retry-after', 'ratelimit-reset'],
        vendor: 'PagerDuty',
        hints: HINTS,
        errorDetail,
      },
    );
  }
}

/** `at` as PagerDuty's `since`/`until` take it: UTC, whole seconds. Undefined (now) stays undefined. */
function moment(at: number | undefined): string | undefined {
  return at === undefined ? undefined : new Date(onCallSecond(at)).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const HINTS: Record<number, string> = {
  401: ' (the API token was rejected: check PAGERDUTY_TOKEN)',
  403: ' (the API token may not read this)',
  404: ' (not found)',
};

/** `{ error: { message, code, errors } }` → " — message: errors". */
function errorDetail(body: string): string {
  if (!body) return '';
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown; errors?: unknown } | string };
    const e = parsed.error;
    if (typeof e === 'string') return ` — ${truncate(e)}`;
    if (e && typeof e.message === 'string') {
      const extra = Array.isArray(e.errors) && e.errors.length > 0 ? `: ${e.errors.map(String).join('; ')}` : '';
      return ` — ${truncate(e.message + extra)}`;
    }
  } catch {
    // not JSON (a proxy's HTML page, say): not worth quoting
  }
  return '';
}

function truncate(s: string, max = 200): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
