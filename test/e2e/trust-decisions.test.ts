/**
 * Rules that hold at the moment of decision, through the real entry points: Slack (signed HTTP through Bolt) and
 * Teams (Activities through botbuilder) on two web replicas that share one state store and one Redis, with no
 * worker anywhere (so no sweeper runs: what is refused is refused by the click itself). Once on SQLite, once on
 * PostgreSQL as the state store.
 *
 * - One person, one approval: the same email approving from Slack and from Teams counts once; the requester cannot
 *   approve their own request from the other platform.
 * - Limits bite when access is given: live grants per person and "one grant per level" are re-checked in the
 *   approval transaction (also when two approvals race on two replicas); pending requests are capped per person.
 * - A burst of commands from one person is rate-limited across replicas.
 * - An approval deadline is enforced at the click.
 * Every refusal: the person is told why, an `access.refused` audit event, and nothing else changes.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCatalog } from '../../src/config/catalog.js';
import { loadSettings } from '../../src/config/settings.js';
import { APPROVE, DENY } from '../../src/chat/slack/ids.js';
import type { DatabaseEntry } from '../../src/core/catalog.js';
import type { AuditEvent, RequestId } from '../../src/core/model.js';
import type { StateStore } from '../../src/core/ports.js';
import { buttonsIn, RESPONSE_URL_METHOD, startSlackDouble, type SlackDouble } from '../../dev/slack/double.js';
import { blockActionsPayload, postInteraction, postSlashCommand, slashCommand } from '../../dev/slack/sign.js';
import { actionActivity, postActivity } from '../../dev/teams/activities.js';
import {
  startTeamsConnectorDouble,
  type TeamsConnectorDouble,
  type TeamsUser,
  teamsUser,
} from '../../dev/teams/connector-double.js';
import { startServices, type Services } from '../../src/app.js';
import { migrateLatest } from '../../src/store/index.js';
import { tempSqliteUrl, writeCatalog } from '../support/catalog.js';
import { capturingLogger } from '../support/logs.js';
import { capturedOutput } from '../support/processes.js';
import { sharedRedisUrl, uniquePrefix } from '../support/redis.js';
import { waitFor } from '../support/wait.js';
import { rid } from '../support/ids.js';

const SECRET = 'trust-signing-secret-0123456789';
const CHANNEL = 'C0APPROVALS';
const INCIDENT = 'C0INCIDENT';
const TEAMS_CHANNEL = '19:db-approvals@thread.tacv2';

/** One requester per case: each person's requests are rate-limited (five at once). */
const SLACK = {
  ALICE: 'U0ALICE',
  BOB: 'U0BOB',
  CAROL: 'U0CAROL',
  ERIN: 'U0ERIN',
  FRED: 'U0FRED',
  GINA: 'U0GINA',
  HANK: 'U0HANK',
  IVY: 'U0IVY',
} as const;
const T_ALICE = teamsUser(1, 'alice');
const T_BOB = teamsUser(2, 'bob');
const T_CAROL = teamsUser(3, 'carol');

/** A target that is never touched: there is no worker, so nothing is provisioned. */
function entry(name: string): DatabaseEntry {
  const level = (n: string) => ({ name: n, roles: [`${n}_role`], grants: [], guardRails: { connectionLimit: 2 } });
  return {
    name,
    engine: 'postgres',
    host: '127.0.0.1',
    port: 5432,
    database: 'appdb',
    admin: { user: 'jit_admin', password: 'unused-admin-password' },
    levels: new Map([
      ['read', level('read')],
      ['write', level('write')],
    ]),
    maxDuration: 3_600_000,
    brokerSchema: 'db_access',
    delivery: 'reveal',
    approval: { required: 1, timeoutMs: 1_800_000, approvers: [], escalation: [], autoApprove: [] },
    limits: { activeGrantsPerPerson: 3, pendingRequestsPerPerson: 3 },
  };
}

