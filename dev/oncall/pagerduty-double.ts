/**
 * A local double of the PagerDuty REST API v2 — the endpoints the on-call directory reads — for tests and the demo.
 * Dependency-free (node:http); listens on 127.0.0.1, ephemeral port by default.
 *
 * ```ts
 * const pd = await startPagerDutyDouble({ pageSize: 2 });
 * pd.setOnCall('PSCHED1', [{ email: 'alice@example.com', name: 'Alice' }], { escalationPolicyIds: ['PEP1', 'PEP2'] });
 * pd.setEscalationLevel('PEP1', 2, [{ email: 'bob@example.com', name: 'Bob' }]);
 * pd.addShift('PSCHED2', [{ email: 'carol@example.com' }], { start: t0, end: t0 + 8 * 3_600_000 });
 * pd.setIncident('Q1ABC', { status: 'triggered', title: 'orders-db replica lag', assignees: [{ email: 'alice@example.com' }] });
 * const client = new PagerDutyClient({ token: pd.token, apiUrl: pd.url });
 * pd.failNext('/oncalls', { status: 429, retryAfterSeconds: 1 });
 * await client.scheduleOnCall('PSCHED1');
 * pd.setIncident('Q1ABC', { status: 'resolved' });           // e.g. mid-grant
 * await pd.stop();
 * ```
 *
 * ## Endpoints (shapes from PagerDuty's API reference; [U] = not verified against the live API)
 * - `GET /oncalls` — filters `schedule_ids[]`, `escalation_policy_ids[]`, `user_ids[]` (ANDed across kinds);
 *   `earliest=true` keeps one entry per (escalation policy, level, user); `include[]=users` embeds full users
 *   (`{ id, type: 'user', name, email, summary, … }`), otherwise `user` is a `user_reference` without email.
 *   Classic pagination: `limit` (default 25, capped at the double's `pageSize`, itself ≤ 100) and `offset`; answers
 *   `{ oncalls, limit, offset, more, total }` with `total` null unless `total=true`. Entries carry `schedule`
 *   (null for a user targeted directly by the policy), `escalation_policy`, `escalation_level`, `start`, `end`
 *   (null/null for permanent on-calls).
 *   Time range: `since` and `until` (ISO 8601), each defaulting to now (the double's `clock`); `until` before `since`
 *   is a 400 (code 2001). An on-call is listed when its period overlaps the range, as PagerDuty documents: the
 *   double's periods are half-open [start, end), so a range of one instant (since = until) lists whoever was on call
 *   at that instant — at a hand-off, the one coming on [U: PagerDuty's own boundary handling]. With `earliest=true`
 *   the earliest entry per (policy, level, user) is kept. Seeded shifts (`addShift`) carry their own `start`/`end`;
 *   what `setOnCall`/`setEscalationLevel` seed is on call at every time, and a schedule entry of it is shown as a
 *   shift around the range asked about. `time_zone` is accepted; times are written in UTC.
 * - `GET /users/{id}` → `{ user }`; `GET /users?query=` → `{ users, limit, offset, more, total }`, the users whose
 *   name or email contains the query (case-insensitive) [U: PagerDuty documents "name matches the query"].
 * - `GET /incidents/{id}` → `{ incident: { id, type, incident_number, title, status, html_url, assignments,
 *   acknowledgements, conference_bridge, … } }`; `GET /incidents` filters on `statuses[]` and `user_ids[]` (incidents
 *   currently assigned to any of them), classic pagination. As PagerDuty documents, `assignments` is empty once
 *   resolved and `acknowledgements` is empty unless acknowledged; `include[]=assignees` / `include[]=acknowledgers`
 *   embed full users (with email), otherwise they are `user_reference`s.
 * - Errors: `{ error: { message, code, errors? } }`. Auth: `Authorization: Token token=<token>`, else 401
 *   (code 2006 [U]); unknown resource 404 (code 2100 [U]); bad `limit`/`offset` 400 (code 2001).
 *
 * ## Faults and recording
 * `failNext([pathPattern,] fault, { times })` answers the next matching requests (no pattern = any path) with the
 * fault instead: 429 sends `Retry-After` plus `ratelimit-limit`/`ratelimit-remaining`/`ratelimit-reset` (the headers
 * PagerDuty documents); any other status sends `{ error }` (or `fault.body`). A pattern is an exact path (`/oncalls`), a prefix ending in
 * `*` (`/users/*`) or `*`. `setLatency(pattern, ms)` delays answers. `requests` records every request in arrival
 * order with `at` (arrival) and `respondedAt` (Date.now() just before the answer is written), so tests can measure
 * the client's waits without sleeping themselves.
 */
