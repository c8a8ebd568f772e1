/**
 * Opsgenie's Who-is-on-call API as an OpsgenieDirectory (see ./sources.ts for the contract).
 *
 * - `GET /v2/schedules/{identifier}/on-calls?scheduleIdentifierType=name|id&flat=true`. A UUID-looking identifier is
 *   sent as `id`, anything else as `name` (Opsgenie's own default is `id`; ours is `name`, which is what people write
 *   in a catalog). Who was on call at a moment `at`: `date=2026-12-07T12:01:00+00:00` too (the documented format
 *   yyyy-MM-dd'T'HH:mm:ssZ, whole seconds, UTC written as an offset as in Opsgenie's example; the `+` is sent as
 *   %2B); without `date` Opsgenie answers for the moment it receives the request.
 *   Flat answer: `{ data: { _parent, onCallRecipients: ["user@example.com", …] }, took, requestId }`;
 *   Opsgenie usernames are email addresses. A non-flat answer's `onCallParticipants[].name` of type `user` is read
 *   too, in case a proxy or an older API drops `flat`. Recipients that are not email addresses are skipped.
 * - Auth `Authorization: GenieKey <key>`. EU accounts use https://api.eu.opsgenie.com (OPSGENIE_API_URL).
 * - 429: waits `Retry-After` (or `X-RateLimit-Period-In-Sec`) and retries; a wait longer than `maxWaitMs` fails the
 *   call at once. 5xx, timeouts and network errors: exponential backoff. At most `maxRetries` retries; other 4xx fail
 *   at once. Answers are cached per schedule and moment asked about ("now" is its own key) for `ttlMs`; concurrent
 *   identical queries share one request.
 * - Alerts (incident scope, `whenResponding`): `GET /v2/alerts/{id}?identifierType=id` →
 *   `{ data: { id, tinyId, message, status: open|closed, acknowledged, owner, responders: [{ type, id }],
 *   report: { acknowledgedBy } } }`; a responder of type `user` is read with `GET /v2/users/{id}` (`{ data:
 *   { username } }`). A person's open alerts: `GET /v2/alerts?query=status:open AND owner:"<email>"` with
 *   `limit`/`offset` until a page is short. Opsgenie's API gives no link for people to an alert, so `url` is empty.
 * - Failures throw OnCallError('Opsgenie schedule db-primary', 'GET /v2/schedules/db-primary/on-calls: HTTP 401 …').
 *   The key never appears in a message.
 */
import { getJson, RequestFailure } from './http.js';
import {
  forgetExpired,
  OnCallError,
  onCallSecond,
  type OnCallPerson,
  type OpsgenieDirectory,
  type PagerDutyIncident,
} from './sources.js';

export const OPSGENIE_API_URL = 'https://api.opsgenie.com';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const EMAIL = /^[^\s@]+@[^\s@]+$/;

export interface OpsgenieClientOptions {
  /** API key (an API integration's key, or one from API Key Management with read access). */
  apiKey: string;
  /** Default https://api.opsgenie.com (EU: https://api.eu.opsgenie.com). */
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
  fetch?: typeof fetch;
}

interface OgParticipant {
  name?: string;
  type?: string;
  onCallParticipants?: OgParticipant[];
}

interface OgAlert {
  id?: string;
  /** The short number people call the alert by (a string of digits; Opsgenie reuses them over time). */
  tinyId?: string;
  message?: string;
  status?: string;
  acknowledged?: boolean;
  owner?: string;
  responders?: Array<{ type?: string; id?: string } | null>;
  report?: { acknowledgedBy?: string } | null;
}

/** Opsgenie's page size for alert listings (its maximum is 100). */
const ALERT_PAGE = 100;
const MAX_ALERT_PAGES = 20;

interface OgOnCallsAnswer {
  data?: { onCallRecipients?: unknown; onCallParticipants?: OgParticipant[] };
}

/** `at` as Opsgenie's `date` takes it: yyyy-MM-dd'T'HH:mm:ss with a UTC offset, whole seconds. */
export function opsgenieDate(at: number): string {
  return new Date(onCallSecond(at)).toISOString().replace(/\.\d{3}Z$/, '+00:00');
}

/** Whether Opsgenie should read `identifier` as a schedule id (a UUID) rather than a name. */
export function opsgenieIdentifierType(identifier: string): 'id' | 'name' {
  return UUID.test(identifier) ? 'id' : 'name';
}

