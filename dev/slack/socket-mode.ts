/**
 * Socket Mode for the local Slack double (double.ts): `apps.connections.open` on the double's Web API hands
 * out a `ws://127.0.0.1:<port>/link/?ticket=…&app_id=…` URL served here by a `ws` WebSocketServer that speaks
 * Slack's Socket Mode protocol, so a real Bolt `App({ socketMode: true, appToken, clientOptions: { slackApiUrl } })`
 * (or a bare `SocketModeClient`) connects to it exactly as it connects to Slack.
 *
 * ```ts
 * const slack = await startSlackDouble();
 * const sm = await attachSocketMode(slack);                  // registers apps.connections.open on the double
 * // start the app with SLACK_APP_TOKEN=sm.appToken, SLACK_API_URL=slack.url; it connects out
 * await sm.waitForConnection();
 * const ack = await sm.sendSlashCommand(slashCommand({ userId: 'U0ALICE', text: 'appdb read 10m INC-1 why' }));
 * expect(ack.elapsedMs).toBeLessThan(3_000);                // the ack came back over the socket
 * const submit = await sm.sendInteraction(viewSubmissionPayload({ … }));
 * expect(submit.payload).toMatchObject({ response_action: 'errors' });
 * await sm.stop();                                           // after the app stopped; then slack.stop()
 * ```
 *
 * ## Protocol (https://api.slack.com/apis/connections/socket-implement, and what @slack/socket-mode 3.x expects)
 * - `apps.connections.open` needs an app-level token in `Authorization: Bearer xapp-…`: none → `not_authed`, a bot
 *   token (`xoxb-…`) → `not_allowed_token_type`, any other unknown token → `invalid_auth`. Success → `{ ok, url }`.
 *   Each URL carries a single-use ticket valid for {@link SOCKET_MODE_TICKET_TTL_MS}; an unknown, used or expired
 *   ticket is refused at the WebSocket handshake with HTTP 401 (Slack's exact refusal is not documented [U]).
 * - On connect the server sends `{"type":"hello","num_connections":n,"debug_info":{…},"connection_info":{"app_id"}}`;
 *   the client's `start()` resolves on it.
 * - Envelopes: `{"envelope_id","type":"slash_commands"|"interactive"|"events_api","payload",
 *   "accepts_response_payload"}` (+ `retry_attempt`/`retry_reason` for `events_api`). The client acks with
 *   `{"envelope_id","payload"}` (@slack/socket-mode always sends a `payload`, `{}` for a bare `ack()`).
 *   `accepts_response_payload` defaults to true for slash commands, `view_submission` and `block_suggestion`, false
 *   otherwise (Slack's per-payload values are only partly documented [U]).
 * - Heartbeat: the client pings about every 1.7 s and gives up after 5 s without a pong (`ws` answers pings by
 *   itself); the server pings every `pingIntervalMs` (the client disconnects after 30 s without one, counted from the
 *   first). Both directions are counted per connection.
 * - `disconnect(reason)` sends `{"type":"disconnect","reason","debug_info"}` (`refresh_requested`, `warning`,
 *   `link_disabled`): the client closes and, with auto-reconnect, calls `apps.connections.open` again.
 *   `dropConnections()` cuts the TCP connections with no close handshake.
 *
 * ## Waiting
 * Everything is recorded per connection ({@link SocketModeConnection}); `waitForConnection`, `waitForClose` and
 * `waitUntil` are event-driven (re-checked on every frame, open and close) with a deadline. `sendEnvelope` rejects when
 * no ack arrives within `timeoutMs` (default {@link SOCKET_MODE_ACK_DEADLINE_MS}) or the connection closes first.
 *
 * ## Not modelled
 * Several apps, retries of unacked envelopes, `debug_reconnects`, the 10-connection limit, payload size limits.
 */
import { waitOnEvents } from '../wait-on-events.js';
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { SlashCommand } from '@slack/bolt';
import WebSocket from 'ws';
import { SLACK_DOUBLE_DEFAULTS, type SlackDouble } from './double.js';
import { eventEnvelope } from './sign.js';

/** The Web API method this module adds to the double. */
export const APPS_CONNECTIONS_OPEN = 'apps.connections.open';
/** The app-level token accepted by default. */
export const DEFAULT_APP_TOKEN = `xapp-1-${SLACK_DOUBLE_DEFAULTS.appId}-1-slackdouble0123456789abcdef`;
/** Slack shows the user an error when an envelope is not acked within 3 s. */
export const SOCKET_MODE_ACK_DEADLINE_MS = 3000;
/** How long a URL from apps.connections.open may wait before it is used [U]. */
export const SOCKET_MODE_TICKET_TTL_MS = 60_000;
/** Server → client ping period by default. */
export const SOCKET_MODE_PING_INTERVAL_MS = 10_000;