import { FaultPlan, sendBody } from '../fault-plan.js';
import { createHash } from 'node:crypto';
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** PagerDuty's default and maximum `limit`. */
export const PD_DEFAULT_LIMIT = 25;
export const PD_MAX_LIMIT = 100;
export const PD_DEFAULT_TOKEN = 'pd-double-token';

export type PdIncidentStatus = 'triggered' | 'acknowledged' | 'resolved';

export interface PdPersonInput {
  /** User id; derived from the email when omitted (stable: `P` + 6 hex chars). */
  id?: string;
  email: string;
  name?: string;
}

export interface PdUser {
  id: string;
  email: string;
  name: string;
}

export interface PdIncident {
  id: string;
  number: number;
  status: PdIncidentStatus;
  title: string;
  htmlUrl: string;
  /** User ids it is assigned to. */
  assignees: string[];
  /** User ids who acknowledged it. */
  acknowledgers: string[];
  /** `conference_bridge.conference_url` (may be a Slack channel link). */
  conferenceUrl?: string;
}

export interface PdIncidentInput {
  status: PdIncidentStatus;
  /** Its `incident_number` (default: the next of the double's; kept from before when omitted). */
  number?: number;
  title?: string;
  htmlUrl?: string;
  /** Replaces the assignees (kept from before when omitted). */
  assignees?: PdPersonInput[];
  /** Replaces the acknowledgers (kept from before when omitted). */
  acknowledgers?: PdPersonInput[];
  conferenceUrl?: string;
}

export interface PdFault {
  status: number;
  /** 429 only: `Retry-After` and `ratelimit-reset` (default 1). */
  retryAfterSeconds?: number;
  /** Raw body instead of the default `{ error }` JSON. */
  body?: string;
}

export interface PdRequest {
  method: string;
  /** Decoded path, without the query string. */
  path: string;
  /** Every query parameter, repeated ones in order (`schedule_ids[]` → ['P1', 'P2']). */
  query: Record<string, string[]>;
  authorization?: string;
  accept?: string;
  /** Date.now() on arrival. */
  at: number;
  /** Date.now() just before the answer was written (0 while pending). */
  respondedAt: number;
  status: number;
  /** True when the answer came from `failNext`. */
  injected: boolean;
}

export interface PagerDutyDoubleOptions {
  port?: number;
  /** The accepted API token (default {@link PD_DEFAULT_TOKEN}). */
  token?: string;
  /** Largest page served (1–100, default 100); `limit` above it is lowered, as PagerDuty does at 100. */
  pageSize?: number;
  /** When false, `include[]=users` is ignored and users come as references without email (default true). */
  expandIncludes?: boolean;
  /** "Now" for a query without `since`/`until` (default real time): give it the clock the test drives. */
  clock?: { now(): number };
}