export class OpsgenieClient implements OpsgenieDirectory {
  private readonly apiKey: string;
  private readonly apiUrl: string;
  private readonly clock: { now(): number };
  private readonly ttlMs: number;
  private readonly maxRetries: number;
  private readonly maxWaitMs: number;
  private readonly backoffMs: number;
  private readonly timeoutMs: number;
  private readonly fetchImpl: typeof fetch;
  private readonly cache = new Map<string, { at: number; value: OnCallPerson[] }>();
  private readonly inflight = new Map<string, Promise<OnCallPerson[]>>();
  private readonly users = new Map<string, { at: number; value: string }>();

  constructor(opts: OpsgenieClientOptions) {
    if (!opts.apiKey) throw new Error('OpsgenieClient: an apiKey is required');
    this.apiKey = opts.apiKey;
    this.apiUrl = (opts.apiUrl ?? OPSGENIE_API_URL).replace(/\/+$/, '');
    this.clock = opts.clock ?? Date;
    this.ttlMs = opts.ttlMs ?? 30_000;
    this.maxRetries = Math.max(0, opts.maxRetries ?? 3);
    this.maxWaitMs = opts.maxWaitMs ?? 10_000;
    this.backoffMs = opts.backoffMs ?? 250;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.fetchImpl = opts.fetch ?? fetch;
  }

