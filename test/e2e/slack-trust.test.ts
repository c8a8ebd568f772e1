/**
 * The Slack trust boundary, through the real entry points: requests signed as Slack signs them, posted to two web
 * replicas of the broker (one Redis, one PostgreSQL state store, as `db-access serve` scales out), with the Slack
 * Web API double behind both, and a real PostgreSQL target with password auth.
 *
 * - Replays do nothing: the same signed bytes delivered to both replicas, or again, are acknowledged and ignored;
 *   a forgery carrying a genuine signature cannot make the genuine request look like a replay; a timestamp from
 *   the future is refused; an Events API retry (re-signed by Slack) re-renders nothing.
 * - Only our own organisation: a person whose Slack team is neither the installing one (auth.test) nor listed in
 *   SLACK_ALLOWED_TEAMS is refused — told why, audited, nothing else changes — over HTTP and over Socket Mode.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APPROVE, INPUT, REQUEST_MODAL, REVEAL } from '../../src/chat/slack/ids.js';
import type { AuditEvent } from '../../src/core/model.js';
import {
  buttonsIn,
  RESPONSE_URL_METHOD,
  SLACK_DOUBLE_DEFAULTS,
  startSlackDouble,
  type SlackDouble,
  type SlackMessage,
} from '../../dev/slack/double.js';
import {
  appHomeOpenedEvent,
  blockActionsPayload,
  eventEnvelope,
  postEvent,
  postInteraction,
  postSlashCommand,
  signSlackRequest,
  slashCommand,
  slashCommandBody,
  viewSubmissionPayload,
} from '../../dev/slack/sign.js';
import { attachSocketMode, type SocketModeServer } from '../../dev/slack/socket-mode.js';
import { migrateLatest } from '../../src/store/index.js';
import { startBroker, type TestBroker } from '../support/broker.js';
import { tempSqliteUrl, writeCatalog } from '../support/catalog.js';
import { setupPgTarget, startScramCluster, type PgCluster, type PgTarget } from '../support/pg-cluster.js';
import { sharedRedisUrl, uniquePrefix } from '../support/redis.js';
import { waitFor } from '../support/wait.js';
import { rid } from '../support/ids.js';

const SECRET = 'trust-signing-secret-0123456789abcdef';
const CHANNEL = 'C0APPROVALS';
const INCIDENT = 'C0INCIDENT';
const ALICE = 'U0ALICE';
const BOB = 'U0BOB';
/** Of a partner team listed in SLACK_ALLOWED_TEAMS. */
const PAT = 'U0PAT';
const PARTNER_TEAM = 'T0PARTNER';
/** Of another organisation, in our channels through Slack Connect — and listed as an approver by email. */
const EVE = 'U0EVE';
const STRANGER_TEAM = 'T0STRANGER';
const OUR_TEAM: string = SLACK_DOUBLE_DEFAULTS.teamId;

const now = () => Math.floor(Date.now() / 1000);

