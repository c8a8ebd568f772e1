/**
 * `db-access request <db> <level> <duration> <reason…>`: asks for access from a shell, through the broker's HTTP
 * server (never its databases). The broker sends the person a one-time code in chat; typed here, it files the
 * request as them. Then this waits for the decision and, on approval, prints credentials set at that moment.
 *
 * stdout holds only the result (human text, or one JSON object with --json); everything else goes to stderr.
 * Exit codes: 0 granted, 1 error or refusal, 3 denied, 4 expired (nobody decided in time, or it ended first),
 * 130 stopped with Ctrl-C (the request is left as it is).
 */
import { hostname, userInfo } from 'node:os';
import { createInterface } from 'node:readline';
import type { Credentials } from '../core/credentials.js';
import type { GrantId } from '../core/model.js';
import { formatCredentials } from './format.js';

export const EXIT = { granted: 0, error: 1, denied: 3, expired: 4, interrupted: 130 } as const;
export type Outcome = keyof typeof EXIT;

export interface RequestCliOptions {
  as?: string;
  broker?: string;
  ticket?: string;
  json?: boolean;
}

export interface RequestCliIo {
  out: (text: string) => void;
  err: (text: string) => void;
  /** The first line typed (the code); undefined at end of input. */
  readLine: () => Promise<string | undefined>;
  onInterrupt: (fn: () => void) => void;
  /** Default broker URL (DB_ACCESS_URL). */
  brokerUrl?: string;
}

/** What the broker says about a request (http/terminal-api.ts `summary`). */
interface RequestSummary {
  id: number;
  database: string;
  level: string;
  durationMs: number;
  status: string;
  phase: string;
  decisionNote: string | null;
  extendsGrantId: number | null;
  grant: { id: number; status: string; username: string; expiresAt: number } | null;
}

class CliFailure extends Error {}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
const POLL_WAIT_S = 20;

function brokerBase(url: string | undefined): URL {
  if (!url) throw new CliFailure('no broker: pass --broker https://… or set DB_ACCESS_URL');
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new CliFailure(`--broker: "${url}" is not a URL`);
  }
  // The code, the token and the credentials cross this connection: plain HTTP only to this machine.
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && LOOPBACK.has(u.hostname)))
    throw new CliFailure(`--broker: use https:// (plain http is accepted only for this machine), not ${u.origin}`);
  return u;
}

function userAgent(): string {
  let who = 'unknown';
  try {
    who = `${userInfo().username}@${hostname()}`;
  } catch {
    // no user name (a container without an /etc/passwd entry): the agent says less
  }
  return `db-access-cli (${who}; ${process.platform}; node ${process.versions.node})`;
}

