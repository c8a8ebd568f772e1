/**
 * Terminal sign-in rules (core/terminal-login.ts) on real Redis (pending logins, rate limits) and the in-memory core:
 * codes single-use under races, the attempt limit, unknown people answered like known ones, per-person limits,
 * tokens bound to a person, a request and a deadline; and the code's DM keeping the caller's text inert.
 */
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { parseCatalog } from '../../src/config/catalog.js';
import type { DatabaseEntry } from '../../src/core/catalog.js';
import type { Actor } from '../../src/core/model.js';
import {
  authorizeTerminal,
  cleanClient,
  finishTerminalLogin,
  signToken,
  startTerminalLogin,
  TerminalRefusal,
  type LoginCodeMessage,
  type TerminalChat,
  type TerminalDeps,
} from '../../src/core/terminal-login.js';
import { RedisLoginStore } from '../../src/jobs/terminal-logins.js';
import { RedisRateLimiter } from '../../src/jobs/rate-limit.js';
import { terminalCodeDm } from '../../src/chat/slack/blocks/terminal-code.js';
import { memoryCore, type MemoryCore } from '../../dev/fakes/core-deps.js';
import { recordingNotifier } from '../support/notifiers.js';
import { sharedRedisUrl, uniquePrefix } from '../support/redis.js';

const SECRET = 'a-terminal-secret-for-tests-0123456789';
const databases: DatabaseEntry[] = [
  ...parseCatalog(
    `databases:
  - name: orders
    engine: postgres
    host: 127.0.0.1
    database: orders
    admin: { user: jit_admin, password: x }
    levels: { read: { roles: [orders_read] } }
    maxDuration: 2h
    approval: { timeout: 30m, approvers: [{ email: bob@example.com }] }
`,
    {},
  ).databases.values(),
];
const alice: Actor = { platform: 'slack', id: 'UALICE', email: 'alice@example.com', name: 'alice' };
const carol: Actor = { platform: 'slack', id: 'UCAROL', email: 'carol@example.com', name: 'carol' };
const input = { database: 'orders', level: 'read', duration: '1h', reason: 'INC-7' };
const client = cleanClient('203.0.113.9', 'db-access-cli (alice@laptop)');

/** A chat with alice and carol in it that keeps every code it was asked to send. */
function recordingChat(): TerminalChat & { sent: Array<{ to: Actor; m: LoginCodeMessage }> } {
  const people = new Map([
    ['alice@example.com', alice],
    ['carol@example.com', carol],
  ]);
  const sent: Array<{ to: Actor; m: LoginCodeMessage }> = [];
  return {
    sent,
    resolve: async (as) => people.get(as),
    sendCode: async (to, m) => {
      sent.push({ to, m });
      return true;
    },
  };
}

