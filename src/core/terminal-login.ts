/**
 * Requests from a terminal: the person proves who they are with a one-time code the broker sends them in chat, and
 * only then is the request filed as them, by the same use case chat uses (requestAccess). After that the terminal
 * holds a short-lived token, signed by the broker, that names the person and that one request: enough to follow
 * the request and to take its credentials once (by the same reveal as Show credentials), nothing else.
 *
 * Codes: 6 random digits, alive 5 minutes, one use, at most 5 tries, kept only as an HMAC (keyed by the broker's
 * secret, so a copy of Redis cannot be searched for them), compared in constant time. Logins are rate-limited per
 * person and per client address; every outcome is audited (`terminal.login`).
 */
import { createHmac, randomInt } from 'node:crypto';
import { sameBytes } from './constant-time.js';
import { requestAccess, type RequestInput } from './asking.js';
import type { CoreDeps } from './deps.js';
import { formatDuration } from './duration.js';
import { BrokerError } from './errors.js';
import { randomToken } from './identifiers.js';
import type { AccessRequest, Actor, RequestId } from './model.js';
import { sameActor } from './policy.js';
import type { RateLimiter } from './ports.js';
import { cleanLine } from './text.js';

export const CODE_TTL_MS = 5 * 60_000;
export const CODE_MAX_ATTEMPTS = 5;
export const CODE_DIGITS = 6;
/** A token outlives the request's approval deadline by this much (time to take the credentials). */
export const TOKEN_GRACE_MS = 10 * 60_000;
/** Longest user agent kept and shown (it is the caller's text). */
const MAX_AGENT = 200;

/** Where a terminal call came from: shown in the code's DM so a phished person can tell, and audited. */
export interface TerminalClient {
  address: string;
  userAgent: string;
}

/** What the person is told in chat with their code. Every field but `code` is cleaned, one line. */
export interface LoginCodeMessage {
  code: string;
  database: string;
  level: string;
  duration: string;
  client: TerminalClient;
  expiresAt: number;
}

/** The chat side: who `as` names, and a DM to them. Implemented per platform (Slack, Teams). */
export interface TerminalChat {
  /** An email, `slack:U…` or `teams:<AAD object id>` → the person as chat knows them; undefined when nobody. */
  resolve(as: string): Promise<Actor | undefined>;
  /** Sends the code as a direct message; false when the person could not be reached. */
  sendCode(person: Actor, message: LoginCodeMessage): Promise<boolean>;
}

/** A login waiting for its code. Nothing in it is a secret but `codeHash`, which is an HMAC. */
export interface PendingLogin {
  person: Actor;
  input: RequestInput;
  codeHash: string;
  client: TerminalClient;
}

/** Where pending logins live (Redis): each expires on its own, and is consumed by exactly one caller. */
export interface LoginStore {
  save(loginId: string, login: PendingLogin, ttlMs: number): Promise<void>;
  /** Counts one try, atomically. The login while it is live and this try is within `maxAttempts`; 'locked' once
   *  tries went over (every later try too, until the login expires); undefined when there is no such login
   *  (expired, used, never). */
  attempt(
    loginId: string,
    maxAttempts: number,
  ): Promise<{ login: PendingLogin; attempts: number } | 'locked' | undefined>;
  /** Deletes the login; true for exactly one caller. */
  consume(loginId: string): Promise<boolean>;
  /** First caller with `key` gets true (for `ttlMs`); every later one false. */
  once(key: string, ttlMs: number): Promise<boolean>;
}

export interface TerminalDeps {
  core: CoreDeps;
  chat: TerminalChat;
  logins: LoginStore;
  /** HMAC key of codes and tokens (TERMINAL_TOKEN_SECRET). */
  secret: string;
  /** Logins started per person, and terminal calls per client address. */
  perPerson: RateLimiter;
  perAddress: RateLimiter;
}

/** A refusal of the terminal API: an HTTP status and the sentence the person reads. Audited where it is thrown. */
export class TerminalRefusal extends Error {
  constructor(
    readonly status: 401 | 403 | 404 | 429,
    message: string,
  ) {
    super(message);
  }
}

export function cleanClient(address: string | undefined, userAgent: string | undefined): TerminalClient {
  return {
    address:
      cleanLine(address ?? 'unknown')
        .trim()
        .slice(0, 64) || 'unknown',
    userAgent:
      cleanLine(userAgent ?? '')
        .trim()
        .slice(0, MAX_AGENT) || 'unknown',
  };
}

function hmac(secret: string, purpose: string, text: string): Buffer {
  return createHmac('sha256', secret).update(`${purpose}\n${text}`).digest();
}

function codeHash(secret: string, loginId: string, code: string): string {
  return hmac(secret, 'terminal-code', `${loginId}:${code}`).toString('base64url');
}