export type EnvelopeType = 'slash_commands' | 'interactive' | 'events_api';
export type DisconnectReason = 'refresh_requested' | 'warning' | 'link_disabled' | (string & {});

export interface SocketModeOptions {
  /** The app-level token apps.connections.open accepts (default {@link DEFAULT_APP_TOKEN}). */
  appToken?: string;
  /** More accepted app-level tokens. */
  appTokens?: string[];
  /** Port of the WebSocket server (default 0 = ephemeral; always 127.0.0.1). */
  port?: number;
  /** Server → client ping period (default {@link SOCKET_MODE_PING_INTERVAL_MS}; 0 = never ping). */
  pingIntervalMs?: number;
  /** Ticket lifetime (default {@link SOCKET_MODE_TICKET_TTL_MS}). */
  ticketTtlMs?: number;
  /** `debug_info.host` of hello / disconnect frames. */
  host?: string;
}

/** One WebSocket connection, as the server saw it (a snapshot; no socket). */
export interface SocketModeConnection {
  /** `WS1`, `WS2`… in the order they were opened. */
  id: string;
  ticket: string;
  /** The app-level token that asked for the URL. */
  appToken: string;
  openedAt: number;
  open: boolean;
  closedAt?: number;
  closeCode?: number;
  closeReason?: string;
  /** `client`: a close frame from the client; `server`: `disconnect`/`dropConnections`/`stop`; `network`: TCP gone. */
  closedBy?: 'client' | 'server' | 'network';
  /** Envelopes sent on this connection. */
  envelopesSent: number;
  /** Pings the client sent (each answered with a pong by `ws`). */
  pingsFromClient: number;
  /** Pings the server sent / pongs the client answered. */
  pingsToClient: number;
  pongsFromClient: number;
  /** Every text frame the client sent, JSON-parsed when possible, oldest first. */
  received: unknown[];
}

export interface SocketModeAck {
  envelope_id: string;
  /** The ack body (`{}` for a bare `ack()`, `{ text }` for `ack('…')`, `{ response_action, … }` for views). */
  payload?: Record<string, unknown>;
  /** From sending the envelope to receiving the ack. */
  elapsedMs: number;
  /** The connection the ack came on. */
  connectionId: string;
}

export interface SendEnvelopeOptions {
  /** Reject when no ack arrives in time (default {@link SOCKET_MODE_ACK_DEADLINE_MS}). */
  timeoutMs?: number;
  /** With no open connection, wait this long for one before failing (default 5000). */
  connectTimeoutMs?: number;
  /** Default: see the header. */
  acceptsResponsePayload?: boolean;
  /** events_api only (default 0 / ''). */
  retryAttempt?: number;
  retryReason?: string;
  /** Send on this connection (default: the most recently opened open one). */
  connectionId?: string;
  envelopeId?: string;
}

export interface SocketModeServer {
  /** `ws://127.0.0.1:<port>` */
  readonly url: string;
  readonly appToken: string;
  readonly appId: string;
  /** Every connection ever opened, oldest first (snapshots). */
  readonly connections: SocketModeConnection[];
  /** Connections currently open, oldest first. */
  openConnections(): SocketModeConnection[];
  /** URLs handed out by apps.connections.open, oldest first. */
  readonly issuedUrls: string[];

  /** Resolve with the `count`-th connection ever opened (default 1) once it is open (hello sent). */
  waitForConnection(opts?: { count?: number; timeoutMs?: number }): Promise<SocketModeConnection>;
  /** Resolve once no connection is open (or the one given is closed). */
  waitForClose(opts?: { connectionId?: string; timeoutMs?: number }): Promise<SocketModeConnection[]>;
  /** Re-evaluate `probe` now and on every socket event until it returns something other than undefined/null/false. */
  waitUntil<T>(
    probe: () => T | undefined | null | false,
    opts?: { timeoutMs?: number; description?: string },
  ): Promise<T>;

  /** Send an envelope and resolve with the client's ack. */
  sendEnvelope(type: EnvelopeType, payload: object, opts?: SendEnvelopeOptions): Promise<SocketModeAck>;
  /** A slash command (e.g. from sign.ts's `slashCommand`) as a `slash_commands` envelope. */
  sendSlashCommand(cmd: SlashCommand | Record<string, string>, opts?: SendEnvelopeOptions): Promise<SocketModeAck>;
  /** `block_actions`, `view_submission`, … (sign.ts builders) as an `interactive` envelope. */
  sendInteraction(payload: object, opts?: SendEnvelopeOptions): Promise<SocketModeAck>;
  /** An Events API body (`event_callback`, e.g. `appHomeOpenedEvent`) or a bare event (wrapped) as `events_api`. */
  sendEvent(event: object, opts?: SendEnvelopeOptions): Promise<SocketModeAck>;