async function call<T>(base: URL, path: string, init: { method?: string; body?: unknown; token?: string }): Promise<T> {
  let res: Response;
  try {
    res = await fetch(new URL(path, base), {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers: {
        'user-agent': userAgent(),
        accept: 'application/json',
        ...(init.body !== undefined && { 'content-type': 'application/json' }),
        ...(init.token && { authorization: `Bearer ${init.token}` }),
      },
      ...(init.body !== undefined && { body: JSON.stringify(init.body) }),
      signal: AbortSignal.timeout((POLL_WAIT_S + 15) * 1_000),
    });
  } catch (err) {
    throw new CliFailure(
      `the broker at ${base.origin} could not be reached: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  const body = (await res.json().catch(() => ({}))) as { error?: string; valid?: string[] } & T;
  if (!res.ok) {
    const valid = body.valid?.length ? ` Valid: ${body.valid.join(', ')}.` : '';
    const said = body.error ?? `the broker answered HTTP ${res.status}`;
    throw new CliFailure(`${said}${/[.!?]$/.test(said) ? '' : '.'}${valid}`);
  }
  return body;
}

function outcomeOf(phase: string): Outcome | undefined {
  switch (phase) {
    case 'pending':
    case 'provisioning':
      return undefined;
    case 'active':
      return 'granted';
    case 'denied':
      return 'denied';
    case 'failed':
      return 'error';
    default:
      // expired, cancelled; or ended / revoking before this terminal took the credentials
      return 'expired';
  }
}

export async function requestCommand(
  io: RequestCliIo,
  args: { db: string; level: string; duration: string; reason: string },
  o: RequestCliOptions,
): Promise<number> {
  let request: RequestSummary | null = null;
  let finished = false;
  const finish = (outcome: Outcome, credentials: Credentials | null, error: string | null): number => {
    finished = true;
    if (o.json) io.out(JSON.stringify({ outcome, request, credentials, error }));
    if (error) io.err(`error: ${error}`);
    return EXIT[outcome];
  };
  io.onInterrupt(() => {
    if (finished) return;
    io.err(
      request
        ? `\nStopped waiting. Request #${request.id} is left as it is (${request.phase}): it is still decided in chat, where Show credentials gives its credentials once approved.`
        : '\nStopped. No request was filed.',
    );
    process.exit(finish('interrupted', null, null));
  });
  try {
    if (!o.as) throw new CliFailure('--as: who you are in chat: your email, slack:U… or teams:<AAD object id>');
    const base = brokerBase(o.broker ?? io.brokerUrl);
    const login = await call<{ loginId: string; expiresAt: number }>(base, 'terminal/v1/login', {
      body: {
        as: o.as,
        database: args.db,
        level: args.level,
        duration: args.duration,
        reason: args.reason,
        ...(o.ticket && { ticket: o.ticket }),
      },
    });
    io.err(
      `A one-time code was sent to ${o.as} as a direct message from db-access in chat (valid 5 minutes, one use).\n` +
        'It names the address and program asking: type it only if that is you here. Code:',
    );
    const code = (await io.readLine())?.trim();
    if (!code) throw new CliFailure('no code was typed');
    const verified = await call<{ request: RequestSummary; token: string }>(base, 'terminal/v1/verify', {
      body: { loginId: login.loginId, code },
    });
    request = verified.request;
    const what = request.extendsGrantId !== null ? `Extension request #${request.id}` : `Request #${request.id}`;
    io.err(
      `${what} filed: ${request.level} on ${request.database}. Waiting for a decision in chat ` +
        '(Ctrl-C stops waiting and leaves the request as it is).',
    );
    for (;;) {
      const outcome = outcomeOf(request.phase);
      if (outcome === 'granted') break;
      if (outcome !== undefined) {
        const note = request.decisionNote ? `: ${request.decisionNote}` : '';
        io.err(`${what} is ${request.phase}${note}.`);
        return finish(outcome, null, outcome === 'error' ? `provisioning failed${note}` : null);
      }
      const path: string = `terminal/v1/requests/${request.id}?wait=${POLL_WAIT_S}&phase=${encodeURIComponent(request.phase)}`;
      request = (await call<{ request: RequestSummary }>(base, path, { token: verified.token })).request;
    }
    if (request.decisionNote) io.err(`Approved: ${request.decisionNote}.`);
    const { credentials } = await call<{ credentials: Credentials }>(
      base,
      `terminal/v1/requests/${request.id}/credentials`,
      { method: 'POST', token: verified.token },
    );
    if (!o.json) {
      const grant = {
        id: (request.grant?.id ?? 0) as GrantId,
        level: request.level,
        database: request.database,
        requester: { id: o.as },
      };
      io.out(formatCredentials(grant, credentials, Date.now()));
    }
    return finish('granted', credentials, null);
  } catch (err) {
    if (!(err instanceof CliFailure)) throw err;
    return finish('error', null, err.message);
  }
}

/** The first line of stdin (the code). With a terminal attached the prompt is on stderr and the line is echoed. */
export function readFirstLine(): Promise<string | undefined> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, terminal: false });
    let done = false;
    rl.once('line', (line) => {
      done = true;
      rl.close();
      // Nothing more is read: a stdin left open (a pipe) would keep the process from ever exiting.
      process.stdin.destroy();
      resolve(line);
    });
    rl.once('close', () => {
      if (!done) resolve(undefined);
    });
  });
}
