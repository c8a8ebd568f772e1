/**
 * The Slack double's transport: the HTTP server on 127.0.0.1 that parses Web API calls and response_url POSTs,
 * authenticates them, applies injected faults and latency, dispatches to the method families, records every call and
 * wakes the waits. The state and the queries tests use live in {@link SlackState}.
 */
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitOnEvents } from '../wait-on-events.js';
import { authMethods } from './auth.js';
import { chatMethods } from './chat.js';
import { RESPONSE_URL_METHOD } from './constants.js';
import { directoryMethods } from './directory.js';
import { answerResponseUrl } from './response-url.js';
import { SlackState, type SlackMethods } from './state.js';
import type {
  SlackCall,
  SlackDouble,
  SlackDoubleOptions,
  SlackFault,
  SlackMethodHandler,
  WaitOptions,
} from './types.js';
import { viewsMethods } from './views.js';
import { ApiError, isObject, JSON_ARGS, str, type ApiResult, type Json } from './validate.js';

class SlackDoubleImpl extends SlackState implements SlackDouble {
  url = '';
  readonly calls: SlackCall[] = [];

  private server?: Server;
  private readonly handlers: SlackMethods;
  private readonly faults = new Map<string, SlackFault[]>();
  private readonly latency = new Map<string, number>();
  private readonly waiters = new Set<() => void>();
  private readonly pendingTimers = new Set<NodeJS.Timeout>();
  private readonly addedMethods = new Map<string, SlackMethodHandler>();

  constructor(opts: SlackDoubleOptions) {
    super(opts);
    this.handlers = { ...authMethods(this), ...chatMethods(this), ...directoryMethods(this), ...viewsMethods(this) };
    for (const [m, ms] of Object.entries(opts.latencyMs ?? {})) this.setLatency(m, ms);
  }