export interface PagerDutyDouble {
  /** Base URL, e.g. http://127.0.0.1:41234 (give it to the client as `apiUrl`). */
  readonly url: string;
  readonly token: string;
  /** Live array; cleared in place by `reset()`. */
  readonly requests: PdRequest[];
  /** Seed or update a user (by id, or by the id derived from the email). */
  addUser(person: PdPersonInput): PdUser;
  /**
   * Who is on call for a schedule, at every time (replaces what was seeded for it, shifts included). Each person gets
   * one entry per escalation policy in `escalationPolicyIds` (default [`PEP${scheduleId}`]) at `level` (default 1).
   */
  setOnCall(
    scheduleId: string,
    people: PdPersonInput[],
    opts?: { escalationPolicyIds?: string[]; level?: number },
  ): void;
  /**
   * Adds a shift: `people` are on call for the schedule from `start` (inclusive) to `end` (exclusive), ms since the
   * epoch; entries per policy and level as for setOnCall. Other shifts of the schedule stay.
   */
  addShift(
    scheduleId: string,
    people: PdPersonInput[],
    shift: { start: number; end: number; escalationPolicyIds?: string[]; level?: number },
  ): void;
  /** Who is on call now at one level of a policy (replaces that level); entries carry `scheduleId` when given, else none. */
  setEscalationLevel(policyId: string, level: number, people: PdPersonInput[], opts?: { scheduleId?: string }): void;
  setIncident(id: string, incident: PdIncidentInput): PdIncident;
  /** Answer the next request(s) to any path with `fault`. */
  failNext(fault: PdFault, opts?: { times?: number }): void;
  /** Answer the next request(s) whose path matches `pathPattern` (exact, `prefix*`, or `*`) with `fault`. */
  failNext(pathPattern: string, fault: PdFault, opts?: { times?: number }): void;
  /** Drop every pending fault. */
  clearFaults(): void;
  setLatency(pathPattern: string, ms: number): void;
  setPageSize(size: number): void;
  /** Forget requests, faults and latency; keep seeded data. */
  reset(): void;
  stop(): Promise<void>;
}

interface Entry {
  userId: string;
  scheduleId: string | null;
  policyId: string;
  level: number;
  /** The shift, [start, end) in ms; absent: on call at every time. */
  shift?: { start: number; end: number };
}

type Json = Record<string, unknown>;

class PagerDutyDoubleImpl implements PagerDutyDouble {
  url = '';
  readonly token: string;
  readonly requests: PdRequest[] = [];
  private readonly server: Server;
  private readonly users = new Map<string, PdUser>();
  private readonly incidents = new Map<string, PdIncident>();
  private entries: Entry[] = [];
  private readonly plan = new FaultPlan<PdFault>();
  private pageSize: number;
  private readonly expandIncludes: boolean;
  private incidentNumber = 0;
  private readonly startedAt = Date.now();
  private readonly clock: { now(): number };