describe('terminal sign-in', () => {
  const redis = new Redis(sharedRedisUrl);
  let core: MemoryCore;
  let chat: ReturnType<typeof recordingChat>;
  let deps: TerminalDeps;
  let prefix: string;

  beforeEach(() => {
    core = memoryCore(databases, { notifier: recordingNotifier(), engine: { roles: { orders_read: ['select'] } } });
    chat = recordingChat();
    prefix = uniquePrefix('terminal-login');
    deps = {
      core: core.deps,
      chat,
      logins: new RedisLoginStore(redis, prefix),
      secret: SECRET,
      perPerson: new RedisRateLimiter(redis, prefix, { capacity: 5, refillMs: 120_000 }, core.deps.logger),
      perAddress: new RedisRateLimiter(redis, prefix, { capacity: 1000, refillMs: 10 }, core.deps.logger),
    };
  });

  afterAll(() => redis.disconnect());

  async function started(as = 'alice@example.com') {
    const { loginId } = await startTerminalLogin(deps, as, input, client);
    return { loginId, code: chat.sent.at(-1)!.m.code };
  }

  const refusal = async (p: Promise<unknown>): Promise<TerminalRefusal> => {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TerminalRefusal);
    return err as TerminalRefusal;
  };

  it('refuses a bundle before anything is sent: the terminal waits for one grant', async () => {
    const kit = {
      name: 'kit',
      members: [{ database: 'orders', level: 'read' }],
      maxDuration: 3_600_000,
      approval: { required: 1, timeoutMs: 60_000, approvers: [{ email: 'bob@example.com' }], escalation: [] },
    };
    const withBundle = {
      ...deps,
      core: { ...deps.core, catalog: { ...deps.core.catalog, bundles: new Map([['kit', kit]]) } },
    };
    const err = await startTerminalLogin(
      withBundle,
      'alice@example.com',
      { ...input, database: 'kit', level: '' },
      client,
    ).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(/kit is a bundle: ask for it in Slack or Teams/);
    expect(chat.sent).toEqual([]);
  });

  it('sends a 6-digit code to the person, keeps only its HMAC for 5 minutes, and audits it', async () => {
    const { loginId, code } = await started();
    expect(code).toMatch(/^\d{6}$/);
    expect(chat.sent[0]!.to).toEqual(alice);
    expect(chat.sent[0]!.m).toMatchObject({ database: 'orders', level: 'read', duration: '1h', client });
    const key = `${prefix}:terminal:login:${loginId}`;
    const stored = await redis.hget(key, 'login');
    expect(stored).not.toContain(`"${code}"`);
    expect(JSON.parse(stored!)).not.toHaveProperty('code');
    expect(await redis.pttl(key)).toBeGreaterThan(290_000);
    expect(await redis.pttl(key)).toBeLessThanOrEqual(300_000);
    const audit = await core.store.listAudit({ type: 'terminal.login' });
    expect(audit.map((e) => [e.actor.id, e.detail.outcome, e.detail.clientAddress])).toEqual([
      ['UALICE', 'code_sent', '203.0.113.9'],
    ]);
  });

  it('ten uses of the right code at once file exactly one request', async () => {
    const { loginId, code } = await started();
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, () => finishTerminalLogin(deps, loginId, code, client)),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results.filter((x) => x.status === 'rejected')) {
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(TerminalRefusal);
    }
    expect(await core.store.listRequests({})).toHaveLength(1);
    expect((await core.store.listRequests({}))[0]!.requester).toEqual(alice);
  });

  it('four wrong codes leave one try; five use the login up, and the right code after them is refused', async () => {
    const first = await started();
    const wrong = (c: string) => (c === '000000' ? '111111' : '000000');
    for (let left = 4; left >= 1; left--) {
      const r = await refusal(finishTerminalLogin(deps, first.loginId, wrong(first.code), client));
      expect(r.message).toBe(`wrong code; ${left} attempt(s) left`);
    }
    expect((await finishTerminalLogin(deps, first.loginId, first.code, client)).request.status).toBe('pending');

    const second = await started();
    for (let i = 0; i < 5; i++) await refusal(finishTerminalLogin(deps, second.loginId, wrong(second.code), client));
    const late = await refusal(finishTerminalLogin(deps, second.loginId, second.code, client));
    expect(late.status).toBe(401);
    expect(await core.store.listRequests({})).toHaveLength(1);
    const failed = (await core.store.listAudit({ type: 'terminal.login' })).filter(
      (e) => e.detail.outcome === 'failed',
    );
    expect(failed).toHaveLength(4 + 5 + 1);
  });

  it('someone unknown gets the answer a known person gets, no message goes out, and it is audited', async () => {
    const known = await startTerminalLogin(deps, 'alice@example.com', input, client);
    const unknown = await startTerminalLogin(deps, 'nobody@example.com', input, client);
    expect(Object.keys(unknown).sort()).toEqual(Object.keys(known).sort());
    expect(chat.sent).toHaveLength(1);
    const failed = (await core.store.listAudit({ type: 'terminal.login' })).filter(
      (e) => e.detail.outcome === 'failed',
    );
    expect(failed.map((e) => e.actor.id)).toEqual(['terminal:203.0.113.9']);
    const r = await refusal(finishTerminalLogin(deps, unknown.loginId, '123456', client));
    expect(r.message).toMatch(/expired or was already used/);
  });

  it('codes are limited per person: the sixth in a row is refused (429) and nobody is messaged', async () => {
    for (let i = 0; i < 5; i++) await started();
    const r = await refusal(startTerminalLogin(deps, 'alice@example.com', input, client));
    expect(r.status).toBe(429);
    expect(chat.sent).toHaveLength(5);
    await started('carol@example.com'); // another person is not held up
    expect(chat.sent).toHaveLength(6);
  });

  it('a token opens only its own request, only until it expires, and only as signed; each refusal is audited', async () => {
    const a = await started();
    const { request, token } = await finishTerminalLogin(deps, a.loginId, a.code, client);
    const c = await started('carol@example.com');
    const other = (await finishTerminalLogin(deps, c.loginId, c.code, client)).request;
    expect((await authorizeTerminal(deps, token, request.id, 'status', client)).request.id).toBe(request.id);

    expect((await refusal(authorizeTerminal(deps, token, other.id, 'status', client))).status).toBe(403);
    const [, body] = token.split('.');
    const claims = JSON.parse(Buffer.from(body!, 'base64url').toString()) as Record<string, unknown>;
    const swapped = `dat1.${Buffer.from(JSON.stringify({ ...claims, r: other.id })).toString('base64url')}.${token.split('.')[2]}`;
    expect((await refusal(authorizeTerminal(deps, swapped, other.id, 'status', client))).message).toBe(
      'the token signature is wrong',
    );
    // Signed here, but for carol's request in alice's name: not the requester.
    const misbound = signToken(SECRET, { person: alice, requestId: other.id, expiresAt: core.clock.now() + 60_000 });
    expect((await refusal(authorizeTerminal(deps, misbound, other.id, 'credentials', client))).status).toBe(403);
    core.clock.advance(31 * 60_000 + 10 * 60_000);
    expect((await refusal(authorizeTerminal(deps, token, request.id, 'status', client))).message).toBe(
      'the token has expired',
    );
    const refused = await core.store.listAudit({ type: 'access.refused' });
    expect(refused.map((e) => e.detail.action)).toEqual([
      'terminal status',
      'terminal status',
      'terminal credentials',
      'terminal status',
    ]);
    expect(refused.every((e) => e.detail.via === 'terminal' && e.detail.clientAddress === '203.0.113.9')).toBe(true);
    expect((await core.store.getRequest(other.id))!.status).toBe('pending');
  });

  it("the DM shows the caller's address and agent as inert text", () => {
    const hostile = cleanClient('198.51.100.7', 'curl <!channel> <https://evil|click> \u202Ehidden\u0007');
    const dm = terminalCodeDm({
      code: '042137',
      database: 'orders',
      level: 'read',
      duration: '1h',
      client: hostile,
      expiresAt: Date.UTC(2031, 0, 2, 3, 5),
    });
    const all = JSON.stringify(dm);
    expect(all).toContain('042137');
    expect(all).toContain('198.51.100.7');
    expect(all).not.toContain('<!channel>');
    expect(all).not.toContain('<https://evil');
    expect(all).not.toContain('\u202E');
    expect(all).not.toContain('\u0007');
  });
});
