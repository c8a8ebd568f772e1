/**
 * The terminal API (`db-access request` talks to it; core/terminal-login.ts holds the rules):
 *   POST /terminal/v1/login                      {as, database, level, duration, reason, ticket?} → 202 {loginId, expiresAt}
 *   POST /terminal/v1/verify                     {loginId, code} → 201 {request, token}
 *   GET  /terminal/v1/requests/:id?wait=<s>      Bearer token → {request} (long-poll: answers when it changes)
 *   POST /terminal/v1/requests/:id/credentials   Bearer token → {credentials}: a new password, once per token
 * Off (404) without TERMINAL_TOKEN_SECRET or without a chat platform to send codes through. Answers carry
 * `Cache-Control: no-store`; the credentials travel only in the body of the last answer and are never logged.
 */
import express, { type Request, type Response } from 'express';
import type { CoreDeps } from '../core/deps.js';
import { BrokerError } from '../core/errors.js';
import { revealCredentials } from '../core/grant-changes.js';
import type { AccessRequest, Grant } from '../core/model.js';
import { requireRequestId } from '../core/ids.js';
import {
  authorizeTerminal,
  cleanClient,
  finishTerminalLogin,
  refuseTerminal,
  startTerminalLogin,
  TerminalRefusal,
  type TerminalDeps,
} from '../core/terminal-login.js';
import { phaseOf, type Phase } from '../core/view.js';

/** Longest a status call is held open, and how often the state DB is read meanwhile. */
const MAX_WAIT_S = 25;
const POLL_MS = 500;
/** Phases that still move on their own: a status call waits on them. */
const MOVING: ReadonlySet<Phase> = new Set(['pending', 'provisioning']);

const BROKER_STATUS: Record<BrokerError['code'], number> = {
  INVALID_INPUT: 400,
  UNKNOWN_DATABASE: 400,
  UNKNOWN_LEVEL: 400,
  DURATION_TOO_LONG: 400,
  NOT_FOUND: 404,
  ALREADY_DECIDED: 409,
  FORBIDDEN: 403,
  SELF_APPROVAL: 403,
  RATE_LIMITED: 429,
  TARGET_ERROR: 502,
};

function client(req: Request) {
  return cleanClient(req.ip ?? req.socket.remoteAddress, req.get('user-agent'));
}

function bearer(req: Request): string {
  return /^Bearer (\S+)$/.exec(req.get('authorization') ?? '')?.[1] ?? '';
}

function text(body: unknown, field: string, max: number, required = true): string | undefined {
  const v = (body as Record<string, unknown> | undefined)?.[field];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || v.length === 0 || v.length > max)
    throw new BrokerError('INVALID_INPUT', `${field} is required (text, at most ${max} characters)`, { field });
  return v;
}

/** Sends a refusal or a core error as JSON; anything else goes to the app's error handler (500, logged). */
function fail(res: Response, next: (err: unknown) => void, err: unknown): void {
  if (err instanceof TerminalRefusal) {
    res.status(err.status).json({ error: err.message });
    return;
  }
  if (err instanceof BrokerError && err.code !== 'TARGET_ERROR') {
    res.status(BROKER_STATUS[err.code]).json({
      error: err.message,
      code: err.code,
      ...(err.details.field && { field: err.details.field }),
      ...(err.details.valid && { valid: err.details.valid }),
    });
    return;
  }
  next(err);
}

async function grantOf(core: CoreDeps, r: AccessRequest): Promise<Grant | undefined> {
  return r.extendsGrantId !== undefined ? core.store.getGrant(r.extendsGrantId) : core.store.getGrantByRequest(r.id);
}

/** What the terminal is told about its request: stable keys (the CLI's --json output is built from them). */
async function summary(core: CoreDeps, r: AccessRequest) {
  const grant = await grantOf(core, r);
  return {
    id: r.id,
    database: r.database,
    level: r.level,
    durationMs: r.durationMs,
    status: r.status,
    phase: phaseOf(r, grant),
    decisionNote: r.decisionNote ?? null,
    extendsGrantId: r.extendsGrantId ?? null,
    grant: grant ? { id: grant.id, status: grant.status, username: grant.username, expiresAt: grant.expiresAt } : null,
  };
}

export function mountTerminalApi(app: express.Express, deps: TerminalDeps | undefined): void {
  const json = express.json({ limit: '16kb' });
  app.use('/terminal/v1', (_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    if (!deps) {
      res
        .status(404)
        .json({ error: 'the terminal API is off: set TERMINAL_TOKEN_SECRET (and connect Slack or Teams)' });
      return;
    }
    next();
  });
  if (!deps) return;
  const core = deps.core;

  app.post('/terminal/v1/login', json, async (req, res, next) => {
    try {
      const b: unknown = req.body;
      const as = text(b, 'as', 254)!;
      const ticket = text(b, 'ticket', 200, false);
      const input = {
        database: text(b, 'database', 100)!,
        level: text(b, 'level', 100)!,
        duration: text(b, 'duration', 20)!,
        reason: text(b, 'reason', 2000)!,
        ...(ticket !== undefined && { ticket }),
      };
      res.status(202).json(await startTerminalLogin(deps, as, input, client(req)));
    } catch (err) {
      fail(res, next, err);
    }
  });

  app.post('/terminal/v1/verify', json, async (req, res, next) => {
    try {
      const loginId = text(req.body, 'loginId', 64)!;
      const code = text(req.body, 'code', 20)!;
      const { request, token } = await finishTerminalLogin(deps, loginId, code, client(req));
      res.status(201).json({ request: await summary(core, request), token });
    } catch (err) {
      fail(res, next, err);
    }
  });

  app.get('/terminal/v1/requests/:id', async (req, res, next) => {
    try {
      const id = requireRequestId(req.params.id);
      const { request } = await authorizeTerminal(deps, bearer(req), id, 'status', client(req));
      const waitS = Math.min(MAX_WAIT_S, Math.max(0, Number(req.query.wait) || 0));
      const until = Date.now() + waitS * 1_000;
      let closed = false;
      res.on('close', () => (closed = true));
      let current = await summary(core, request);
      const seen = typeof req.query.phase === 'string' ? req.query.phase : current.phase;
      while (!closed && Date.now() < until && MOVING.has(current.phase as Phase) && current.phase === seen) {
        await new Promise((r) => setTimeout(r, POLL_MS));
        const again = await core.store.getRequest(id);
        if (again) current = await summary(core, again);
      }
      if (!closed) res.json({ request: current });
    } catch (err) {
      fail(res, next, err);
    }
  });

  app.post('/terminal/v1/requests/:id/credentials', async (req, res, next) => {
    try {
      const id = requireRequestId(req.params.id);
      const who = client(req);
      const { request, tokenId, expiresAt } = await authorizeTerminal(deps, bearer(req), id, 'credentials', who);
      const grant = await grantOf(core, request);
      if (!grant || grant.status !== 'active')
        throw new BrokerError(
          'ALREADY_DECIDED',
          `request #${id} has no active grant (it is ${phaseOf(request, grant)})`,
        );
      if (!(await deps.logins.once(`reveal:${tokenId}`, Math.max(1, expiresAt - core.clock.now()))))
        await refuseTerminal(deps, {
          actor: request.requester,
          requestId: id,
          action: 'credentials',
          why: 'these credentials were already handed out to this terminal; use Show credentials in chat for new ones',
          status: 403,
          client: who,
        });
      const { credentials } = await revealCredentials(core, grant.id, request.requester);
      res.json({ credentials });
    } catch (err) {
      fail(res, next, err);
    }
  });
}