/** Who a refused anonymous call is in the audit log: the address it came from. */
function caller(client: TerminalClient): Actor {
  return { platform: 'cli', id: `terminal:${client.address}`, name: `terminal at ${client.address}` };
}

async function audit(
  deps: TerminalDeps,
  actor: Actor,
  outcome: 'code_sent' | 'ok' | 'failed',
  client: TerminalClient,
  extra: Record<string, unknown> = {},
  requestId?: RequestId,
): Promise<void> {
  try {
    await deps.core.store.appendAudit([
      {
        at: deps.core.clock.now(),
        type: 'terminal.login',
        actor,
        ...(requestId !== undefined && { requestId }),
        detail: { outcome, clientAddress: client.address, userAgent: client.userAgent, ...extra },
      },
    ]);
  } catch (err) {
    deps.core.logger.error(
      { err: err instanceof Error ? err.message : String(err) },
      'could not audit a terminal login',
    );
  }
}

async function limit(limiter: RateLimiter, key: string, what: string): Promise<void> {
  const { allowed, retryAfterMs } = await limiter.take(key);
  if (!allowed)
    throw new TerminalRefusal(429, `too many ${what}; try again in ${formatDuration(Math.max(1_000, retryAfterMs))}`);
}

/**
 * Step 1: sends the person named by `as` a code for this request. Answers the same whether or not `as` names
 * anyone (the caller learns nothing about who exists); an unknown person is audited as a failed login.
 */
export async function startTerminalLogin(
  deps: TerminalDeps,
  as: string,
  input: RequestInput,
  client: TerminalClient,
): Promise<{ loginId: string; expiresAt: number }> {
  // The terminal waits for one grant and prints its credentials: a bundle (one grant per member) is asked in chat.
  if (deps.core.catalog.bundles?.has(input.database))
    throw new BrokerError(
      'INVALID_INPUT',
      `${input.database} is a bundle: ask for it in Slack or Teams (the terminal asks for one database)`,
      { field: 'database' },
    );
  await limit(deps.perAddress, `terminal-address:${client.address}`, 'sign-in attempts from this address');
  const loginId = randomToken(18);
  const expiresAt = deps.core.clock.now() + CODE_TTL_MS;
  const person = await deps.chat.resolve(as.trim());
  if (!person) {
    await audit(deps, caller(client), 'failed', client, {
      reason: 'nobody in chat answers to that name',
      as: cleanLine(as).slice(0, 200),
    });
    return { loginId, expiresAt };
  }
  try {
    await limit(deps.perPerson, `terminal-person:${person.platform}:${person.id}`, 'sign-in codes for this person');
  } catch (err) {
    await audit(deps, person, 'failed', client, { reason: 'rate limited' });
    throw err;
  }
  const code = String(randomInt(10 ** CODE_DIGITS)).padStart(CODE_DIGITS, '0');
  await deps.logins.save(
    loginId,
    { person, input, codeHash: codeHash(deps.secret, loginId, code), client },
    CODE_TTL_MS,
  );
  const one = (s: string | number) => cleanLine(String(s)).trim().slice(0, 100);
  const sent = await deps.chat
    .sendCode(person, {
      code,
      database: one(input.database),
      level: one(input.level),
      duration: one(input.duration),
      client,
      expiresAt,
    })
    .catch((err: unknown) => {
      deps.core.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'terminal: code DM failed');
      return false;
    });
  if (!sent) {
    await deps.logins.consume(loginId);
    await audit(deps, person, 'failed', client, { reason: 'the code could not be sent' });
    return { loginId, expiresAt };
  }
  await audit(deps, person, 'code_sent', client, { loginExpiresAt: expiresAt });
  return { loginId, expiresAt };
}

/**
 * Step 2: the code typed in the terminal. Right → the login is consumed (one use) and the request is filed as the
 * person through requestAccess, with every rule chat applies; a refusal of the request comes back as the
 * BrokerError chat would explain. Wrong, expired, used or locked → TerminalRefusal, audited, nothing filed.
 */