  async listen(port: number): Promise<void> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`slack double crashed: ${err instanceof Error ? err.stack : String(err)}`);
        }
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    const { port: actual } = server.address() as AddressInfo;
    this.baseUrl = `http://127.0.0.1:${actual}`;
    this.url = `${this.baseUrl}/api/`;
  }

  async stop(): Promise<void> {
    for (const t of this.pendingTimers) clearTimeout(t);
    this.pendingTimers.clear();
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  // ----- request plumbing -----

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', this.baseUrl || 'http://127.0.0.1');

    const respondMatch = /^\/respond\/([^/]+)$/.exec(url.pathname);
    if (respondMatch && req.method === 'POST') {
      await this.handleResponseUrl(decodeURIComponent(respondMatch[1]!), raw, res);
      return;
    }
    const apiMatch = /^\/api\/([A-Za-z0-9_.]+)$/.exec(url.pathname);
    if (!apiMatch || (req.method !== 'POST' && req.method !== 'GET')) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    const method = apiMatch[1]!;
    const args = this.parseArgs(req, raw, url);
    const bodyToken = str(args.token);
    delete args.token;
    const auth = req.headers.authorization;
    const token = auth?.startsWith('Bearer ') ? auth.slice('Bearer '.length).trim() : bodyToken;

    const fault = this.takeFault(method);
    await this.delay(method);
    if (fault) {
      this.answerFault(method, args, fault, res, { ...(token !== undefined && { token }) });
      return;
    }

    let result: ApiResult;
    const handler = this.handlers[method];
    const added = this.addedMethods.get(method);
    if (added) result = token ? { ok: true, ...added(args, { token }) } : { ok: false, error: 'not_authed' };
    else if (!handler) result = { ok: false, error: 'unknown_method' };
    else if (!token) result = { ok: false, error: 'not_authed' };
    else if (!this.tokens.has(token)) result = { ok: false, error: 'invalid_auth' };
    else {
      try {
        result = { ok: true, ...handler(args) };
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        result = {
          ok: false,
          error: err.code,
          ...err.extra,
          ...(err.messages.length > 0 && { response_metadata: { messages: err.messages } }),
        };
      }
    }
    this.send(res, 200, result);
    this.record({
      method,
      args,
      at: Date.now(),
      status: 200,
      ok: result.ok,
      ...(result.error !== undefined && { error: result.error }),
      response: result,
      ...(token !== undefined && { token }),
    });
  }

  private parseArgs(req: IncomingMessage, raw: string, url: URL): Json {
    const args: Json = {};
    for (const [k, v] of url.searchParams) args[k] = v;
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type === 'application/json' && raw.trim() !== '') {
      try {
        const parsed: unknown = JSON.parse(raw);
        if (isObject(parsed)) Object.assign(args, parsed);
      } catch {
        /* Slack answers invalid_json; we just see no args */
      }
    } else if (raw !== '') {
      for (const [k, v] of new URLSearchParams(raw)) args[k] = v;
    }
    for (const key of JSON_ARGS) {
      const v = args[key];
      if (typeof v === 'string' && v.trim() !== '') {
        try {
          args[key] = JSON.parse(v);
        } catch {
          /* leave the string: validators answer invalid_blocks_format / invalid_arguments */
        }
      }
    }
    return args;
  }

  private send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, {
      'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8',
      ...headers,
    });
    res.end(text);
  }

  private takeFault(method: string): SlackFault | undefined {
    for (const key of [method, '*']) {
      const queue = this.faults.get(key);
      if (queue && queue.length > 0) return queue.shift();
    }
    return undefined;
  }

  private async delay(method: string): Promise<void> {
    const ms = this.latency.get(method) ?? this.latency.get('*') ?? 0;
    if (ms <= 0) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.pendingTimers.delete(t);
        resolve();
      }, ms);
      this.pendingTimers.add(t);
    });
  }

  private answerFault(
    method: string,
    args: Json,
    fault: SlackFault,
    res: ServerResponse,
    extra: Partial<SlackCall>,
  ): void {
    let status = 200;
    let body: unknown;
    let error: string;
    const headers: Record<string, string> = {};
    if ('error' in fault) {
      body = { ok: false, error: fault.error, ...fault.response };
      error = fault.error;
    } else if (fault.status === 429) {
      status = 429;
      headers['retry-after'] = String(fault.retryAfterSeconds ?? 1);
      body = { ok: false, error: 'ratelimited' };
      error = 'ratelimited';
    } else {
      status = fault.status;
      body = fault.body ?? STATUS_CODES[fault.status] ?? 'error';
      error = `http_${fault.status}`;
    }
    this.send(res, status, body, headers);
    this.record({ method, args, at: Date.now(), status, ok: false, error, response: body, injected: true, ...extra });
  }

  private record(call: SlackCall): void {
    this.calls.push(call);
    for (const w of [...this.waiters]) w();
  }

  private async handleResponseUrl(id: string, raw: string, res: ServerResponse): Promise<void> {
    let args: Json = {};
    let parseFailed = false;
    try {
      const parsed: unknown = JSON.parse(raw);
      if (isObject(parsed)) args = parsed;
      else parseFailed = true;
    } catch {
      parseFailed = true;
    }
    const fault = this.takeFault(RESPONSE_URL_METHOD);
    await this.delay(RESPONSE_URL_METHOD);
    if (fault) {
      this.answerFault(RESPONSE_URL_METHOD, args, fault, res, { responseUrlId: id });
      return;
    }
    const { status, body } = answerResponseUrl(this, id, args, parseFailed);
    this.send(res, status, body);
    this.record({
      method: RESPONSE_URL_METHOD,
      args,
      at: Date.now(),
      status,
      ok: body.ok,
      ...(body.error !== undefined && { error: body.error }),
      response: body,
      responseUrlId: id,
    });
  }

  // ----- calls, waits, faults -----

  callsTo(method: string): SlackCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  waitFor(predicate: (call: SlackCall) => boolean, opts: WaitOptions = {}): Promise<SlackCall> {
    const from = opts.fromIndex ?? 0;
    let scanned = from;
    return this.waitUntil(
      () => {
        for (; scanned < this.calls.length; scanned++) {
          const c = this.calls[scanned]!;
          if (predicate(c)) return c;
        }
        return undefined;
      },
      { ...(opts.timeoutMs !== undefined && { timeoutMs: opts.timeoutMs }), description: 'a matching Slack call' },
    );
  }

  waitForCall(
    method: string,
    predicate: (call: SlackCall) => boolean = () => true,
    opts: WaitOptions = {},
  ): Promise<SlackCall> {
    return this.waitFor((c) => c.method === method && predicate(c), opts).catch((err: unknown) => {
      throw new Error(
        String(err instanceof Error ? err.message : err).replace('a matching Slack call', `a matching ${method} call`),
      );
    });
  }

  waitUntil<T>(
    probe: () => T | undefined | null | false,
    opts: { timeoutMs?: number; description?: string } = {},
  ): Promise<T> {
    const timeoutMs = opts.timeoutMs ?? 5000;
    return waitOnEvents(this.waiters, probe, timeoutMs, () => {
      const recent = this.calls
        .slice(-10)
        .map((c) => `  ${c.method} → ${c.status} ${c.ok ? 'ok' : (c.error ?? 'error')}`)
        .join('\n');
      return new Error(
        `slack double: timed out after ${timeoutMs} ms waiting for ${opts.description ?? 'condition'}; last calls:\n${recent || '  (none)'}`,
      );
    });
  }

  failNext(method: string, fault: SlackFault, opts: { times?: number } = {}): void {
    const queue = this.faults.get(method) ?? [];
    for (let i = 0; i < (opts.times ?? 1); i++) queue.push(fault);
    this.faults.set(method, queue);
  }

  setLatency(method: string, ms: number): void {
    if (ms > 0) this.latency.set(method, ms);
    else this.latency.delete(method);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  addMethod(method: string, fn: SlackMethodHandler): void {
    this.addedMethods.set(method, fn);
  }

  reset(): void {
    this.calls.length = 0;
    this.clearState();
    this.faults.clear();
    this.latency.clear();
  }
}

/** Start a Slack Web API double on 127.0.0.1 (ephemeral port by default). Call `stop()` when done. */
export async function startSlackDouble(opts: SlackDoubleOptions = {}): Promise<SlackDouble> {
  const double = new SlackDoubleImpl(opts);
  await double.listen(opts.port ?? 0);
  return double;
}
