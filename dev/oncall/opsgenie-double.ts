/**
 * A local double of Opsgenie's Who-is-on-call API for tests and the demo. Dependency-free (node:http); listens on
 * 127.0.0.1, ephemeral port by default.
 *
 * ```ts
 * const og = await startOpsgenieDouble();
 * const { id } = og.setOnCall('DB Primary', ['alice@example.com', { email: 'bob@example.com' }]);
 * const client = new OpsgenieClient({ apiKey: og.apiKey, apiUrl: og.url });
 * await client.scheduleOnCall('DB Primary');   // by name
 * await client.scheduleOnCall(id);             // by id (a UUID)
 * og.addShift('DB Primary', ['carol@example.com'], { start: t0, end: t0 + 8 * 3_600_000 });
 * await client.scheduleOnCall('DB Primary', t0 + 60_000);   // date=…: Alice, Bob and Carol
 * await og.stop();
 * ```
 *
 * ## Endpoint (docs.opsgenie.com "Who is On Call API"; [U] = not verified against the live API)
 * `GET /v2/schedules/{identifier}/on-calls?scheduleIdentifierType=id|name&flat=true|false&date=…`. The identifier is
 * read as an id unless `scheduleIdentifierType=name` (Opsgenie's default is `id`). `date` (documented format
 * yyyy-MM-dd'T'HH:mm:ssZ, e.g. 2017-01-15T08:00:00+02:00; fractions and `Z` are accepted too) is the moment asked
 * about, default now (the double's `clock`); a value in another form is a 422 [U: Opsgenie's answer to a bad date].
 * A `+` sent unencoded reads as a space and is refused, as Opsgenie's documentation warns. Who is on call at that
 * moment: what `setOnCall` seeded (on call at every time) and every shift (`addShift`) with start ≤ date < end.
 * - flat=true: `{ data: { _parent: { id, name, enabled }, onCallRecipients: ["alice@example.com", …] }, took, requestId }`
 * - flat=false: `{ data: { _parent, onCallParticipants: [{ id, name, type: 'user' }, …] }, took, requestId }`
 * Every answer carries `X-Request-ID`, `X-Response-Time` and `X-RateLimit-State: OK` (documented response headers).
 * Errors are `{ message, took, requestId }`: missing/wrong `Authorization: GenieKey <key>` → 401 "Could not
 * authenticate" [U: wording]; unknown schedule → 404 [U: wording]; unknown route → 404.
 *
 * ## Alerts (docs.opsgenie.com "Alert API")
 * `setAlert(...)` seeds an alert. `GET /v2/alerts/{id}?identifierType=id` → `{ data: { id, tinyId, message, status:
 * open|closed, acknowledged, owner, responders: [{ type: 'user', id }], report: { acknowledgedBy }, … } }` (404
 * for an unknown id; an identifierType other than id is a 422 — the double only knows ids). `GET /v2/users/{id}`
 * → `{ data: { id, username, fullName } }` for every username the double has seen (ids as in `onCallParticipants`).
 * `GET /v2/alerts?query=…&limit=&offset=` → `{ data: [alert, …] }`: the query is `field:value` terms joined by
 * `AND` (values optionally in double quotes), over `status`, `owner`, `acknowledged` and `acknowledgedBy`; any
 * other field or operator is a 422 [U: Opsgenie accepts far more; the double refuses what it cannot honour].
 *
 * ## Faults and recording
 * `failNext([pathPattern,] fault, { times })` (no pattern = any path): 429 answers `X-RateLimit-State: THROTTLED`, `X-RateLimit-Reason`,
 * `X-RateLimit-Period-In-Sec` (names as in Opsgenie's SDKs) and `Retry-After` (not documented by Opsgenie [U]);
 * other statuses answer `{ message }` (or `fault.body`). Patterns: exact path, a prefix ending in `*`, or `*`.
 * `setLatency(pattern, ms)` delays answers. `requests` records each request with `at` and `respondedAt`.
 */
import { FaultPlan, sendBody } from '../fault-plan.js';
import { randomUUID } from 'node:crypto';
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export const OG_DEFAULT_API_KEY = 'og-double-key';

export interface OgPersonInput {
  email: string;
  name?: string;
}

export interface OgSchedule {
  id: string;
  name: string;
  enabled: boolean;
  /** Usernames (emails) on call at every time. */
  onCall: string[];
  /** Usernames on call from `start` (inclusive) to `end` (exclusive), ms since the epoch. */
  shifts: { people: string[]; start: number; end: number }[];
}

export interface OgFault {
  status: number;
  /** 429 only: `Retry-After` and `X-RateLimit-Period-In-Sec` (default 1). */
  retryAfterSeconds?: number;
  body?: string;
}