  /** Send `{type:'disconnect', reason}` to one connection (default: all open ones); the client is expected to close. */
  disconnect(reason?: DisconnectReason, opts?: { connectionId?: string }): void;
  /** Destroy every open connection without a close handshake. */
  dropConnections(): void;
  /** Close the server: open connections are closed (1001), pending envelopes rejected. The double is left running. */
  stop(): Promise<void>;
}

interface Ticket {
  id: string;
  appToken: string;
  issuedAt: number;
  used: boolean;
}

interface Pending {
  envelopeId: string;
  connectionId: string;
  sentAt: number;
  resolve: (ack: SocketModeAck) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

class SocketModeServerImpl implements SocketModeServer {
  url = '';
  readonly appToken: string;
  readonly appId: string;
  readonly issuedUrls: string[] = [];

  private readonly appTokens: Set<string>;
  private readonly pingIntervalMs: number;
  private readonly ticketTtlMs: number;
  private readonly host: string;
  private readonly wss = new WebSocket.Server({ noServer: true, clientTracking: false });
  private readonly http: Server;
  private readonly tickets = new Map<string, Ticket>();
  private readonly records: SocketModeConnection[] = [];
  private readonly sockets = new Map<string, WebSocket>();
  private readonly pingTimers = new Map<string, NodeJS.Timeout>();
  private readonly pending = new Map<string, Pending>();
  /** Who started closing a connection, when the server did. */
  private readonly closingBy = new Map<string, 'server'>();
  private readonly waiters = new Set<() => void>();
  private stopped = false;

  constructor(
    private readonly double: SlackDouble,
    opts: SocketModeOptions,
  ) {
    this.appToken = opts.appToken ?? DEFAULT_APP_TOKEN;
    this.appTokens = new Set([this.appToken, ...(opts.appTokens ?? [])]);
    this.appId = double.appId;
    this.pingIntervalMs = opts.pingIntervalMs ?? SOCKET_MODE_PING_INTERVAL_MS;
    this.ticketTtlMs = opts.ticketTtlMs ?? SOCKET_MODE_TICKET_TTL_MS;
    this.host = opts.host ?? 'applink-slack-double';
    this.http = createServer((_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' });
      res.end('Socket Mode: connect with a WebSocket');
    });
    this.http.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.upgrade(req, socket, head));
  }

