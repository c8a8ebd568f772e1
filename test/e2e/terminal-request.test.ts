/**
 * `db-access request` end to end: the real CLI process against the broker's HTTP server, the Slack double carrying
 * the one-time code as a DM (read there, typed into the CLI's stdin), approval by a signed Slack click, and the
 * printed credentials logging in to a real PostgreSQL with password auth. Then everything an attacker would try:
 * wrong, expired, replayed and over-tried codes, forged and misused tokens, a second take of the credentials.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { APPROVE, DENY } from '../../src/chat/slack/ids.js';
import type { AuditEvent } from '../../src/core/model.js';
import { signToken } from '../../src/core/terminal-login.js';
import { journeyEnv, startBroker, type TestBroker } from '../support/broker.js';
import { startCliSession, type CliSession } from '../support/processes.js';
import { writeCatalog } from '../support/catalog.js';
import { setupPgTarget, startScramCluster, type PgCluster, type PgTarget } from '../support/pg-cluster.js';
import { sharedRedisUrl } from '../support/redis.js';
import { buttonsIn, startSlackDouble, type SlackDouble } from '../../dev/slack/double.js';
import { blockActionsPayload, postInteraction, viewSubmissionPayload } from '../../dev/slack/sign.js';
import { waitFor } from '../support/wait.js';
import { rid } from '../support/ids.js';

const SECRET = 'test-signing-secret-0123456789abcdef';
const TERMINAL_SECRET = 'terminal-secret-0123456789abcdef-0123456789';
const CHANNEL = 'C0APPROVALS';
const BOB = 'U0BOB';
/** One Slack person per case: per-person limits (codes, pending requests) do not carry from one case to the next. */
const PEOPLE = ['ALICE', 'CAROL', 'DAVE', 'ERIN', 'FRANK', 'GRACE', 'HEIDI', 'IVAN', 'JUDY', 'KARL', 'LIAM'];
const id = (name: string) => `U0${name}`;
const email = (name: string) => `${name.toLowerCase()}@example.com`;
const CODE = /Your code: (\d{6}) /;
/** How long a CLI process may take to start and get somewhere (tsx compiling on a busy machine). */
const CLI_WAIT_MS = 60_000;
const CASE_MS = 180_000;