export interface OgRequest {
  method: string;
  /** Decoded path, without the query string. */
  path: string;
  query: Record<string, string[]>;
  authorization?: string;
  at: number;
  respondedAt: number;
  status: number;
  injected: boolean;
}

export interface OgAlert {
  id: string;
  tinyId: string;
  message: string;
  status: 'open' | 'closed';
  acknowledged: boolean;
  /** Username (email) or ''. */
  owner: string;
  acknowledgedBy?: string;
  /** Usernames of the user responders. */
  responders: string[];
}

export interface OgAlertInput {
  id?: string;
  /** Its `tinyId` (default: the double's next; kept from before when omitted). */
  tinyId?: string;
  message?: string;
  status: 'open' | 'closed';
  acknowledged?: boolean;
  owner?: string;
  acknowledgedBy?: string;
  responders?: string[];
}

export interface OpsgenieDoubleOptions {
  port?: number;
  /** The accepted API key (default {@link OG_DEFAULT_API_KEY}). */
  apiKey?: string;
  /** "Now" for a query without `date` (default real time): give it the clock the test drives. */
  clock?: { now(): number };
}

export interface OpsgenieDouble {
  /** Base URL, e.g. http://127.0.0.1:41235 (give it to the client as `apiUrl`). */
  readonly url: string;
  readonly apiKey: string;
  readonly requests: OgRequest[];
  /** Seed a schedule (id defaults to a random UUID). */
  addSchedule(schedule: { name: string; id?: string; enabled?: boolean }): OgSchedule;
  /** Who is on call at every time (replaces what was seeded, shifts included); the schedule is found by id or name,
   *  or created with that name. */
  setOnCall(scheduleIdOrName: string, people: (string | OgPersonInput)[]): OgSchedule;
  /** Adds a shift: `people` on call from `start` (inclusive) to `end` (exclusive); other shifts stay. The schedule is
   *  found or created as for setOnCall. */
  addShift(
    scheduleIdOrName: string,
    people: (string | OgPersonInput)[],
    shift: { start: number; end: number },
  ): OgSchedule;
  /** Seed or update an alert (by `id`; a new one gets an Opsgenie-looking id). Omitted fields keep their value. */
  setAlert(alert: OgAlertInput): OgAlert;
  /** Answer the next request(s) to any path with `fault`. */
  failNext(fault: OgFault, opts?: { times?: number }): void;
  /** Answer the next request(s) whose path matches `pathPattern` (exact, `prefix*`, or `*`) with `fault`. */
  failNext(pathPattern: string, fault: OgFault, opts?: { times?: number }): void;
  /** Drop every pending fault. */
  clearFaults(): void;
  setLatency(pathPattern: string, ms: number): void;
  reset(): void;
  stop(): Promise<void>;
}

type Json = Record<string, unknown>;

class OpsgenieDoubleImpl implements OpsgenieDouble {
  url = '';
  readonly apiKey: string;
  readonly requests: OgRequest[] = [];
  private readonly server: Server;
  private readonly schedules = new Map<string, OgSchedule>();
  private readonly alerts = new Map<string, OgAlert>();
  private readonly usernames = new Set<string>();
  private readonly plan = new FaultPlan<OgFault>();
  private readonly clock: { now(): number };