  constructor(opts: PagerDutyDoubleOptions) {
    this.token = opts.token ?? PD_DEFAULT_TOKEN;
    this.clock = opts.clock ?? Date;
    this.pageSize = clampPageSize(opts.pageSize ?? PD_MAX_LIMIT);
    this.expandIncludes = opts.expandIncludes ?? true;
    this.server = createServer((req, res) => {
      void this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) sendBody(res, 500, { error: { message: `double: ${String(err)}`, code: 0 } }, {});
      });
    });
  }

  async listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => resolve());
    });
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  addUser(person: PdPersonInput): PdUser {
    const id = person.id ?? userIdFor(person.email);
    const user: PdUser = {
      id,
      email: person.email,
      name: person.name ?? this.users.get(id)?.name ?? person.email.split('@')[0]!,
    };
    this.users.set(id, user);
    return user;
  }

  setOnCall(
    scheduleId: string,
    people: PdPersonInput[],
    opts: { escalationPolicyIds?: string[]; level?: number } = {},
  ): void {
    const policies = opts.escalationPolicyIds ?? [`PEP${scheduleId}`];
    const level = opts.level ?? 1;
    this.entries = this.entries.filter((e) => e.scheduleId !== scheduleId);
    for (const policyId of policies) {
      for (const p of people) this.entries.push({ userId: this.addUser(p).id, scheduleId, policyId, level });
    }
  }

  addShift(
    scheduleId: string,
    people: PdPersonInput[],
    shift: { start: number; end: number; escalationPolicyIds?: string[]; level?: number },
  ): void {
    if (!(shift.start < shift.end))
      throw new Error(`addShift: start (${shift.start}) must be before end (${shift.end})`);
    for (const policyId of shift.escalationPolicyIds ?? [`PEP${scheduleId}`]) {
      for (const p of people) {
        this.entries.push({
          userId: this.addUser(p).id,
          scheduleId,
          policyId,
          level: shift.level ?? 1,
          shift: { start: shift.start, end: shift.end },
        });
      }
    }
  }

  setEscalationLevel(
    policyId: string,
    level: number,
    people: PdPersonInput[],
    opts: { scheduleId?: string } = {},
  ): void {
    this.entries = this.entries.filter((e) => !(e.policyId === policyId && e.level === level));
    for (const p of people)
      this.entries.push({ userId: this.addUser(p).id, scheduleId: opts.scheduleId ?? null, policyId, level });
  }

  setIncident(id: string, incident: PdIncidentInput): PdIncident {
    const prev = this.incidents.get(id);
    const conferenceUrl = incident.conferenceUrl ?? prev?.conferenceUrl;
    const next: PdIncident = {
      id,
      number: incident.number ?? prev?.number ?? ++this.incidentNumber,
      status: incident.status,
      title: incident.title ?? prev?.title ?? `Incident ${id}`,
      htmlUrl: incident.htmlUrl ?? prev?.htmlUrl ?? `https://example.pagerduty.com/incidents/${id}`,
      assignees: incident.assignees?.map((p) => this.addUser(p).id) ?? prev?.assignees ?? [],
      acknowledgers: incident.acknowledgers?.map((p) => this.addUser(p).id) ?? prev?.acknowledgers ?? [],
      ...(conferenceUrl && { conferenceUrl }),
    };
    this.incidents.set(id, next);
    return next;
  }

  failNext(fault: PdFault, opts?: { times?: number }): void;
  failNext(pathPattern: string, fault: PdFault, opts?: { times?: number }): void;
  failNext(a: string | PdFault, b?: PdFault | { times?: number }, c?: { times?: number }): void {
    this.plan.failNext(a, b, c);
  }

  clearFaults(): void {
    this.plan.clearFaults();
  }

  setLatency(pathPattern: string, ms: number): void {
    this.plan.setLatency(pathPattern, ms);
  }

  setPageSize(size: number): void {
    this.pageSize = clampPageSize(size);
  }

  reset(): void {
    this.requests.length = 0;
    this.plan.reset();
  }

  async stop(): Promise<void> {
    this.plan.cancelTimers();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  // ---------------------------------------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const parsed = new URL(req.url ?? '/', 'http://double');
    const path = decodeURIComponent(parsed.pathname);
    const query: Record<string, string[]> = {};
    for (const [k, v] of parsed.searchParams) (query[k] ??= []).push(v);
    const record: PdRequest = {
      method: req.method ?? 'GET',
      path,
      query,
      ...(req.headers.authorization !== undefined && { authorization: req.headers.authorization }),
      ...(req.headers.accept !== undefined && { accept: req.headers.accept }),
      at: Date.now(),
      respondedAt: 0,
      status: 0,
      injected: false,
    };
    this.requests.push(record);
    req.resume();

    await this.plan.delay(path);
    const answer = (status: number, body: unknown, headers: Record<string, string> = {}, injected = false): void => {
      record.status = status;
      record.injected = injected;
      record.respondedAt = Date.now();
      sendBody(res, status, body, headers);
    };

    const fault = this.plan.take(path);
    if (fault) {
      const headers: Record<string, string> = {};
      if (fault.status === 429) {
        const s = String(fault.retryAfterSeconds ?? 1);
        Object.assign(headers, {
          'retry-after': s,
          'ratelimit-limit': '960',
          'ratelimit-remaining': '0',
          'ratelimit-reset': s,
        });
      }
      const message = fault.status === 429 ? 'Rate Limit Exceeded' : (STATUS_CODES[fault.status] ?? 'Error');
      answer(
        fault.status,
        fault.body ?? { error: { message, code: fault.status === 429 ? 2020 : fault.status } },
        headers,
        true,
      );
      return;
    }

    if (req.headers.authorization !== `Token token=${this.token}`) {
      answer(401, { error: { message: 'Authentication failed', code: 2006 } });
      return;
    }
    if (record.method !== 'GET') {
      answer(404, notFound());
      return;
    }

    if (path === '/oncalls') {
      this.listOnCalls(query, answer);
      return;
    }
    if (path === '/users') {
      const q = (query.query?.[0] ?? '').toLowerCase();
      const list = [...this.users.values()].filter(
        (u) => u.email.toLowerCase().includes(q) || u.name.toLowerCase().includes(q),
      );
      this.page(query, answer, 'users', list, (u) => this.fullUser(u));
      return;
    }
    if (path === '/incidents') {
      const statuses = query['statuses[]'];
      const users = query['user_ids[]'];
      const list = [...this.incidents.values()].filter(
        (i) =>
          (!statuses || statuses.includes(i.status)) &&
          (!users || (i.status !== 'resolved' && i.assignees.some((a) => users.includes(a)))),
      );
      const includes = query['include[]'] ?? [];
      this.page(query, answer, 'incidents', list, (i) => this.incidentJson(i, includes));
      return;
    }
    const user = /^\/users\/([^/]+)$/.exec(path);
    if (user) {
      const u = this.users.get(user[1]!);
      if (u) answer(200, { user: this.fullUser(u) });
      else answer(404, notFound());
      return;
    }
    const incident = /^\/incidents\/([^/]+)$/.exec(path);
    if (incident) {
      const i = this.incidents.get(incident[1]!);
      if (i) answer(200, { incident: this.incidentJson(i, query['include[]'] ?? []) });
      else answer(404, notFound());
      return;
    }
    answer(404, notFound());
  }

  /** `limit`/`offset` from the query, or a 400 answered (undefined). */
  private paging(
    query: Record<string, string[]>,
    answer: (status: number, body: unknown) => void,
  ): { limit: number; offset: number } | undefined {
    const limitRaw = query.limit?.[0];
    const offsetRaw = query.offset?.[0];
    const limit = limitRaw === undefined ? PD_DEFAULT_LIMIT : Number(limitRaw);
    const offset = offsetRaw === undefined ? 0 : Number(offsetRaw);
    if (!Number.isInteger(limit) || limit < 1 || !Number.isInteger(offset) || offset < 0) {
      answer(400, {
        error: {
          message: 'Invalid Input Provided',
          code: 2001,
          errors: ['limit must be a positive integer and offset a non-negative integer'],
        },
      });
      return undefined;
    }
    return { limit, offset };
  }

  /** One page of a classic-paginated listing. */
  private page<T>(
    query: Record<string, string[]>,
    answer: (status: number, body: unknown) => void,
    key: string,
    list: T[],
    json: (item: T) => Json,
  ): void {
    const paging = this.paging(query, answer);
    if (!paging) return;
    const effective = Math.min(paging.limit, this.pageSize);
    answer(200, {
      [key]: list.slice(paging.offset, paging.offset + effective).map(json),
      limit: effective,
      offset: paging.offset,
      more: paging.offset + effective < list.length,
      total: query.total?.[0] === 'true' ? list.length : null,
    });
  }

  private listOnCalls(query: Record<string, string[]>, answer: (status: number, body: unknown) => void): void {
    const paging = this.paging(query, answer);
    if (!paging) return;
    const { limit, offset } = paging;
    const now = this.clock.now();
    const since = query.since?.[0] === undefined ? now : Date.parse(query.since[0]);
    const until = query.until?.[0] === undefined ? now : Date.parse(query.until[0]);
    if (Number.isNaN(since) || Number.isNaN(until) || until < since) {
      answer(400, {
        error: {
          message: 'Invalid Input Provided',
          code: 2001,
          errors: ['since and until must be ISO 8601 times, and until cannot be before since'],
        },
      });
      return;
    }
    const schedules = query['schedule_ids[]'];
    const policies = query['escalation_policy_ids[]'];
    const users = query['user_ids[]'];
    let list = this.entries.filter(
      (e) =>
        (!schedules || (e.scheduleId !== null && schedules.includes(e.scheduleId))) &&
        (!policies || policies.includes(e.policyId)) &&
        (!users || users.includes(e.userId)) &&
        overlaps(e.shift, since, until),
    );
    if (query.earliest?.[0] === 'true') {
      list = [...list].sort((a, b) => (a.shift?.start ?? -Infinity) - (b.shift?.start ?? -Infinity));
      const seen = new Set<string>();
      list = list.filter((e) => {
        const key = `${e.policyId}|${e.level}|${e.userId}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      });
    }
    const effective = Math.min(limit, this.pageSize);
    const expand = this.expandIncludes && (query['include[]'] ?? []).includes('users');
    const page = list.slice(offset, offset + effective).map((e) => this.onCallJson(e, expand, since, until));
    answer(200, {
      oncalls: page,
      limit: effective,
      offset,
      more: offset + effective < list.length,
      total: query.total?.[0] === 'true' ? list.length : null,
    });
  }

  /** A seeded shift as it is; an always-on schedule entry as a shift around the range asked about; a user targeted
   *  directly by the policy as permanent (null/null). */
  private onCallJson(e: Entry, expand: boolean, since: number, until: number): Json {
    const u = this.users.get(e.userId) ?? { id: e.userId, email: '', name: e.userId };
    const shift =
      e.shift ?? (e.scheduleId === null ? undefined : { start: since - 3_600_000, end: until + 7 * 3_600_000 });
    return {
      escalation_policy: this.ref('escalation_policy', 'escalation_policies', e.policyId),
      escalation_level: e.level,
      schedule: e.scheduleId === null ? null : this.ref('schedule', 'schedules', e.scheduleId),
      user: expand ? this.fullUser(u) : { ...this.ref('user', 'users', u.id), summary: u.name },
      start: shift ? new Date(shift.start).toISOString() : null,
      end: shift ? new Date(shift.end).toISOString() : null,
    };
  }

  private ref(type: string, collection: string, id: string): Json {
    return {
      id,
      type: `${type}_reference`,
      summary: id,
      self: `${this.url}/${collection}/${id}`,
      html_url: `https://example.pagerduty.com/${collection}/${id}`,
    };
  }

  private fullUser(u: PdUser): Json {
    return {
      id: u.id,
      type: 'user',
      summary: u.name,
      self: `${this.url}/users/${u.id}`,
      html_url: `https://example.pagerduty.com/users/${u.id}`,
      name: u.name,
      email: u.email,
      time_zone: 'Etc/UTC',
      role: 'user',
    };
  }

  private incidentJson(i: PdIncident, includes: readonly string[]): Json {
    const person = (id: string, include: string) => {
      const u = this.users.get(id) ?? { id, email: '', name: id };
      return this.expandIncludes && includes.includes(include)
        ? this.fullUser(u)
        : { ...this.ref('user', 'users', id), summary: u.name };
    };
    const at = new Date(this.startedAt).toISOString();
    return {
      assignments: i.status === 'resolved' ? [] : i.assignees.map((id) => ({ at, assignee: person(id, 'assignees') })),
      acknowledgements:
        i.status === 'acknowledged'
          ? i.acknowledgers.map((id) => ({ at, acknowledger: person(id, 'acknowledgers') }))
          : [],
      ...(i.conferenceUrl && { conference_bridge: { conference_number: null, conference_url: i.conferenceUrl } }),
      id: i.id,
      type: 'incident',
      summary: `[#${i.number}] ${i.title}`,
      self: `${this.url}/incidents/${i.id}`,
      html_url: i.htmlUrl,
      incident_number: i.number,
      title: i.title,
      status: i.status,
      urgency: 'high',
      created_at: new Date(this.startedAt).toISOString(),
    };
  }
}

/** Whether a shift [start, end) overlaps the range [since, until] (one instant when they are equal). */
function overlaps(shift: { start: number; end: number } | undefined, since: number, until: number): boolean {
  if (!shift) return true;
  return since === until ? shift.start <= since && since < shift.end : shift.start < until && since < shift.end;
}

function notFound(): Json {
  return { error: { message: 'Not Found', code: 2100 } };
}

function clampPageSize(n: number): number {
  return Math.min(Math.max(1, Math.floor(n)), PD_MAX_LIMIT);
}

/** A stable PagerDuty-looking user id for an email. */
export function userIdFor(email: string): string {
  return `P${createHash('sha1').update(email.toLowerCase()).digest('hex').slice(0, 6).toUpperCase()}`;
}

/** Start a PagerDuty REST API double on 127.0.0.1 (ephemeral port by default). Call `stop()` when done. */
export async function startPagerDutyDouble(opts: PagerDutyDoubleOptions = {}): Promise<PagerDutyDouble> {
  const double = new PagerDutyDoubleImpl(opts);
  await double.listen(opts.port ?? 0);
  return double;
}