  async scheduleOnCall(scheduleIdOrName: string, at?: number): Promise<OnCallPerson[]> {
    const identifier = scheduleIdOrName.trim();
    const type = opsgenieIdentifierType(identifier);
    const date = at === undefined ? undefined : opsgenieDate(at);
    const key = `${type}:${identifier}@${date ?? 'now'}`;
    const hit = this.cache.get(key);
    if (hit && this.clock.now() - hit.at < this.ttlMs) return hit.value;
    const running = this.inflight.get(key);
    if (running) return running;
    const p = this.load(identifier, type, date)
      .then((people) => {
        forgetExpired(this.cache, this.clock.now(), this.ttlMs);
        this.cache.set(key, { at: this.clock.now(), value: people });
        return people;
      })
      .catch((err: unknown) => {
        const message = err instanceof Error ? err.message : String(err);
        throw new OnCallError(`Opsgenie schedule ${identifier}`, message.split(this.apiKey).join('[redacted]'), {
          cause: err,
        });
      })
      .finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  async alert(alertId: string): Promise<PagerDutyIncident> {
    try {
      const path = `/v2/alerts/${encodeURIComponent(alertId)}`;
      const body = await this.get<{ data?: OgAlert }>(path, { identifierType: 'id' });
      if (!body.data) throw new RequestFailure(`GET ${path}: the answer has no "data"`);
      return await this.toIncident(body.data, alertId);
    } catch (err) {
      throw this.wrap(`Opsgenie alert ${alertId}`, err);
    }
  }

  async openAlertsOf(email: string): Promise<PagerDutyIncident[]> {
    try {
      const query = `status:open AND owner:"${email.trim().toLowerCase().replace(/["\\]/g, '')}"`;
      const all: OgAlert[] = [];
      for (let page = 0; page < MAX_ALERT_PAGES; page++) {
        const body = await this.get<{ data?: OgAlert[] }>('/v2/alerts', {
          query,
          limit: String(ALERT_PAGE),
          offset: String(page * ALERT_PAGE),
          sort: 'createdAt',
          order: 'desc',
        });
        if (!Array.isArray(body.data)) throw new RequestFailure('GET /v2/alerts: the answer has no "data" array');
        all.push(...body.data);
        if (body.data.length < ALERT_PAGE) break;
      }
      return all
        .filter((a) => a.id && a.status === 'open')
        .map((a) => ({
          id: `og:${a.id}`,
          status: a.acknowledged ? 'acknowledged' : 'triggered',
          title: a.message ?? '',
          url: '',
          ...numberOf(a),
        }));
    } catch (err) {
      throw this.wrap(`Opsgenie alerts of ${email}`, err);
    }
  }

  private async toIncident(a: OgAlert, alertId: string): Promise<PagerDutyIncident> {
    if (a.status !== 'open' && a.status !== 'closed')
      throw new RequestFailure(`GET /v2/alerts/${alertId}: unexpected status "${String(a.status)}"`);
    const userIds = (a.responders ?? []).filter((r) => r?.type === 'user' && r.id).map((r) => r!.id!);
    const names = [a.owner, a.report?.acknowledgedBy, ...(await Promise.all(userIds.map((id) => this.username(id))))];
    const responders = [
      ...new Set(names.map((n) => n?.trim().toLowerCase()).filter((n): n is string => !!n && EMAIL.test(n))),
    ];
    return {
      id: `og:${a.id ?? alertId}`,
      status: a.status === 'closed' ? 'resolved' : a.acknowledged ? 'acknowledged' : 'triggered',
      title: a.message ?? '',
      url: '',
      ...numberOf(a),
      responders: a.status === 'closed' ? [] : responders,
    };
  }

  /** A user's username (their email), cached like on-call answers. */
  private async username(userId: string): Promise<string | undefined> {
    const key = `user:${userId}`;
    const hit = this.users.get(key);
    if (hit && this.clock.now() - hit.at < this.ttlMs) return hit.value;
    const path = `/v2/users/${encodeURIComponent(userId)}`;
    const body = await this.get<{ data?: { username?: string } }>(path, { identifierType: 'id' });
    const name = body.data?.username;
    if (!name) throw new RequestFailure(`GET ${path}: the answer has no username`);
    forgetExpired(this.users, this.clock.now(), this.ttlMs);
    this.users.set(key, { at: this.clock.now(), value: name });
    return name;
  }

  private wrap(source: string, err: unknown): OnCallError {
    if (err instanceof OnCallError) return err;
    const message = err instanceof Error ? err.message : String(err);
    const notFound = err instanceof RequestFailure && err.status === 404;
    return new OnCallError(source, message.split(this.apiKey).join('[redacted]'), { cause: err, notFound });
  }

  private async load(identifier: string, type: 'id' | 'name', date: string | undefined): Promise<OnCallPerson[]> {
    const path = `/v2/schedules/${encodeURIComponent(identifier)}/on-calls`;
    const body = await this.get<OgOnCallsAnswer>(path, {
      scheduleIdentifierType: type,
      flat: 'true',
      ...(date !== undefined && { date }),
    });
    if (!body.data || typeof body.data !== 'object') throw new RequestFailure(`GET ${path}: the answer has no "data"`);
    const names: string[] = [];
    if (Array.isArray(body.data.onCallRecipients)) {
      for (const r of body.data.onCallRecipients) if (typeof r === 'string') names.push(r);
    } else if (Array.isArray(body.data.onCallParticipants)) {
      collectUsers(body.data.onCallParticipants, names);
    } else {
      throw new RequestFailure(`GET ${path}: the answer has neither "onCallRecipients" nor "onCallParticipants"`);
    }
    const byEmail = new Map<string, OnCallPerson>();
    for (const raw of names) {
      const email = raw.trim();
      if (EMAIL.test(email) && !byEmail.has(email.toLowerCase())) byEmail.set(email.toLowerCase(), { email });
    }
    return [...byEmail.values()];
  }

  /** GET with retries on 429/5xx/timeouts/network errors; throws RequestFailure. */
  private get<T>(path: string, query: Record<string, string>): Promise<T> {
    return getJson<T>(`${this.apiUrl}${path}?${new URLSearchParams(query).toString()}`, `GET ${path}`, {
      fetchImpl: this.fetchImpl,
      headers: { Authorization: `GenieKey ${this.apiKey}`, Accept: 'application/json' },
      timeoutMs: this.timeoutMs,
      maxRetries: this.maxRetries,
      maxWaitMs: this.maxWaitMs,
      backoffMs: this.backoffMs,
      retryAfterHeaders: ['retry-after', 'x-ratelimit-period-in-sec'],
      vendor: 'Opsgenie',
      hints: HINTS,
      errorDetail,
    });
  }
}

const HINTS: Record<number, string> = {
  401: ' (the API key was rejected or its integration is disabled: check OPSGENIE_API_KEY)',
  403: ' (the API key may not read this schedule)',
  404: ' (not found)',
};

/** An alert's `tinyId` as its number, when it is one. */
function numberOf(a: OgAlert): { number?: number } {
  return typeof a.tinyId === 'string' && /^\d{1,9}$/.test(a.tinyId) ? { number: Number(a.tinyId) } : {};
}

function collectUsers(participants: OgParticipant[], out: string[]): void {
  for (const p of participants) {
    if (p.type === 'user' && typeof p.name === 'string') out.push(p.name);
    if (Array.isArray(p.onCallParticipants)) collectUsers(p.onCallParticipants, out);
  }
}

/** `{ message, took, requestId }` → " — message (request id …)". */
function errorDetail(body: string): string {
  if (!body) return '';
  try {
    const parsed = JSON.parse(body) as { message?: unknown; requestId?: unknown };
    if (typeof parsed.message === 'string') {
      const msg = parsed.message.length > 200 ? `${parsed.message.slice(0, 200)}…` : parsed.message;
      return ` — ${msg}${typeof parsed.requestId === 'string' ? ` (request id ${parsed.requestId})` : ''}`;
    }
  } catch {
    // not JSON: not worth quoting
  }
  return '';
}