  constructor(opts: OpsgenieDoubleOptions) {
    this.apiKey = opts.apiKey ?? OG_DEFAULT_API_KEY;
    this.clock = opts.clock ?? Date;
    this.server = createServer((req, res) => {
      void this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) sendBody(res, 500, { message: `double: ${String(err)}` }, {});
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

  addSchedule(schedule: { name: string; id?: string; enabled?: boolean }): OgSchedule {
    const s: OgSchedule = {
      id: schedule.id ?? randomUUID(),
      name: schedule.name,
      enabled: schedule.enabled ?? true,
      onCall: [],
      shifts: [],
    };
    this.schedules.set(s.id, s);
    return s;
  }

  setOnCall(scheduleIdOrName: string, people: (string | OgPersonInput)[]): OgSchedule {
    const s = this.findOrAdd(scheduleIdOrName);
    s.onCall = people.map(username);
    s.shifts = [];
    return s;
  }

  addShift(
    scheduleIdOrName: string,
    people: (string | OgPersonInput)[],
    shift: { start: number; end: number },
  ): OgSchedule {
    if (!(shift.start < shift.end))
      throw new Error(`addShift: start (${shift.start}) must be before end (${shift.end})`);
    const s = this.findOrAdd(scheduleIdOrName);
    s.shifts.push({ people: people.map(username), start: shift.start, end: shift.end });
    return s;
  }

  setAlert(input: OgAlertInput): OgAlert {
    const prev = input.id !== undefined ? this.alerts.get(input.id) : undefined;
    const id = input.id ?? `${randomUUID()}-${Date.now()}`;
    const alert: OgAlert = {
      id,
      tinyId: input.tinyId ?? prev?.tinyId ?? String(this.alerts.size + 1),
      message: input.message ?? prev?.message ?? `Alert ${id}`,
      status: input.status,
      acknowledged: input.acknowledged ?? prev?.acknowledged ?? false,
      owner: input.owner ?? prev?.owner ?? '',
      ...((input.acknowledgedBy ?? prev?.acknowledgedBy) !== undefined && {
        acknowledgedBy: input.acknowledgedBy ?? prev?.acknowledgedBy,
      }),
      responders: input.responders ?? prev?.responders ?? [],
    };
    for (const name of [alert.owner, alert.acknowledgedBy ?? '', ...alert.responders])
      if (name) this.usernames.add(name);
    this.alerts.set(id, alert);
    return alert;
  }

  failNext(fault: OgFault, opts?: { times?: number }): void;
  failNext(pathPattern: string, fault: OgFault, opts?: { times?: number }): void;
  failNext(a: string | OgFault, b?: OgFault | { times?: number }, c?: { times?: number }): void {
    this.plan.failNext(a, b, c);
  }

  clearFaults(): void {
    this.plan.clearFaults();
  }

  setLatency(pathPattern: string, ms: number): void {
    this.plan.setLatency(pathPattern, ms);
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

  /** Alerts and users; false when `path` is not theirs. */
  private alertRoutes(
    path: string,
    query: Record<string, string[]>,
    answer: (status: number, body: Json) => void,
  ): boolean {
    const user = /^\/v2\/users\/([^/]+)$/.exec(path);
    if (user) {
      const name = [...this.usernames].find((n) => participantId(n) === user[1]);
      if (name) answer(200, { data: { id: participantId(name), username: name, fullName: name.split('@')[0] } });
      else answer(404, { message: `User with id [${user[1]}] does not exist` });
      return true;
    }
    const one = /^\/v2\/alerts\/([^/]+)$/.exec(path);
    if (one) {
      if ((query.identifierType?.[0] ?? 'id') !== 'id') {
        answer(422, { message: 'the double only looks alerts up by id' });
        return true;
      }
      const a = this.alerts.get(one[1]!);
      if (a) answer(200, { data: this.alertJson(a) });
      else answer(404, { message: `Alert with id [${one[1]}] does not exist` });
      return true;
    }
    if (path !== '/v2/alerts') return false;
    const terms = parseAlertQuery(query.query?.[0] ?? '');
    if (!terms) {
      answer(422, { message: `the double cannot honour the query [${query.query?.[0] ?? ''}]` });
      return true;
    }
    const limit = Math.min(100, Number(query.limit?.[0] ?? 20));
    const offset = Number(query.offset?.[0] ?? 0);
    const value = (a: OgAlert, field: string) =>
      field === 'acknowledged' ? String(a.acknowledged) : String((a as unknown as Json)[field] ?? '');
    const list = [...this.alerts.values()]
      .filter((a) => terms.every((t) => value(a, t.field).toLowerCase() === t.value.toLowerCase()))
      .reverse();
    answer(200, { data: list.slice(offset, offset + limit).map((a) => this.alertJson(a)) });
    return true;
  }

  private alertJson(a: OgAlert): Json {
    return {
      id: a.id,
      tinyId: a.tinyId,
      message: a.message,
      status: a.status,
      acknowledged: a.acknowledged,
      owner: a.owner,
      responders: a.responders.map((name) => ({ type: 'user', id: participantId(name) })),
      report: a.acknowledgedBy ? { acknowledgedBy: a.acknowledgedBy } : {},
    };
  }

  private findOrAdd(scheduleIdOrName: string): OgSchedule {
    return (
      this.schedules.get(scheduleIdOrName) ??
      this.byName(scheduleIdOrName) ??
      this.addSchedule({ name: scheduleIdOrName })
    );
  }

  private byName(name: string): OgSchedule | undefined {
    for (const s of this.schedules.values()) if (s.name === name) return s;
    return undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = Date.now();
    const parsed = new URL(req.url ?? '/', 'http://double');
    const path = decodeURIComponent(parsed.pathname);
    const query: Record<string, string[]> = {};
    for (const [k, v] of parsed.searchParams) (query[k] ??= []).push(v);
    const record: OgRequest = {
      method: req.method ?? 'GET',
      path,
      query,
      ...(req.headers.authorization !== undefined && { authorization: req.headers.authorization }),
      at: started,
      respondedAt: 0,
      status: 0,
      injected: false,
    };
    this.requests.push(record);
    req.resume();

    await this.plan.delay(path);
    const requestId = randomUUID();
    const answer = (
      status: number,
      body: Json | string,
      headers: Record<string, string> = {},
      injected = false,
    ): void => {
      record.status = status;
      record.injected = injected;
      record.respondedAt = Date.now();
      const took = (record.respondedAt - started) / 1000;
      const payload = typeof body === 'string' ? body : { ...body, took, requestId };
      sendBody(res, status, payload, {
        'x-request-id': requestId,
        'x-response-time': String(took),
        'x-ratelimit-state': 'OK',
        ...headers,
      });
    };

    const fault = this.plan.take(path);
    if (fault) {
      const headers: Record<string, string> = {};
      if (fault.status === 429) {
        const s = String(fault.retryAfterSeconds ?? 1);
        Object.assign(headers, {
          'retry-after': s,
          'x-ratelimit-state': 'THROTTLED',
          'x-ratelimit-reason': 'ScheduleOnCalls',
          'x-ratelimit-period-in-sec': s,
        });
      }
      answer(fault.status, fault.body ?? { message: STATUS_CODES[fault.status] ?? 'Error' }, headers, true);
      return;
    }

    if (req.headers.authorization !== `GenieKey ${this.apiKey}`) {
      answer(401, { message: 'Could not authenticate' });
      return;
    }
    if (record.method === 'GET' && this.alertRoutes(path, query, answer)) return;
    // Matched on the raw path so an encoded "/" inside a schedule name stays part of the identifier.
    const m = record.method === 'GET' ? /^\/v2\/schedules\/([^/]+)\/on-calls$/.exec(parsed.pathname) : null;
    if (!m) {
      answer(404, { message: 'Resource or handler not found' });
      return;
    }
    const identifier = decodeURIComponent(m[1]!);
    const type = query.scheduleIdentifierType?.[0] ?? 'id';
    if (type !== 'id' && type !== 'name') {
      answer(422, { message: `scheduleIdentifierType must be one of [id, name]` });
      return;
    }
    const schedule = type === 'name' ? this.byName(identifier) : this.schedules.get(identifier);
    if (!schedule) {
      answer(404, { message: `Schedule with ${type} [${identifier}] does not exist` });
      return;
    }
    const dateRaw = query.date?.[0];
    const date = dateRaw === undefined ? this.clock.now() : parseDate(dateRaw);
    if (date === undefined) {
      answer(422, { message: `date [${dateRaw}] is not in the format yyyy-MM-dd'T'HH:mm:ssZ` });
      return;
    }
    const onCall = [...schedule.onCall];
    for (const shift of schedule.shifts) {
      if (shift.start <= date && date < shift.end)
        for (const name of shift.people) if (!onCall.includes(name)) onCall.push(name);
    }
    const parent = { id: schedule.id, name: schedule.name, enabled: schedule.enabled };
    const flat = query.flat?.[0] === 'true';
    answer(200, {
      data: flat
        ? { _parent: parent, onCallRecipients: onCall }
        : {
            _parent: parent,
            onCallParticipants: onCall.map((name) => ({ id: participantId(name), name, type: 'user' })),
          },
    });
  }
}

/** `field:value AND field:"value"` → terms; undefined when it uses anything else. */
function parseAlertQuery(q: string): { field: string; value: string }[] | undefined {
  const terms: { field: string; value: string }[] = [];
  for (const part of q.split(/\s+AND\s+/)) {
    const m = /^\s*(status|owner|acknowledged|acknowledgedBy)\s*:\s*(?:"([^"]*)"|([^\s"()]+))\s*$/.exec(part);
    if (!m) return undefined;
    terms.push({ field: m[1]!, value: m[2] ?? m[3]! });
  }
  return terms;
}

function username(p: string | OgPersonInput): string {
  return typeof p === 'string' ? p : p.email;
}

const DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?(Z|[+-]\d{2}:?\d{2})$/;

/** A `date` in the documented form (offset with or without a colon, or Z), in ms; undefined otherwise. */
function parseDate(raw: string): number | undefined {
  if (!DATE.test(raw)) return undefined;
  const ms = Date.parse(raw.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
  return Number.isNaN(ms) ? undefined : ms;
}

/** A stable UUID-shaped participant id for a username. */
function participantId(name: string): string {
  let h = 0;
  for (const ch of name) h = (Math.imul(h, 31) + ch.charCodeAt(0)) >>> 0;
  const hex = h.toString(16).padStart(8, '0');
  return `${hex}-0000-4000-8000-${hex}0000`;
}

/** Start an Opsgenie Who-is-on-call API double on 127.0.0.1 (ephemeral port by default). Call `stop()` when done. */
export async function startOpsgenieDouble(opts: OpsgenieDoubleOptions = {}): Promise<OpsgenieDouble> {
  const double = new OpsgenieDoubleImpl(opts);
  await double.listen(opts.port ?? 0);
  return double;
}
