/**
 * A local double of the Bot Connector REST API (what a Teams bot calls back on the `serviceUrl` of each
 * activity) for tests and the demo. Dependency-free (node:http); listens on 127.0.0.1, ephemeral port.
 *
 * Endpoints (relative to serviceUrl; conversation ids arrive percent-encoded and are decoded):
 * - `POST /v3/conversations/{conv}/activities[/{replyToId}]` → `{ id }`: a new message (a reply when replyToId).
 *   A channel id posted to (`19:…`) starts a thread; `19:…;messageid=<root>` replies in it.
 * - `PUT /v3/conversations/{conv}/activities/{id}` → `{ id }`: replaces an activity (404 when unknown).
 * - `DELETE /v3/conversations/{conv}/activities/{id}`.
 * - `POST /v3/conversations` (create a 1:1): 400 `{ error: { code: 'BadSyntax', message: 'Could not parse tenant id' } }`
 *   when the body names no tenant (neither `tenantId` nor `channelData.tenant.id`), as Teams answers; else `{ id }` for
 *   a member who installed the app (`install()`), 403 `{ error: { code: 'Forbidden' } }` otherwise (Teams refuses
 *   proactive chats with people who have not).
 * - `GET /v3/conversations/{conv}/members/{id}` → the TeamsChannelAccount of a known user (by 29: id or AAD id).
 * Faults: `failNext([pathPattern,] { status, retryAfterSeconds? }, { times })`; `calls` records every request.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FaultPlan, sendBody } from '../fault-plan.js';
import { waitOnEvents } from '../wait-on-events.js';

export interface TeamsUser {
  /** AAD object id (a GUID). */
  aadObjectId: string;
  /** Teams user id, `29:…`. */
  id: string;
  name: string;
  email: string;
  /** Their home tenant when it is not the double's (a person of another organisation). */
  tenantId?: string;
}

/** Person `n` of the tests and the demo: a GUID made from n, Teams id `29:<name>-teams-id`, `<name>@example.com`;
 *  `extra` overrides any of them. */
export function teamsUser(n: number, name: string, extra: Partial<TeamsUser> = {}): TeamsUser {
  return {
    aadObjectId: `0000000${n}-aaaa-4bbb-8ccc-00000000000${n}`,
    id: `29:${name}-teams-id`,
    name,
    email: `${name}@example.com`,
    ...extra,
  };
}

export interface ConnectorCall {
  method: string;
  path: string;
  /** Decoded conversation id, when the path has one. */
  conversationId?: string;
  activityId?: string;
  body: unknown;
  status: number;
  at: number;
}

/** A message as the double holds it: its latest version after updates. */
export interface PostedActivity {
  id: string;
  conversationId: string;
  replyToId?: string;
  activity: Record<string, unknown>;
  /** How many times it was replaced. */
  updates: number;
  deleted?: boolean;
}

export interface ConnectorFault {
  status: number;
  retryAfterSeconds?: number;
}

export interface TeamsConnectorDouble {
  url: string;
  tenantId: string;
  calls: ConnectorCall[];
  /** Every message, in posting order (latest content). */
  messages(): PostedActivity[];
  messagesIn(conversationId: string): PostedActivity[];
  message(id: string): PostedActivity | undefined;
  /** Conversation ids of the 1:1 chats the bot created, by AAD object id. */
  chats: Map<string, string>;
  addUser(user: TeamsUser): void;
  /** The app is installed for this person: the bot may open a 1:1 chat with them. */
  install(aadObjectId: string): void;
  failNext: FaultPlan<ConnectorFault>['failNext'];
  waitUntil<T>(probe: () => T | undefined | null | false, opts?: { timeoutMs?: number; what?: string }): Promise<T>;
  stop(): Promise<void>;
}

const ROUTE = /^\/v3\/conversations(?:\/([^/]+)(?:\/(activities|members)(?:\/([^/]+))?)?)?\/?$/;