describe('Slack trust boundary: two web replicas', () => {
  let cluster: PgCluster;
  let target: PgTarget;
  let slack: SlackDouble;
  let web: [TestBroker, TestBroker];
  const stateDb = `dbaccess_trust_${process.pid}_${Date.now() % 100000}`;
  const stateUrl = `postgres://postgres@127.0.0.1:5432/${stateDb}`;

  const db = () => target.entry.name;
  const store = () => web[0].app.deps.store;
  const approvalMessages = () => slack.messagesIn(CHANNEL);
  /** Lines where either replica logged a replay it ignored. */
  const replaysLogged = () => web.flatMap((b) => b.logs).filter((l) => l.includes('slack: replay ignored')).length;
  const requestsWith = async (reason: string) => (await store().listRequests({})).filter((r) => r.reason === reason);
  const refusalsOf = async (userId: string): Promise<AuditEvent[]> =>
    (await store().listAudit({ type: 'access.refused' })).filter((e) => e.actor.id === userId);

  async function adminQuery(sql: string) {
    const admin = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });
    await admin.connect();
    try {
      await admin.query(sql);
    } finally {
      await admin.end();
    }
  }

  /** A slash command typed in #incident, answered through its own response_url. */
  function command(userId: string, text: string, teamId = OUR_TEAM) {
    const responseUrl = slack.respondUrl(undefined, { userId, channel: INCIDENT });
    return { fields: slashCommand({ userId, text, channelId: INCIDENT, responseUrl, teamId }), responseUrl };
  }

  async function requestAs(userId: string, reason: string, teamId = OUR_TEAM) {
    const before = approvalMessages().length;
    const res = await postSlashCommand(
      web[0].baseUrl,
      SECRET,
      command(userId, `${db()} read 10m INC-1 ${reason}`, teamId).fields,
    );
    expect(res.status).toBe(200);
    await slack.waitUntil(() => approvalMessages().length > before, { timeoutMs: 10_000 });
    const msg = approvalMessages().at(-1)!;
    return { msg, requestId: Number(buttonsIn(msg).find((b) => b.actionId === APPROVE)!.value) };
  }

  function click(
    userId: string,
    actionId: string,
    value: string,
    message: SlackMessage,
    channelId: string,
    team: { teamId?: string; userTeamId?: string } = {},
  ) {
    return blockActionsPayload({
      userId,
      actionId,
      value,
      channelId,
      message,
      triggerId: slack.issueTriggerId({ userId }),
      ...team,
    });
  }

  beforeAll(async () => {
    await adminQuery(`CREATE DATABASE ${stateDb}`);
    await migrateLatest(stateUrl);
    cluster = await startScramCluster();
    target = await setupPgTarget(cluster);
    slack = await startSlackDouble();
    slack.addUser({ id: ALICE, email: 'alice@example.com', name: 'alice' });
    slack.addUser({ id: BOB, email: 'bob@example.com', name: 'bob' });
    slack.addUser({ id: PAT, email: 'pat@partner.example', name: 'pat' });
    slack.addUser({ id: EVE, email: 'eve@stranger.example', name: 'eve' });
    const everyone = [ALICE, BOB, PAT, EVE];
    slack.addChannel(CHANNEL, { name: 'db-approvals', members: everyone });
    slack.addChannel(INCIDENT, { name: 'incident', members: everyone });
    const catalog = writeCatalog([target.entry], {
      perEntry: () => ({
        approval: {
          slackChannel: CHANNEL,
          approvers: [
            { email: 'bob@example.com' },
            { email: 'pat@partner.example' },
            { email: 'eve@stranger.example' },
          ],
          required: 1,
          timeout: '30m',
        },
        limits: { pendingRequestsPerPerson: 20 },
      }),
    });
    const env = {
      ...catalog.env,
      CATALOG_PATH: catalog.path,
      DATABASE_URL: stateUrl,
      REDIS_URL: sharedRedisUrl,
      QUEUE_PREFIX: uniquePrefix('trust'),
      SLACK_BOT_TOKEN: slack.botToken,
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_API_URL: slack.url,
      SLACK_ALLOWED_TEAMS: ` ${PARTNER_TEAM} ,`,
      SWEEP_INTERVAL: '1s',
      REQUEST_RATE: '1000/1s',
      LOG_LEVEL: 'debug',
    };
    web = [await startBroker(env), await startBroker(env)];
  }, 180_000);

  afterAll(async () => {
    await Promise.all((web ?? []).map((b) => b?.stop()));
    await slack?.stop();
    await cluster?.stop();
    await adminQuery(`DROP DATABASE IF EXISTS ${stateDb} WITH (FORCE)`);
  }, 60_000);

  describe('replays do nothing', () => {
    it('the same signed slash command delivered to both replicas, and once more, opens one request and one approval message', async () => {
      const reason = 'replayed command';
      const { fields } = command(ALICE, `${db()} read 10m INC-1 ${reason}`);
      const ts = now();
      const messagesBefore = approvalMessages().length;
      const replaysBefore = replaysLogged();
      const answers = await Promise.all(web.map((b) => postSlashCommand(b.baseUrl, SECRET, fields, { timestamp: ts })));
      answers.push(await postSlashCommand(web[1].baseUrl, SECRET, fields, { timestamp: ts }));
      expect(answers.map((a) => [a.status, a.body])).toEqual([
        [200, ''],
        [200, ''],
        [200, ''],
      ]);
      // Two of the three deliveries were recognised and dropped; the third opened the request.
      await waitFor('two replays to be logged', () => replaysLogged() - replaysBefore === 2);
      await slack.waitUntil(() => approvalMessages().length > messagesBefore, { timeoutMs: 10_000 });
      expect(await requestsWith(reason)).toHaveLength(1);
      expect(approvalMessages().length - messagesBefore).toBe(1);
    });

    it('a replayed Show credentials click rotates the password once', async () => {
      const { msg, requestId } = await requestAs(ALICE, 'reveal replayed');
      await postInteraction(web[0].baseUrl, SECRET, click(BOB, APPROVE, String(requestId), msg, CHANNEL));
      const grant = await waitFor('the grant to be active', async () => {
        const g = await store().getGrantByRequest(rid(requestId));
        return g?.status === 'active' ? g : undefined;
      });
      const dm = await slack.waitUntil(
        () =>
          slack
            .dmOf(ALICE)
            .find((m) => buttonsIn(m).some((b) => b.actionId === REVEAL && b.value === String(grant.id))),
        { timeoutMs: 10_000 },
      );
      const payload = click(ALICE, REVEAL, String(grant.id), dm, slack.dmChannelId(ALICE));
      const ts = now();
      const replaysBefore = replaysLogged();
      const answers = await Promise.all(web.map((b) => postInteraction(b.baseUrl, SECRET, payload, { timestamp: ts })));
      expect(answers.map((a) => a.status)).toEqual([200, 200]);
      await waitFor('the replay to be logged', () => replaysLogged() - replaysBefore === 1);
      await slack.waitForCall('views.open', (c) => c.ok && JSON.stringify(c.args).includes(grant.username), {
        timeoutMs: 10_000,
      });
      expect(await store().listAudit({ grantId: grant.id, type: 'grant.credentials_issued' })).toHaveLength(1);
      expect(slack.callsTo('views.open').filter((c) => c.args.trigger_id === payload.trigger_id)).toHaveLength(1);
    });

    it('a forgery carrying a genuine signature is refused and does not make the genuine request look like a replay', async () => {
      const reason = 'genuine after a forgery';
      const { fields } = command(ALICE, `${db()} read 10m INC-1 ${reason}`);
      const ts = now();
      const genuine = signSlackRequest(SECRET, slashCommandBody(fields), ts);
      const tampered = { ...fields, text: `${db()} write 1h INC-1 ${reason}` };
      const forged = await postSlashCommand(web[0].baseUrl, SECRET, tampered, {
        omitSignature: true,
        headers: { ...genuine },
      });
      expect(forged.status).toBe(401);
      const res = await postSlashCommand(web[1].baseUrl, SECRET, fields, { timestamp: ts });
      expect(res.status).toBe(200);
      const [req] = await waitFor('the genuine request', async () => {
        const rs = await requestsWith(reason);
        return rs.length ? rs : undefined;
      });
      expect(req).toMatchObject({ level: 'read', requester: { id: ALICE } });
    });

    it('a timestamp more than five minutes in the future is refused with 401; one minute ahead is accepted', async () => {
      const reason = 'from the future';
      const ahead = await postSlashCommand(
        web[0].baseUrl,
        SECRET,
        command(ALICE, `${db()} read 10m INC-1 ${reason}`).fields,
        { timestamp: now() + 6 * 60 },
      );
      expect(ahead.status).toBe(401);
      expect(ahead.body).toBe('');
      // The 401 was answered before Bolt: nothing ran.
      expect(await requestsWith(reason)).toEqual([]);
      const skewed = await postSlashCommand(
        web[0].baseUrl,
        SECRET,
        command(ALICE, `${db()} read 10m INC-1 slightly ahead`).fields,
        { timestamp: now() + 60 },
      );
      expect(skewed.status).toBe(200);
      await waitFor('the slightly-ahead request', async () => (await requestsWith('slightly ahead')).length === 1);
    });

    it('an Events API retry (re-signed, X-Slack-Retry-Num) re-renders nothing; a new event does', async () => {
      const published = () => slack.callsTo('views.publish').filter((c) => c.ok && c.args.user_id === ALICE).length;
      const before = published();
      const event = appHomeOpenedEvent(ALICE, { eventId: 'Ev0TRUSTRETRY' });
      const ts = now();
      expect((await postEvent(web[0].baseUrl, SECRET, event, { timestamp: ts })).status).toBe(200);
      await slack.waitUntil(() => published() === before + 1, { timeoutMs: 10_000 });
      // Slack re-signs a retry: another timestamp, so another signature; only the event id says it is the same.
      const retry = await postEvent(web[1].baseUrl, SECRET, event, {
        timestamp: ts + 1,
        retryNum: 1,
        retryReason: 'http_timeout',
      });
      expect(retry.status).toBe(200);
      await waitFor('the retry to be logged as a replay', () =>
        web.flatMap((b) => b.logs).some((l) => l.includes('event Ev0TRUSTRETRY was delivered again')),
      );
      expect(published()).toBe(before + 1);
      await postEvent(web[1].baseUrl, SECRET, appHomeOpenedEvent(ALICE, { eventId: 'Ev0TRUSTNEXT' }));
      await slack.waitUntil(() => published() === before + 2, { timeoutMs: 10_000 });
    });
  });

  describe('only our own organisation', () => {
    it('a slash command from a user of another organisation is explained, audited, and requests nothing', async () => {
      const { fields, responseUrl } = command(EVE, `${db()} read 10m INC-1 outsider command`, STRANGER_TEAM);
      const res = await postSlashCommand(web[0].baseUrl, SECRET, fields);
      expect(res.status).toBe(200);
      const told = await slack.waitForCall(
        RESPONSE_URL_METHOD,
        (c) => c.responseUrlId !== undefined && responseUrl.endsWith(c.responseUrlId),
        { timeoutMs: 10_000 },
      );
      expect(told.args).toMatchObject({ response_type: 'ephemeral' });
      expect(String(told.args.text)).toMatch(
        new RegExp(`your team \\(${STRANGER_TEAM}\\) is not one of them, so nothing was done`),
      );
      const [refusal] = await refusalsOf(EVE);
      expect(refusal).toMatchObject({
        actor: { platform: 'slack', id: EVE },
        detail: { action: 'command', code: 'FORBIDDEN' },
      });
      expect(String((refusal!.detail as { reason: string }).reason)).toContain(STRANGER_TEAM);
      expect((await store().listRequests({})).filter((r) => r.requester.id === EVE)).toEqual([]);
    });

    it('an Approve click by an external user in our shared channel is refused although their email is an approver; the request stays pending', async () => {
      const { msg, requestId } = await requestAs(ALICE, 'external approver');
      const updatesBefore = slack.callsTo('chat.update').length;
      const refusalsBefore = (await refusalsOf(EVE)).length;
      // A Slack Connect click: it happens in our workspace (team), by a user whose own team is another organisation's.
      const res = await postInteraction(
        web[1].baseUrl,
        SECRET,
        click(EVE, APPROVE, String(requestId), msg, CHANNEL, { teamId: OUR_TEAM, userTeamId: STRANGER_TEAM }),
      );
      expect(res.status).toBe(200);
      const told = await slack.waitForCall('chat.postEphemeral', (c) => c.args.user === EVE, { timeoutMs: 10_000 });
      expect(String(told.args.text)).toContain(STRANGER_TEAM);
      const refusals = await refusalsOf(EVE);
      expect(refusals).toHaveLength(refusalsBefore + 1);
      expect(refusals.at(-1)).toMatchObject({ detail: { action: 'click', code: 'FORBIDDEN' } });
      expect((await store().getRequest(rid(requestId)))!.status).toBe('pending');
      expect(await store().listApprovals(rid(requestId))).toEqual([]);
      expect(slack.callsTo('chat.update').length).toBe(updatesBefore);
    });

    it('a request modal submitted by an external user is answered in the modal, audited, and requests nothing', async () => {
      const refusalsBefore = (await refusalsOf(EVE)).length;
      const select = (value: string) => ({
        type: 'static_select',
        selected_option: { text: { type: 'plain_text' as const, text: value }, value },
      });
      const payload = viewSubmissionPayload({
        userId: EVE,
        callbackId: REQUEST_MODAL,
        privateMetadata: JSON.stringify({ channelId: INCIDENT }),
        teamId: OUR_TEAM,
        userTeamId: STRANGER_TEAM,
        values: {
          [INPUT.database.block]: { [INPUT.database.action]: select(db()) },
          [INPUT.level.block]: { [INPUT.level.action]: select('read') },
          [INPUT.duration.block]: { [INPUT.duration.action]: '10m' },
          [INPUT.reason.block]: { [INPUT.reason.action]: 'outsider modal' },
        },
      });
      const res = await postInteraction(web[0].baseUrl, SECRET, payload);
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({ response_action: 'update', view: { type: 'modal' } });
      expect(JSON.stringify(res.json)).toContain(STRANGER_TEAM);
      const refusals = await refusalsOf(EVE);
      expect(refusals).toHaveLength(refusalsBefore + 1);
      expect(refusals.at(-1)).toMatchObject({ detail: { action: 'submit', code: 'FORBIDDEN' } });
      expect(await requestsWith('outsider modal')).toEqual([]);
    });

    it('App Home opened by a user of another organisation shows the explanation, not their access', async () => {
      const event = eventEnvelope(appHomeOpenedEvent(EVE).event, { teamId: STRANGER_TEAM });
      expect((await postEvent(web[0].baseUrl, SECRET, event)).status).toBe(200);
      const shown = await slack.waitForCall('views.publish', (c) => c.args.user_id === EVE, { timeoutMs: 10_000 });
      expect(JSON.stringify(shown.args.view)).toContain('nothing was done');
      expect((await refusalsOf(EVE)).at(-1)).toMatchObject({ detail: { action: 'event', code: 'FORBIDDEN' } });
    });

    it('SLACK_ALLOWED_TEAMS admits a second team: its people request and approve; the installing team needs no listing', async () => {
      const { msg, requestId } = await requestAs(ALICE, 'partner approves');
      await postInteraction(
        web[1].baseUrl,
        SECRET,
        click(PAT, APPROVE, String(requestId), msg, CHANNEL, { teamId: OUR_TEAM, userTeamId: PARTNER_TEAM }),
      );
      await waitFor(
        'the partner approval',
        async () => (await store().getRequest(rid(requestId)))!.status === 'approved',
      );
      expect((await store().listApprovals(rid(requestId))).map((a) => a.approver.id)).toEqual([PAT]);
      const own = await requestAs(PAT, 'partner asks', PARTNER_TEAM);
      expect((await store().getRequest(rid(own.requestId)))!.requester.id).toBe(PAT);
      expect(await refusalsOf(PAT)).toEqual([]);
    });
  });
});