  async listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, '127.0.0.1', () => resolve());
    });
    this.url = `ws://127.0.0.1:${(this.http.address() as AddressInfo).port}`;
    this.double.addMethod(APPS_CONNECTIONS_OPEN, (_args, { token }) => this.open(token));
  }

  // ----- apps.connections.open -----

  private open(token: string): Record<string, unknown> {
    if (!this.appTokens.has(token))
      return { ok: false, error: token.startsWith('xox') ? 'not_allowed_token_type' : 'invalid_auth' };
    if (this.stopped) return { ok: false, error: 'internal_error' };
    const id = randomBytes(16).toString('hex');
    this.tickets.set(id, { id, appToken: token, issuedAt: Date.now(), used: false });
    const url = `${this.url}/link/?ticket=${id}&app_id=${encodeURIComponent(this.appId)}`;
    this.issuedUrls.push(url);
    return { url };
  }

  // ----- connections -----

  private upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const ticket = this.tickets.get(url.searchParams.get('ticket') ?? '');
    const refuse = (status: number, text: string) => {
      socket.end(`HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    };
    if (this.stopped) return refuse(503, 'Service Unavailable');
    if (url.pathname !== '/link/' && url.pathname !== '/link') return refuse(404, 'Not Found');
    if (!ticket || ticket.used || Date.now() - ticket.issuedAt > this.ticketTtlMs) return refuse(401, 'Unauthorized');
    ticket.used = true;
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, ticket));
  }

  private accept(ws: WebSocket, ticket: Ticket): void {
    const rec: SocketModeConnection = {
      id: `WS${this.records.length + 1}`,
      ticket: ticket.id,
      appToken: ticket.appToken,
      openedAt: Date.now(),
      open: true,
      envelopesSent: 0,
      pingsFromClient: 0,
      pingsToClient: 0,
      pongsFromClient: 0,
      received: [],
    };
    this.records.push(rec);
    this.sockets.set(rec.id, ws);
    ws.on('ping', () => {
      rec.pingsFromClient += 1;
      this.notify();
    });
    ws.on('pong', () => {
      rec.pongsFromClient += 1;
      this.notify();
    });
    ws.on('message', (data) => this.onMessage(rec, data));
    ws.on('error', () => undefined);
    ws.on('close', (code, reason) => {
      rec.open = false;
      rec.closedAt = Date.now();
      rec.closeCode = code;
      rec.closeReason = String(reason);
      rec.closedBy = this.closingBy.get(rec.id) ?? (code === 1006 ? 'network' : 'client');
      this.closingBy.delete(rec.id);
      this.sockets.delete(rec.id);
      clearInterval(this.pingTimers.get(rec.id));
      this.pingTimers.delete(rec.id);
      for (const p of [...this.pending.values()]) {
        if (p.connectionId !== rec.id) continue;
        this.pending.delete(p.envelopeId);
        clearTimeout(p.timer);
        p.reject(
          new Error(`socket mode: connection ${rec.id} closed (${code}) before envelope ${p.envelopeId} was acked`),
        );
      }
      this.notify();
    });
    if (this.pingIntervalMs > 0) {
      const timer = setInterval(() => {
        if (ws.readyState !== WebSocket.OPEN) return;
        rec.pingsToClient += 1;
        ws.ping(Buffer.from(`ping ${Date.now()}`));
      }, this.pingIntervalMs);
      timer.unref();
      this.pingTimers.set(rec.id, timer);
    }
    this.sendFrame(ws, {
      type: 'hello',
      num_connections: this.sockets.size,
      debug_info: { host: this.host, build_number: 1, approximate_connection_time: 18060 },
      connection_info: { app_id: this.appId },
    });
    this.notify();
  }

  private onMessage(rec: SocketModeConnection, data: WebSocket.Data): void {
    const text =
      typeof data === 'string'
        ? data
        : Buffer.isBuffer(data)
          ? data.toString('utf8')
          : Buffer.from(data as ArrayBuffer).toString('utf8');
    let frame: unknown = text;
    try {
      frame = JSON.parse(text);
    } catch {
      /* recorded as text */
    }
    rec.received.push(frame);
    if (isObject(frame) && typeof frame.envelope_id === 'string') {
      const p = this.pending.get(frame.envelope_id);
      if (p) {
        this.pending.delete(p.envelopeId);
        clearTimeout(p.timer);
        p.resolve({
          envelope_id: p.envelopeId,
          ...(isObject(frame.payload) && { payload: frame.payload }),
          elapsedMs: performance.now() - p.sentAt,
          connectionId: rec.id,
        });
      }
    }
    this.notify();
  }

  private sendFrame(ws: WebSocket, frame: object): void {
    ws.send(JSON.stringify(frame));
  }

  get connections(): SocketModeConnection[] {
    return this.records.map((r) => ({ ...r, received: [...r.received] }));
  }

  openConnections(): SocketModeConnection[] {
    return this.connections.filter((c) => c.open);
  }

  // ----- waiting -----

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  waitUntil<T>(
    probe: () => T | undefined | null | false,
    opts: { timeoutMs?: number; description?: string } = {},
  ): Promise<T> {
    const timeoutMs = opts.timeoutMs ?? 5000;
    return waitOnEvents(this.waiters, probe, timeoutMs, () => {
      const state = this.records
        .map((r) => `  ${r.id} ${r.open ? 'open' : `closed ${r.closeCode ?? ''} by ${r.closedBy ?? '?'}`}`)
        .join('\n');
      return new Error(
        `socket mode: timed out after ${timeoutMs} ms waiting for ${opts.description ?? 'condition'}; connections:\n${state || '  (none)'}`,
      );
    });
  }

  waitForConnection(opts: { count?: number; timeoutMs?: number } = {}): Promise<SocketModeConnection> {
    const count = opts.count ?? 1;
    return this.waitUntil(
      () => {
        const r = this.records[count - 1];
        return r?.open ? { ...r, received: [...r.received] } : undefined;
      },
      { timeoutMs: opts.timeoutMs ?? 10_000, description: `Socket Mode connection #${count} to be open` },
    );
  }

  waitForClose(opts: { connectionId?: string; timeoutMs?: number } = {}): Promise<SocketModeConnection[]> {
    return this.waitUntil(
      () => {
        const open = this.records.filter(
          (r) => r.open && (opts.connectionId === undefined || r.id === opts.connectionId),
        );
        return open.length === 0 ? this.connections : undefined;
      },
      {
        timeoutMs: opts.timeoutMs ?? 10_000,
        description: opts.connectionId ? `connection ${opts.connectionId} to close` : 'every connection to close',
      },
    );
  }

  // ----- envelopes -----

  async sendEnvelope(type: EnvelopeType, payload: object, opts: SendEnvelopeOptions = {}): Promise<SocketModeAck> {
    if (this.stopped) throw new Error('socket mode: server stopped');
    const target = await this.waitUntil(
      () => {
        const open = this.records.filter(
          (r) => r.open && (opts.connectionId === undefined || r.id === opts.connectionId),
        );
        return open.at(-1);
      },
      {
        timeoutMs: opts.connectTimeoutMs ?? 5000,
        description: opts.connectionId ? `connection ${opts.connectionId}` : 'an open Socket Mode connection',
      },
    );
    const ws = this.sockets.get(target.id);
    if (!ws) throw new Error(`socket mode: connection ${target.id} is gone`);
    const envelopeId = opts.envelopeId ?? randomUUID();
    const accepts = opts.acceptsResponsePayload ?? defaultAcceptsResponsePayload(type, payload);
    const frame = {
      envelope_id: envelopeId,
      type,
      payload,
      accepts_response_payload: accepts,
      ...(type === 'events_api' && { retry_attempt: opts.retryAttempt ?? 0, retry_reason: opts.retryReason ?? '' }),
    };
    const timeoutMs = opts.timeoutMs ?? SOCKET_MODE_ACK_DEADLINE_MS;
    return new Promise<SocketModeAck>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(envelopeId);
        reject(new Error(`socket mode: no ack for ${type} envelope ${envelopeId} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(envelopeId, {
        envelopeId,
        connectionId: target.id,
        sentAt: performance.now(),
        resolve,
        reject,
        timer,
      });
      target.envelopesSent += 1;
      this.sendFrame(ws, frame);
    });
  }

  sendSlashCommand(cmd: SlashCommand | Record<string, string>, opts: SendEnvelopeOptions = {}): Promise<SocketModeAck> {
    return this.sendEnvelope('slash_commands', cmd, opts);
  }

  sendInteraction(payload: object, opts: SendEnvelopeOptions = {}): Promise<SocketModeAck> {
    return this.sendEnvelope('interactive', payload, opts);
  }

  sendEvent(event: object, opts: SendEnvelopeOptions = {}): Promise<SocketModeAck> {
    const type = (event as { type?: unknown }).type;
    const body = type === 'event_callback' ? event : eventEnvelope(event as { type: string });
    return this.sendEnvelope('events_api', body, opts);
  }

  // ----- server-side disconnects -----

  disconnect(reason: DisconnectReason = 'refresh_requested', opts: { connectionId?: string } = {}): void {
    for (const [id, ws] of this.sockets) {
      if (opts.connectionId !== undefined && id !== opts.connectionId) continue;
      this.sendFrame(ws, { type: 'disconnect', reason, debug_info: { host: this.host } });
    }
  }

  dropConnections(): void {
    for (const [id, ws] of this.sockets) {
      this.closingBy.set(id, 'server');
      ws.terminate();
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.pingTimers.values()) clearInterval(t);
    this.pingTimers.clear();
    const open = [...this.sockets];
    for (const [id, ws] of open) {
      this.closingBy.set(id, 'server');
      ws.close(1001, 'server stopping');
    }
    if (open.length > 0) {
      // Give clients a moment to answer the close frame, then cut whatever is left.
      await this.waitUntil(() => this.sockets.size === 0, { timeoutMs: 1000 }).catch(() => undefined);
      for (const ws of this.sockets.values()) ws.terminate();
    }
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error(`socket mode: server stopped before envelope ${p.envelopeId} was acked`));
    }
    this.pending.clear();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await new Promise<void>((resolve) => {
      this.http.close(() => resolve());
      this.http.closeAllConnections();
    });
  }
}

function defaultAcceptsResponsePayload(type: EnvelopeType, payload: object): boolean {
  if (type === 'slash_commands') return true;
  if (type === 'interactive') {
    const t = (payload as { type?: unknown }).type;
    return t === 'view_submission' || t === 'block_suggestion';
  }
  return false;
}

/**
 * Serve Socket Mode for `double`: registers `apps.connections.open` on it (see the header) and starts the WebSocket
 * server on 127.0.0.1. Stop it with `stop()` (before or after `double.stop()`).
 */
export async function attachSocketMode(double: SlackDouble, opts: SocketModeOptions = {}): Promise<SocketModeServer> {
  const server = new SocketModeServerImpl(double, opts);
  await server.listen(opts.port ?? 0);
  return server;
}