export async function startTeamsConnectorDouble(opts: { tenantId?: string } = {}): Promise<TeamsConnectorDouble> {
  const tenantId = opts.tenantId ?? 'tenant-0000';
  const calls: ConnectorCall[] = [];
  const posted = new Map<string, PostedActivity>();
  const users = new Map<string, TeamsUser>();
  const installed = new Set<string>();
  const chats = new Map<string, string>();
  const waiters = new Set<() => void>();
  const faults = new FaultPlan<ConnectorFault>();
  let seq = 0;

  const record = (c: Omit<ConnectorCall, 'at'>) => {
    calls.push({ ...c, at: Date.now() });
    for (const w of [...waiters]) w();
  };

  const handle = (req: IncomingMessage, res: ServerResponse, raw: string) => {
    const path = (req.url ?? '').split('?')[0]!;
    const method = req.method ?? 'GET';
    let body: unknown;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      sendBody(res, 400, { error: { code: 'BadArgument', message: 'invalid JSON' } }, {});
      return;
    }
    const m = ROUTE.exec(path);
    const conversationId = m?.[1] !== undefined ? decodeURIComponent(m[1]) : undefined;
    const activityId = m?.[3] !== undefined ? decodeURIComponent(m[3]) : undefined;
    const reply = (status: number, out: unknown, headers: Record<string, string> = {}) => {
      record({
        method,
        path,
        ...(conversationId !== undefined && { conversationId }),
        ...(activityId !== undefined && { activityId }),
        body,
        status,
      });
      sendBody(res, status, out, headers);
    };
    const fault = faults.take(path);
    if (fault) {
      reply(
        fault.status,
        { error: { code: fault.status === 429 ? 'Throttled' : 'ServiceError', message: `injected ${fault.status}` } },
        fault.retryAfterSeconds !== undefined ? { 'retry-after': String(fault.retryAfterSeconds) } : {},
      );
      return;
    }
    if (!m) {
      reply(404, { error: { code: 'NotFound', message: `no route ${method} ${path}` } });
      return;
    }
    const kind = m[2];
    if (method === 'POST' && conversationId === undefined) {
      const p = body as
        | {
            members?: Array<{ id?: string }>;
            isGroup?: boolean;
            tenantId?: unknown;
            channelData?: { tenant?: { id?: unknown } };
          }
        | undefined;
      const tenant = p?.tenantId ?? p?.channelData?.tenant?.id;
      if (typeof tenant !== 'string' || tenant === '') {
        reply(400, { error: { code: 'BadSyntax', message: 'Could not parse tenant id' } });
        return;
      }
      const member = p?.members?.[0]?.id ?? '';
      const user = users.get(member);
      if (p?.isGroup || !user || !installed.has(user.aadObjectId)) {
        reply(403, {
          error: { code: 'Forbidden', message: 'The bot is not installed for this user (BotNotInConversationRoster).' },
        });
        return;
      }
      const id = chats.get(user.aadObjectId) ?? `a:chat-${user.aadObjectId}`;
      chats.set(user.aadObjectId, id);
      reply(200, { id });
      return;
    }
    if (kind === 'activities' && conversationId !== undefined) {
      const activity = (body ?? {}) as Record<string, unknown>;
      if (method === 'POST') {
        const id = `act-${++seq}`;
        const replyTo = activityId ?? /;messageid=(.+)$/.exec(conversationId)?.[1];
        posted.set(id, {
          id,
          conversationId,
          ...(replyTo !== undefined && { replyToId: replyTo }),
          activity,
          updates: 0,
        });
        reply(200, { id });
        return;
      }
      const existing = activityId !== undefined ? posted.get(activityId) : undefined;
      if (!existing) {
        reply(404, { error: { code: 'NotFound', message: 'unknown activity' } });
        return;
      }
      if (method === 'PUT') {
        existing.activity = activity;
        existing.updates++;
        reply(200, { id: existing.id });
        return;
      }
      if (method === 'DELETE') {
        existing.deleted = true;
        reply(200, {});
        return;
      }
    }
    if (kind === 'members' && method === 'GET' && activityId !== undefined) {
      const user = users.get(activityId);
      if (!user) {
        reply(404, { error: { code: 'NotFound', message: 'member not found' } });
        return;
      }
      reply(200, {
        id: user.id,
        name: user.name,
        aadObjectId: user.aadObjectId,
        email: user.email,
        userPrincipalName: user.email,
        tenantId: user.tenantId ?? tenantId,
        userRole: 'user',
      });
      return;
    }
    reply(405, { error: { code: 'BadArgument', message: `${method} not supported here` } });
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      void faults.delay(req.url ?? '').then(() => handle(req, res, raw));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const all = () => [...posted.values()];
  return {
    url: `http://127.0.0.1:${port}/`,
    tenantId,
    calls,
    chats,
    messages: all,
    messagesIn: (conv) => all().filter((p) => p.conversationId === conv || p.conversationId.startsWith(`${conv};`)),
    message: (id) => posted.get(id),
    addUser(user) {
      users.set(user.id, user);
      users.set(user.aadObjectId, user);
    },
    install(aad) {
      installed.add(aad);
    },
    failNext: (...args: Parameters<FaultPlan<ConnectorFault>['failNext']>) => faults.failNext(...args),
    waitUntil: (probe, o = {}) =>
      waitOnEvents(
        waiters,
        probe,
        o.timeoutMs ?? 10_000,
        () =>
          new Error(
            `Bot Connector double: timed out waiting for ${o.what ?? 'a condition'} (${calls.length} calls so far)`,
          ),
      ),
    async stop() {
      faults.reset();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