async function postgresStateUrl(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `dbaccess_trust_${process.pid}_${Date.now() % 100_000}`;
  const admin = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  return {
    url: `postgres://postgres@127.0.0.1:5432/${name}`,
    async drop() {
      const c = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

const STORES: Array<[string, () => Promise<{ url: string; drop(): Promise<void> }>]> = [
  ['SQLite', async () => ({ url: tempSqliteUrl(), drop: async () => undefined })],
  ['PostgreSQL', postgresStateUrl],
];

describe.each(STORES)('rules at the moment of decision (%s state store, two web replicas)', (_label, makeStateUrl) => {
  let slack: SlackDouble;
  let teams: TeamsConnectorDouble;
  let state: { url: string; drop(): Promise<void> };
  const replicas: Array<Services & { baseUrl: string; logs: string[] }> = [];
  const store = (): StateStore => replicas[0]!.app.deps.store;
  const replica = (i: number) => replicas[i % replicas.length]!;

  async function startReplica(env: Record<string, string>) {
    const merged = { ...process.env, PORT: '0', ...env };
    const settings = loadSettings(merged);
    const { logger, logs } = capturingLogger();
    const services = await startServices(
      { settings, catalog: loadCatalog(settings.CATALOG_PATH, merged), logger },
      { http: true, worker: false },
    );
    replicas.push({ ...services, baseUrl: `http://127.0.0.1:${services.port}`, logs });
  }

  /** A slash command on replica `via`; resolves with the text of its (first) answer through the response_url. */
  async function command(userId: string, text: string, via = 0): Promise<string> {
    const responseUrl = slack.respondUrl(undefined, { userId, channel: INCIDENT });
    const res = await postSlashCommand(
      replica(via).baseUrl,
      SECRET,
      slashCommand({ userId, text, channelId: INCIDENT, responseUrl }),
    );
    expect(res.status).toBe(200);
    const answer = await slack.waitForCall(
      RESPONSE_URL_METHOD,
      (c) => c.responseUrlId !== undefined && responseUrl.endsWith(c.responseUrlId),
      { timeoutMs: 10_000 },
    );
    return slack.renderText(answer.args as { text?: string });
  }

  /** Files a request in Slack and returns its id, from the approval message's Approve button. */
  async function request(userId: string, text: string, via = 0): Promise<number> {
    const answer = await command(userId, text, via);
    const id = Number(/Request #(\d+)/.exec(answer)?.[1]);
    expect(id, answer).toBeGreaterThan(0);
    await slack.waitUntil(() => approvalMessageOf(id), {
      timeoutMs: 10_000,
      description: `approval message of #${id}`,
    });
    return id;
  }

  const approvalMessageOf = (requestId: number) =>
    slack
      .messagesIn(CHANNEL)
      .find((m) => buttonsIn(m).some((b) => b.actionId === APPROVE && b.value === String(requestId)));

  /** A click on the Slack approval message of `requestId`; resolves with what the clicker was told, or — with
   *  `quiet`, for a click expected to succeed (its effect is awaited by the caller) — '' at once. */
  async function slackClick(
    userId: string,
    actionId: string,
    requestId: number,
    via = 0,
    quiet = false,
  ): Promise<string> {
    const message = approvalMessageOf(requestId)!;
    const before = slack.ephemeralsFor(userId).length;
    const { triggerId, responseUrl } = slack.interaction(userId, { channelId: CHANNEL, messageTs: message.ts });
    const res = await postInteraction(
      replica(via).baseUrl,
      SECRET,
      blockActionsPayload({
        userId,
        actionId,
        value: String(requestId),
        channelId: CHANNEL,
        message,
        triggerId,
        responseUrl,
      }),
    );
    expect(res.status).toBe(200);
    if (quiet) return '';
    return slack
      .waitUntil(() => slack.ephemeralsFor(userId).length > before && slack.ephemeralsFor(userId).at(-1), {
        timeoutMs: 5_000,
      })
      .then((e) => slack.renderText(e))
      .catch(() => '');
  }

  /** An Action.Execute click in Teams; resolves with the toast the clicker saw (or '' when the card was the answer). */
  async function teamsClick(u: TeamsUser, verb: string, requestId: number, via = 0): Promise<string> {
    const where = { serviceUrl: teams.url, tenantId: teams.tenantId, conversation: TEAMS_CHANNEL };
    const res = await postActivity(replica(via).baseUrl, actionActivity(u, where, verb, { requestId }));
    expect(res.status).toBe(200);
    const body = res.body as { type: string; value: unknown };
    return body.type === 'application/vnd.microsoft.activity.message' ? String(body.value) : '';
  }

  const refusals = async (requestId?: RequestId): Promise<AuditEvent[]> =>
    (await store().listAudit({ type: 'access.refused', ...(requestId !== undefined && { requestId }) })).filter(
      (e) => e.type === 'access.refused',
    );

  beforeAll(async () => {
    state = await makeStateUrl();
    await migrateLatest(state.url);
    slack = await startSlackDouble();
    for (const [name, id] of Object.entries(SLACK))
      slack.addUser({ id, email: `${name.toLowerCase()}@example.com`, name: name.toLowerCase() });
    slack.addChannel(CHANNEL, { name: 'db-approvals', members: Object.values(SLACK) });
    slack.addChannel(INCIDENT, { name: 'incident', members: Object.values(SLACK) });
    teams = await startTeamsConnectorDouble();
    for (const u of [T_ALICE, T_BOB, T_CAROL]) {
      teams.addUser(u);
      teams.install(u.aadObjectId);
    }
    const approval = {
      slackChannel: CHANNEL,
      teamsChannel: TEAMS_CHANNEL,
      approvers: [{ email: 'bob@example.com' }, { email: 'carol@example.com' }],
      required: 1,
      timeout: '30m',
    };
    const catalog = writeCatalog(['two', 'limit', 'same', 'race', 'cap', 'burst', 'quick'].map(entry), {
      perEntry: (d) => {
        switch (d.name) {
          case 'two':
            return { approval: { ...approval, required: 2 } };
          case 'limit':
          case 'race':
            return { approval, limits: { activeGrantsPerPerson: 1 } };
          case 'cap':
            return { approval, limits: { pendingRequestsPerPerson: 2 } };
          case 'burst':
            return { approval, limits: { pendingRequestsPerPerson: 20 } };
          case 'quick':
            return { approval: { ...approval, timeout: '2s' } };
          default:
            return { approval };
        }
      },
    });
    const env = {
      ...catalog.env,
      CATALOG_PATH: catalog.path,
      DATABASE_URL: state.url,
      REDIS_URL: sharedRedisUrl,
      QUEUE_PREFIX: uniquePrefix('trust'),
      SLACK_BOT_TOKEN: slack.botToken,
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_API_URL: slack.url,
      HOST: '127.0.0.1',
      TEAMS_ANONYMOUS: 'true',
      TEAMS_SERVICE_URL: teams.url,
      TEAMS_TENANT_ID: teams.tenantId,
      LOG_LEVEL: 'debug',
    };
    await startReplica(env);
    await startReplica(env);
  }, 120_000);

  afterAll(async () => {
    for (const r of replicas.splice(0)) {
      await r.stop().catch(() => undefined);
      capturedOutput.push(...r.logs);
    }
    await slack?.stop();
    await teams?.stop();
    await state?.drop();
  }, 60_000);

  it('one person, one approval: bob approving in Slack and again in Teams counts once; alice cannot approve her own request from Teams', async () => {
    const id = await request(SLACK.ALICE, 'two read 30m checking stuck orders');

    await slackClick(SLACK.BOB, APPROVE, id, 1, true);
    await waitFor('bob’s approval', async () => (await store().listApprovals(rid(id))).length === 1);

    const again = await teamsClick(T_BOB, 'approve', id, 0);
    expect(again).toMatch(/already decided request #\d+ from slack; one person counts once/i);
    const own = await teamsClick(T_ALICE, 'approve', id, 1);
    expect(own).toMatch(/your own request/i);

    expect((await store().getRequest(rid(id)))?.status).toBe('pending');
    expect(await store().listApprovals(rid(id))).toHaveLength(1);
    expect(await store().getGrantByRequest(rid(id))).toBeUndefined();
    const refused = await refusals(rid(id));
    expect(refused.map((e) => [e.actor.platform, e.actor.email, e.detail.action, e.detail.code])).toEqual([
      ['teams', 'bob@example.com', 'approve', 'FORBIDDEN'],
      ['teams', 'alice@example.com', 'approve', 'SELF_APPROVAL'],
    ]);

    // A second person (from Teams) completes it.
    expect(await teamsClick(T_CAROL, 'approve', id, 0)).toBe('');
    await waitFor('the request to be approved', async () => (await store().getRequest(rid(id)))?.status === 'approved');
    expect(await store().getGrantByRequest(rid(id))).toBeDefined();
  });

  it('limits are re-checked when access is given: over the live-grant limit, or a level already held, is refused at approval', async () => {
    const read = await request(SLACK.FRED, 'limit read 30m first');
    const write = await request(SLACK.FRED, 'limit write 30m second');
    await slackClick(SLACK.BOB, APPROVE, read, 0, true);
    await waitFor('the first grant', () => store().getGrantByRequest(rid(read)));

    const told = await slackClick(SLACK.BOB, APPROVE, write, 1);
    expect(told).toMatch(/fred already holds 1 live grant\(s\) on limit \(the limit is 1\)/);
    expect((await store().getRequest(rid(write)))?.status).toBe('pending');
    expect(await store().getGrantByRequest(rid(write))).toBeUndefined();
    expect(await store().listApprovals(rid(write))).toEqual([]);
    expect((await refusals(rid(write))).map((e) => e.detail.action)).toEqual(['approve']);

    const first = await request(SLACK.FRED, 'same read 30m one');
    const second = await request(SLACK.FRED, 'same read 30m two');
    await slackClick(SLACK.CAROL, APPROVE, first, 0, true);
    await waitFor('the first read grant', () => store().getGrantByRequest(rid(first)));
    expect(await teamsClick(T_CAROL, 'approve', second, 1)).toMatch(/fred already holds read on same \(grant #\d+\)/);
    expect(await store().getGrantByRequest(rid(second))).toBeUndefined();
    expect((await store().getRequest(rid(second)))?.status).toBe('pending');
  });

  it('two approvals racing on two replicas for two of one person’s requests give at most the limit', async () => {
    const read = await request(SLACK.GINA, 'race read 30m racing');
    const write = await request(SLACK.GINA, 'race write 30m racing');
    const told = await Promise.all([slackClick(SLACK.BOB, APPROVE, read, 0), teamsClick(T_CAROL, 'approve', write, 1)]);
    await waitFor(
      'one decision',
      async () => (await store().getGrantByRequest(rid(read))) ?? (await store().getGrantByRequest(rid(write))),
    );
    const statuses = [
      (await store().getRequest(rid(read)))?.status,
      (await store().getRequest(rid(write)))?.status,
    ].sort();
    expect(statuses).toEqual(['approved', 'pending']);
    expect(told.filter((t) => /already holds 1 live grant/.test(t))).toHaveLength(1);
    const live = await store().listGrants({ database: 'race', statuses: ['provisioning', 'active', 'revoking'] });
    expect(live).toHaveLength(1);
  });

  it('pending requests are capped per person and database; the one over the cap is answered with why and not filed', async () => {
    await request(SLACK.HANK, 'cap read 30m one');
    await request(SLACK.HANK, 'cap write 30m two', 1);
    const answer = await command(SLACK.HANK, 'cap read 30m three');
    expect(answer).toMatch(/already have 2 request\(s\) waiting on cap \(the limit is 2\)/);
    expect(await store().listRequests({ database: 'cap' })).toHaveLength(2);
    const refused = (await refusals()).filter((e) => e.database === 'cap');
    expect(refused.map((e) => [e.actor.id, e.detail.action, e.detail.code])).toEqual([
      [SLACK.HANK, 'request', 'FORBIDDEN'],
    ]);
  });

  it('a burst of 12 requests from one person across both replicas posts at most 5 approval messages; each refused one is told why', async () => {
    const before = slack.messagesIn(CHANNEL).length;
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) => command(SLACK.ERIN, `burst read 30m burst number ${i}`, i)),
    );
    const filed = answers.filter((a) => /Request #\d+/.test(a));
    const slowed = answers.filter((a) => /too many requests in a short time; try again in \d+s/.test(a));
    expect(filed.length).toBeGreaterThanOrEqual(1);
    expect(filed.length).toBeLessThanOrEqual(5);
    expect(filed.length + slowed.length).toBe(12);
    await slack.waitUntil(() => slack.messagesIn(CHANNEL).length >= before + filed.length, { timeoutMs: 10_000 });
    expect(slack.messagesIn(CHANNEL).length - before).toBe(filed.length);
    expect(await store().listRequests({ database: 'burst' })).toHaveLength(filed.length);
    const limited = (await refusals()).filter((e) => e.actor.id === SLACK.ERIN && e.detail.code === 'RATE_LIMITED');
    expect(limited).toHaveLength(slowed.length);
  });

  it('an approval deadline is enforced at the click, though no sweeper has expired the request', async () => {
    const id = await request(SLACK.IVY, 'quick read 30m nobody answers in time');
    const decideBy = (await store().getRequest(rid(id)))!.decideBy!;
    await waitFor('the approval deadline to pass', () => Date.now() > decideBy + 50, { timeoutMs: 10_000 });

    expect(await slackClick(SLACK.BOB, APPROVE, id)).toMatch(/can no longer be decided: its approval deadline passed/);
    expect(await teamsClick(T_CAROL, 'approve', id, 1)).toMatch(/can no longer be decided/);
    expect(await slackClick(SLACK.CAROL, DENY, id, 1)).toMatch(/can no longer be decided/);
    // Still pending (nothing swept it), never approved, no grant, no approval row.
    expect((await store().getRequest(rid(id)))?.status).toBe('pending');
    expect(await store().getGrantByRequest(rid(id))).toBeUndefined();
    expect(await store().listApprovals(rid(id))).toEqual([]);
    expect((await refusals(rid(id))).map((e) => e.detail.action)).toEqual(['approve', 'approve', 'deny']);
  });
});