describe('Slack trust boundary: Socket Mode', () => {
  let cluster: PgCluster;
  let target: PgTarget;
  let slack: SlackDouble;
  let sm: SocketModeServer;
  let broker: TestBroker;

  beforeAll(async () => {
    cluster = await startScramCluster();
    target = await setupPgTarget(cluster);
    slack = await startSlackDouble();
    sm = await attachSocketMode(slack);
    slack.addUser({ id: ALICE, email: 'alice@example.com', name: 'alice' });
    slack.addUser({ id: EVE, email: 'eve@stranger.example', name: 'eve' });
    slack.addChannel(CHANNEL, { name: 'db-approvals', members: [ALICE, EVE] });
    slack.addChannel(INCIDENT, { name: 'incident', members: [ALICE, EVE] });
    const catalog = writeCatalog([target.entry], {
      perEntry: () => ({
        approval: { slackChannel: CHANNEL, approvers: [{ email: 'eve@stranger.example' }], required: 1 },
      }),
    });
    broker = await startBroker({
      ...catalog.env,
      CATALOG_PATH: catalog.path,
      DATABASE_URL: tempSqliteUrl(),
      REDIS_URL: sharedRedisUrl,
      QUEUE_PREFIX: uniquePrefix('trust-socket'),
      SLACK_BOT_TOKEN: slack.botToken,
      SLACK_APP_TOKEN: sm.appToken,
      SLACK_SIGNING_SECRET: '',
      SLACK_API_URL: slack.url,
    });
  }, 120_000);

  afterAll(async () => {
    await broker?.stop();
    await sm?.stop();
    await slack?.stop();
    await cluster?.stop();
  }, 60_000);

  it('a slash command from another organisation over the socket is explained, audited, and requests nothing; ours goes through', async () => {
    const responseUrl = slack.respondUrl(undefined, { userId: EVE, channel: INCIDENT });
    await sm.sendSlashCommand(
      slashCommand({
        userId: EVE,
        teamId: STRANGER_TEAM,
        text: `${target.entry.name} read 10m INC-1 over the socket`,
        channelId: INCIDENT,
        responseUrl,
      }),
    );
    const told = await slack.waitForCall(
      RESPONSE_URL_METHOD,
      (c) => c.responseUrlId !== undefined && responseUrl.endsWith(c.responseUrlId),
      { timeoutMs: 10_000 },
    );
    expect(String(told.args.text)).toContain(STRANGER_TEAM);
    const refusals = (await broker.app.deps.store.listAudit({ type: 'access.refused' })).filter(
      (e) => e.actor.id === EVE,
    );
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toMatchObject({ detail: { action: 'command', code: 'FORBIDDEN' } });
    expect(await broker.app.deps.store.listRequests({})).toEqual([]);
    await sm.sendSlashCommand(
      slashCommand({
        userId: ALICE,
        text: `${target.entry.name} read 10m INC-1 ours over the socket`,
        channelId: INCIDENT,
      }),
    );
    await slack.waitUntil(() => slack.messagesIn(CHANNEL).length === 1, { timeoutMs: 10_000 });
    expect((await broker.app.deps.store.listRequests({})).map((r) => r.requester.id)).toEqual([ALICE]);
  });
});