export async function finishTerminalLogin(
  deps: TerminalDeps,
  loginId: string,
  code: string,
  client: TerminalClient,
): Promise<{ request: AccessRequest; token: string }> {
  await limit(deps.perAddress, `terminal-address:${client.address}`, 'sign-in attempts from this address');
  const id = /^[A-Za-z0-9_-]{1,64}$/.test(loginId) ? loginId : '';
  const found = id ? await deps.logins.attempt(id, CODE_MAX_ATTEMPTS) : undefined;
  if (found === undefined) {
    await audit(deps, caller(client), 'failed', client, { reason: 'no such login: expired, already used, or never' });
    throw new TerminalRefusal(401, 'this code has expired or was already used; run the command again for a new one');
  }
  if (found === 'locked') {
    await audit(deps, caller(client), 'failed', client, { reason: 'too many wrong codes' });
    throw new TerminalRefusal(401, `too many wrong codes; run the command again for a new one`);
  }
  const { login, attempts } = found;
  const given = Buffer.from(codeHash(deps.secret, id, code.trim()));
  const stored = Buffer.from(login.codeHash);
  if (!sameBytes(given, stored)) {
    const left = CODE_MAX_ATTEMPTS - attempts;
    await audit(deps, login.person, 'failed', client, { reason: 'wrong code', attempts });
    throw new TerminalRefusal(
      401,
      left > 0
        ? `wrong code; ${left} attempt(s) left`
        : 'wrong code, and that was the last attempt; run the command again',
    );
  }
  // Two callers with the right code: only the one that deletes it goes on (a replay gets nothing).
  if (!(await deps.logins.consume(id))) {
    await audit(deps, login.person, 'failed', client, { reason: 'code already used' });
    throw new TerminalRefusal(401, 'this code has expired or was already used; run the command again for a new one');
  }
  await audit(deps, login.person, 'ok', client);
  const request = await requestAccess(deps.core, login.person, login.input);
  const expires = Math.max(request.decideBy ?? 0, deps.core.clock.now()) + TOKEN_GRACE_MS;
  return {
    request,
    token: signToken(deps.secret, { person: login.person, requestId: request.id, expiresAt: expires }),
  };
}

interface TokenClaims {
  p: Actor['platform'];
  i: string;
  r: number;
  e: number;
  /** Token id: what "take the credentials once" is counted on. */
  j: string;
}

export function signToken(
  secret: string,
  t: { person: Pick<Actor, 'platform' | 'id'>; requestId: RequestId; expiresAt: number },
): string {
  const claims: TokenClaims = {
    p: t.person.platform,
    i: t.person.id,
    r: t.requestId,
    e: t.expiresAt,
    j: randomToken(12),
  };
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `dat1.${body}.${hmac(secret, 'terminal-token', body).toString('base64url')}`;
}

/** The claims of a token this broker signed, or a sentence saying why not. */
function readToken(secret: string, token: string, now: number): TokenClaims | string {
  const m = /^dat1\.([A-Za-z0-9_-]{1,2000})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!m) return 'not a terminal token';
  const expected = hmac(secret, 'terminal-token', m[1]!);
  const given = Buffer.from(m[2]!, 'base64url');
  if (!sameBytes(given, expected)) return 'the token signature is wrong';
  let claims: TokenClaims;
  try {
    claims = JSON.parse(Buffer.from(m[1]!, 'base64url').toString('utf8')) as TokenClaims;
  } catch {
    return 'not a terminal token';
  }
  if (typeof claims.e !== 'number' || claims.e <= now) return 'the token has expired';
  return claims;
}

/**
 * A terminal call about request `requestId` with `token`: the request when the token was signed here, is live, and
 * names this person and this request; otherwise a TerminalRefusal (audited as access.refused, nothing changes).
 */
export async function authorizeTerminal(
  deps: TerminalDeps,
  token: string,
  requestId: RequestId,
  action: 'status' | 'credentials',
  client: TerminalClient,
): Promise<{ request: AccessRequest; tokenId: string; expiresAt: number }> {
  const claims = readToken(deps.secret, token, deps.core.clock.now());
  const refuse = (actor: Actor, why: string, status: 401 | 403) =>
    refuseTerminal(deps, { actor, requestId, action, why, status, client });
  if (typeof claims === 'string') return refuse(caller(client), claims, 401);
  const request = await deps.core.store.getRequest(requestId);
  const person: Actor = { platform: claims.p, id: String(claims.i) };
  if (claims.r !== requestId || !request || !sameActor(person, request.requester))
    return refuse(person, `this token is not for request #${requestId}`, 403);
  return { request, tokenId: String(claims.j), expiresAt: claims.e };
}

/** Audits a refused terminal call (access.refused, via terminal) and throws its TerminalRefusal. Nothing else moves. */
export async function refuseTerminal(
  deps: TerminalDeps,
  r: { actor: Actor; requestId: RequestId; action: string; why: string; status: 401 | 403; client: TerminalClient },
): Promise<never> {
  await deps.core.store
    .appendAudit([
      {
        at: deps.core.clock.now(),
        type: 'access.refused',
        actor: r.actor,
        requestId: r.requestId,
        detail: {
          action: `terminal ${r.action}`,
          code: 'FORBIDDEN',
          reason: r.why,
          via: 'terminal',
          clientAddress: r.client.address,
          userAgent: r.client.userAgent,
        },
      },
    ])
    .catch((err: unknown) =>
      deps.core.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'could not audit a refusal'),
    );
  throw new TerminalRefusal(r.status, r.why);
}