describe('db-access request (terminal)', () => {
  let cluster: PgCluster;
  let target: PgTarget;
  let slack: SlackDouble;
  let broker: TestBroker;
  let env: Record<string, string>;
  let redis: Redis;
  let db: string;

  const store = () => broker.app.deps.store;
  const text = (m: Parameters<SlackDouble['renderText']>[0]) => slack.renderText(m);

  /** The newest code DM `name` got after `before` DMs. */
  async function codeFor(name: string, before: number): Promise<{ code: string; dm: string }> {
    const dm = await slack.waitUntil(
      () =>
        slack
          .dmOf(id(name))
          .slice(before)
          .find((m) => CODE.test(text(m))),
      { timeoutMs: 10_000 },
    );
    return { code: CODE.exec(text(dm))![1]!, dm: text(dm) };
  }

  /** Runs `db-access request` as `name`; `code()` waits for the code DM this run caused. */
  function cli(name: string, args: string[], extra: string[] = []): CliSession & { code: () => Promise<string> } {
    const before = slack.dmOf(id(name)).length;
    const session = startCliSession(
      ['request', ...args, '--as', email(name), '--broker', broker.baseUrl, ...extra],
      // The CLI needs no settings but the broker's URL; it must not read the broker's.
      { DATABASE_URL: 'sqlite::memory:' },
      CASE_MS,
    );
    return { ...session, code: async () => (await codeFor(name, before)).code };
  }

  async function api(path: string, init: { body?: unknown; token?: string; method?: string } = {}) {
    const res = await fetch(`${broker.baseUrl}${path}`, {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers: {
        'content-type': 'application/json',
        'user-agent': 'attacker-script/1.0',
        ...(init.token && { authorization: `Bearer ${init.token}` }),
      },
      ...(init.body !== undefined && { body: JSON.stringify(init.body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  /** Starts a login over HTTP as `name`; returns its id and the code from the DM. */
  async function loginOverHttp(name: string, database = db): Promise<{ loginId: string; code: string }> {
    const before = slack.dmOf(id(name)).length;
    const res = await api('/terminal/v1/login', {
      body: { as: email(name), database, level: 'read', duration: '30m', reason: 'over http' },
    });
    expect(res.status).toBe(202);
    const { code } = await codeFor(name, before);
    return { loginId: String(res.body.loginId), code };
  }

  async function approvalFor(requestId: number) {
    return slack.waitUntil(
      () =>
        slack
          .messagesIn(CHANNEL)
          .find((m) => buttonsIn(m).some((b) => b.actionId === APPROVE && b.value === String(requestId))),
      { timeoutMs: 10_000 },
    );
  }

  async function click(userId: string, actionId: string, requestId: number) {
    const message = await approvalFor(requestId);
    const triggerId = slack.issueTriggerId({ userId });
    return postInteraction(
      broker.baseUrl,
      SECRET,
      blockActionsPayload({ userId, actionId, value: String(requestId), channelId: CHANNEL, message, triggerId }),
    );
  }

  async function filedRequestId(session: CliSession): Promise<number> {
    const m = await waitFor(
      'the CLI to say its request was filed',
      () => /Request #(\d+) filed/.exec(session.stderr()),
      {
        timeoutMs: CLI_WAIT_MS,
      },
    );
    return Number(m[1]);
  }

  const audits = async (type: string): Promise<AuditEvent[]> => store().listAudit({ type });

  beforeAll(async () => {
    cluster = await startScramCluster();
    target = await setupPgTarget(cluster);
    db = target.entry.name;
    slack = await startSlackDouble();
    slack.addUser({ id: BOB, email: 'bob@example.com', name: 'bob' });
    for (const p of PEOPLE) slack.addUser({ id: id(p), email: email(p), name: p.toLowerCase() });
    slack.addUser({ id: 'U0GONE', email: 'gone@example.com', name: 'gone', deleted: true });
    slack.addUser({ id: 'U0ABOT', email: 'bot@example.com', name: 'a-bot', is_bot: true });
    slack.addChannel(CHANNEL, { name: 'db-approvals', members: [BOB, ...PEOPLE.map(id)] });
    const approval = { slackChannel: CHANNEL, approvers: [{ email: 'bob@example.com' }], required: 1, timeout: '30m' };
    const catalog = writeCatalog([target.entry, { ...target.entry, name: `${db}-quick` }], {
      perEntry: (d) => ({ approval: d.name === db ? approval : { ...approval, timeout: '2s' } }),
    });
    env = {
      ...journeyEnv(catalog, 'terminal'),
      SLACK_BOT_TOKEN: slack.botToken,
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_API_URL: slack.url,
      TERMINAL_TOKEN_SECRET: TERMINAL_SECRET,
    };
    broker = await startBroker(env);
    redis = new Redis(sharedRedisUrl);
  }, 120_000);

  afterAll(async () => {
    redis?.disconnect();
    await broker?.stop();
    await slack?.stop();
    await cluster?.stop();
  }, CASE_MS);

  it(
    'the code arrives as a DM naming where the attempt came from; typed in, the request is filed, approved in Slack, and the printed credentials log in',
    async () => {
      const session = cli('ALICE', [db, 'read', '30m', 'checking', 'stuck', 'orders']);
      const { code, dm } = await codeFor('ALICE', 0);
      expect(dm).toContain(`signing in to db-access from a terminal as you, to request read on ${db} for 30m`);
      expect(dm).toContain('127.0.0.1');
      expect(dm).toMatch(/db-access-cli \(.+; linux; node /);
      // Redis holds the login, never the code: only its HMAC, and only for five minutes.
      const keys = await redis.keys(`${env.QUEUE_PREFIX}:terminal:login:*`);
      expect(keys).toHaveLength(1);
      const login = JSON.parse((await redis.hget(keys[0]!, 'login'))!) as Record<string, unknown>;
      expect(Object.keys(login).sort()).toEqual(['client', 'codeHash', 'input', 'person']);
      expect(login.codeHash).not.toContain(code);
      expect(await redis.pttl(keys[0]!)).toBeGreaterThan(280_000);
      expect(await redis.pttl(keys[0]!)).toBeLessThanOrEqual(300_000);

      session.type(code);
      const requestId = await filedRequestId(session);
      expect(await redis.exists(keys[0]!)).toBe(0); // used: gone
      const request = (await store().getRequest(rid(requestId)))!;
      expect(request).toMatchObject({
        status: 'pending',
        database: db,
        level: 'read',
        reason: 'checking stuck orders',
      });
      expect(request.requester).toMatchObject({ platform: 'slack', id: id('ALICE'), email: email('ALICE') });
      // The same approval message chat requests get; the requester cannot approve it, bob can.
      const message = await approvalFor(requestId);
      expect(text(message)).toContain('checking stuck orders');
      expect(session.stdout()).toBe('');
      await click(BOB, APPROVE, requestId);

      const result = await session.done;
      expect(result.code, result.stderr).toBe(0);
      const password = /^ {2}password +(\S+)$/m.exec(result.stdout)?.[1];
      const username = /^ {2}user +(\S+)$/m.exec(result.stdout)?.[1];
      expect(password).toMatch(/^[A-Za-z0-9]{32}$/);
      const grant = (await store().getGrantByRequest(rid(requestId)))!;
      expect(username).toBe(grant.username);
      const pgSession = await target.connectAs(username!, password!);
      expect((await pgSession.query('SELECT count(*) FROM items')).length).toBe(1);
      await pgSession.close();
      // The printed psql line works as printed (its password in the environment, not in psql's arguments).
      const psqlLine = /^ {2}psql +(.+)$/m.exec(result.stdout)![1]!;
      expect(psqlLine).toMatch(/^PGPASSWORD='[A-Za-z0-9]{32}' psql '/);
      // Typed into a shell on stdin, as a person pastes it: the password is in no process's argument list.
      const who = execFileSync('bash', [], { input: `${psqlLine} -tAc 'select current_user'\n`, encoding: 'utf8' });
      expect(who.trim()).toBe(grant.username);

      // Audited: the code sent, the login, the request as alice, the credentials issued to alice.
      const logins = (await audits('terminal.login')).filter((e) => e.actor.id === id('ALICE'));
      expect(logins.map((e) => e.detail.outcome)).toEqual(['code_sent', 'ok']);
      expect(logins[1]!.detail).toMatchObject({ clientAddress: expect.stringContaining('127.0.0.1') });
      const issued = (await audits('grant.credentials_issued')).filter((e) => e.grantId === grant.id);
      expect(issued.map((e) => e.actor.id)).toEqual([id('ALICE')]);
      // The password is nowhere but the CLI's stdout: not in Slack, not in Redis, not in the state DB, not in logs.
      expect(JSON.stringify(slack.calls)).not.toContain(password);
      for (const key of await redis.keys(`${env.QUEUE_PREFIX}:*`)) {
        const type = await redis.type(key);
        const dump =
          type === 'hash' ? JSON.stringify(await redis.hgetall(key)) : type === 'string' ? await redis.get(key) : '';
        expect(dump ?? '').not.toContain(password);
      }
      expect(JSON.stringify(await store().listAudit({}))).not.toContain(password);
      expect(broker.logs.join('\n')).not.toContain(password);
      expect(result.stderr).not.toContain(password);
    },
    CASE_MS,
  );

  it(
    '--json: one object on stdout with stable keys; messages on stderr',
    async () => {
      const session = cli('CAROL', [db, 'read', '20m', 'json', 'please'], ['--json']);
      session.type(await session.code());
      const requestId = await filedRequestId(session);
      await click(BOB, APPROVE, requestId);
      const result = await session.done;
      expect(result.code, result.stderr).toBe(0);
      const out = JSON.parse(result.stdout) as Record<string, any>;
      expect(result.stdout.trim().split('\n')).toHaveLength(1);
      expect(Object.keys(out).sort()).toEqual(['credentials', 'error', 'outcome', 'request']);
      expect(out.outcome).toBe('granted');
      expect(out.error).toBeNull();
      expect(Object.keys(out.request).sort()).toEqual(
        ['database', 'decisionNote', 'durationMs', 'extendsGrantId', 'grant', 'id', 'level', 'phase', 'status'].sort(),
      );
      expect(out.request).toMatchObject({
        id: requestId,
        database: db,
        level: 'read',
        status: 'approved',
        phase: 'active',
      });
      expect(Object.keys(out.credentials).sort()).toEqual(
        ['command', 'database', 'engine', 'expiresAt', 'host', 'password', 'port', 'url', 'username'].sort(),
      );
      const pgSession = await target.connectAs(out.credentials.username, out.credentials.password);
      await pgSession.close();
      expect(result.stderr).toMatch(/Request #\d+ filed/);
    },
    CASE_MS,
  );

  it(
    'denied → exit 3, expired (nobody decided in time) → exit 4, each with its outcome in --json',
    async () => {
      const denied = cli('DAVE', [db, 'write', '1h', 'want', 'write'], ['--json']);
      denied.type(await denied.code());
      const requestId = await filedRequestId(denied);
      await click(BOB, DENY, requestId);
      const modal = await slack.waitForCall(
        'views.open',
        (c) => (c.args.view as { callback_id?: string }).callback_id === 'db_access_deny',
        { timeoutMs: 5_000 },
      );
      const view = {
        ...(modal.args.view as object),
        id: String((modal.response as { view?: { id?: string } }).view?.id),
      };
      await postInteraction(
        broker.baseUrl,
        SECRET,
        viewSubmissionPayload({
          userId: BOB,
          view: view as never,
          values: { reason: { reason_input: 'use the replica' } },
        }),
      );
      const d = await denied.done;
      expect(d.code, d.stderr).toBe(3);
      expect(JSON.parse(d.stdout)).toMatchObject({
        outcome: 'denied',
        credentials: null,
        request: { phase: 'denied' },
      });

      const expired = cli('DAVE', [`${db}-quick`, 'read', '10m', 'nobody', 'answers']);
      expired.type(await expired.code());
      const e = await expired.done;
      expect(e.code, e.stderr).toBe(4);
      expect(e.stdout).toBe('');
      expect(e.stderr).toMatch(/is expired/);
    },
    CASE_MS,
  );

  it(
    'a wrong code: refused with the attempts left, audited, nothing filed',
    async () => {
      const requestsBefore = (await store().listRequests({})).length;
      const session = cli('ERIN', [db, 'read', '10m', 'typo']);
      const { code } = await codeFor('ERIN', 0);
      session.type(code === '123456' ? '654321' : '123456');
      const result = await session.done;
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/error: wrong code; 4 attempt\(s\) left/);
      expect((await store().listRequests({})).length).toBe(requestsBefore);
      const failed = (await audits('terminal.login')).filter((e) => e.actor.id === id('ERIN'));
      expect(failed.map((e) => [e.detail.outcome, e.detail.reason ?? null])).toEqual([
        ['code_sent', null],
        ['failed', 'wrong code'],
      ]);
    },
    CASE_MS,
  );

  it(
    'an expired code, a replayed code and a sixth try are refused; only the one right use files a request',
    async () => {
      // Expired: Redis ends the login when its five minutes are up (made to happen now).
      const stale = await loginOverHttp('FRANK');
      await redis.pexpire(`${env.QUEUE_PREFIX}:terminal:login:${stale.loginId}`, 1);
      await waitFor(
        'the login to expire',
        async () => (await redis.exists(`${env.QUEUE_PREFIX}:terminal:login:${stale.loginId}`)) === 0,
      );
      const late = await api('/terminal/v1/verify', { body: stale });
      expect(late.status).toBe(401);
      expect(late.body.error).toMatch(/expired or was already used/);

      // Replayed: the right code twice (and twice at once) files exactly one request.
      const before = (await store().listRequests({ requestedBy: { platform: 'slack', id: id('FRANK') } })).length;
      const fresh = await loginOverHttp('FRANK');
      const [a, b] = await Promise.all([
        api('/terminal/v1/verify', { body: fresh }),
        api('/terminal/v1/verify', { body: fresh }),
      ]);
      expect([a.status, b.status].sort()).toEqual([201, 401]);
      const again = await api('/terminal/v1/verify', { body: fresh });
      expect(again.status).toBe(401);
      const after = await store().listRequests({ requestedBy: { platform: 'slack', id: id('FRANK') } });
      expect(after.length).toBe(before + 1);

      // Over-tried: five wrong codes use the login up; the right one after them is refused.
      const tried = await loginOverHttp('GRACE');
      const wrong = tried.code === '000000' ? '111111' : '000000';
      for (let i = 1; i <= 5; i++) {
        const r = await api('/terminal/v1/verify', { body: { loginId: tried.loginId, code: wrong } });
        expect(r.status).toBe(401);
      }
      const right = await api('/terminal/v1/verify', { body: tried });
      expect(right.status).toBe(401);
      expect((await store().listRequests({ requestedBy: { platform: 'slack', id: id('GRACE') } })).length).toBe(0);
    },
    CASE_MS,
  );

  it(
    'a forged token, a token of another request, and a second take of the credentials are refused, audited, and change nothing',
    async () => {
      const mine = await loginOverHttp('HEIDI');
      const verified = await api('/terminal/v1/verify', { body: mine });
      expect(verified.status).toBe(201);
      const token = String(verified.body.token);
      const requestId = (verified.body.request as { id: number }).id;
      expect((await api(`/terminal/v1/requests/${requestId}`, { token })).status).toBe(200);

      // Someone else's request, filed from a terminal too.
      const theirs = await loginOverHttp('IVAN');
      const other = await api('/terminal/v1/verify', { body: theirs });
      const otherId = (other.body.request as { id: number }).id;

      const refusedBefore = (await audits('access.refused')).length;
      // 1. My valid token on their request.
      const cross = await api(`/terminal/v1/requests/${otherId}`, { token });
      expect(cross.status).toBe(403);
      expect(cross.body.error).toBe(`this token is not for request #${otherId}`);
      // 2. My token with its claims edited to their request (the signature no longer fits).
      const [, body, sig] = token.split('.');
      const claims = JSON.parse(Buffer.from(body!, 'base64url').toString()) as Record<string, unknown>;
      const edited = Buffer.from(JSON.stringify({ ...claims, r: otherId })).toString('base64url');
      const forged = await api(`/terminal/v1/requests/${otherId}`, { token: `dat1.${edited}.${sig}` });
      expect(forged.status).toBe(401);
      expect(forged.body.error).toBe('the token signature is wrong');
      // 3. A well-formed token for their request, signed with another key.
      const foreign = signToken('not-the-broker-secret-0123456789abcdef', {
        person: { platform: 'slack', id: id('IVAN') },
        requestId: rid(otherId),
        expiresAt: Date.now() + 60_000,
      });
      expect(
        (await api(`/terminal/v1/requests/${otherId}/credentials`, { method: 'POST', token: foreign })).status,
      ).toBe(401);
      // 4. An expired token, properly signed.
      const old = signToken(TERMINAL_SECRET, {
        person: { platform: 'slack', id: id('HEIDI') },
        requestId: rid(requestId),
        expiresAt: Date.now() - 1,
      });
      const expiredToken = await api(`/terminal/v1/requests/${requestId}`, { token: old });
      expect(expiredToken.status).toBe(401);
      expect(expiredToken.body.error).toBe('the token has expired');
      // 5. No token.
      expect((await api(`/terminal/v1/requests/${requestId}`)).status).toBe(401);
      const refused = (await audits('access.refused')).slice(refusedBefore);
      expect(refused.map((e) => e.detail.action)).toEqual([
        'terminal status',
        'terminal status',
        'terminal credentials',
        'terminal status',
        'terminal status',
      ]);
      expect(refused[0]!.actor.id).toBe(id('HEIDI'));
      expect((await store().getRequest(rid(otherId)))!.status).toBe('pending');

      // Approved: the credentials once per token; a second take is refused and sets no new password.
      await click(BOB, APPROVE, requestId);
      await waitFor(
        'the grant to be active',
        async () => (await store().getGrantByRequest(rid(requestId)))?.status === 'active',
      );
      const first = await api(`/terminal/v1/requests/${requestId}/credentials`, { method: 'POST', token });
      expect(first.status).toBe(200);
      const creds = first.body.credentials as { username: string; password: string };
      const second = await api(`/terminal/v1/requests/${requestId}/credentials`, { method: 'POST', token });
      expect(second.status).toBe(403);
      expect(second.body).not.toHaveProperty('credentials');
      const pgSession = await target.connectAs(creds.username, creds.password); // still the password handed out
      await pgSession.close();
      const grant = (await store().getGrantByRequest(rid(requestId)))!;
      expect((await audits('grant.credentials_issued')).filter((e) => e.grantId === grant.id)).toHaveLength(1);
    },
    CASE_MS,
  );

  it(
    'the catalog rules and their sentences apply: an unknown database is refused after sign-in, naming the valid ones',
    async () => {
      const session = cli('JUDY', ['nope', 'read', '1h', 'typo']);
      session.type(await session.code());
      const result = await session.done;
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`error: unknown database "nope". Valid: ${db}, ${db}-quick.`);
      const tooLong = cli('JUDY', [db, 'read', '2h', 'long'], ['--json']);
      tooLong.type(await tooLong.code());
      const r = await tooLong.done;
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stdout)).toMatchObject({ outcome: 'error', request: null, credentials: null });
      expect(JSON.parse(r.stdout).error).toMatch(/^duration 2h is longer than .*'s maximum of 1h\.$/);
    },
    CASE_MS,
  );

  it(
    'Ctrl-C stops waiting and leaves the request as it is',
    async () => {
      const session = cli('KARL', [db, 'read', '10m', 'then', 'interrupted']);
      session.type(await session.code());
      const requestId = await filedRequestId(session);
      session.child.kill('SIGINT');
      const result = await session.done;
      expect(result.code).toBe(130);
      expect(result.stderr).toContain(`Request #${requestId} is left as it is (pending)`);
      expect((await store().getRequest(rid(requestId)))!.status).toBe('pending');
    },
    CASE_MS,
  );

  it(
    'sign-in codes are rate-limited per person',
    async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) {
        const r = await api('/terminal/v1/login', {
          body: { as: email('LIAM'), database: db, level: 'read', duration: '5m', reason: 'flood' },
        });
        statuses.push(r.status);
      }
      expect(statuses).toEqual([202, 202, 202, 202, 202, 429]);
      expect(slack.dmOf(id('LIAM')).filter((m) => CODE.test(text(m)))).toHaveLength(5);
      // Someone unknown, deactivated or a bot gets the same answer as someone known, and no message goes anywhere.
      const dmsBefore = slack.callsTo('chat.postMessage').length;
      for (const as of ['nobody@example.com', 'gone@example.com', 'bot@example.com', 'slack:U0GONE']) {
        const r = await api('/terminal/v1/login', {
          body: { as, database: db, level: 'read', duration: '5m', reason: 'probe' },
        });
        expect(r.status).toBe(202);
        expect(Object.keys(r.body).sort()).toEqual(['expiresAt', 'loginId']);
      }
      expect(slack.callsTo('chat.postMessage').length).toBe(dmsBefore);
    },
    CASE_MS,
  );
});
