/**
 * Responders of a live incident (`autoApprove: [{ whenResponding: true }]`) end to end: one broker serving Slack
 * (signed requests against the Slack Web API double) and Teams (Activities against the Bot Connector double), the
 * real PagerDuty client against the PagerDuty double (incidents with assignees and acknowledgers), a real PostgreSQL
 * target, real Redis and a real state store. A responder is approved at once and loses access when the double
 * resolves the incident; a non-responder, or anyone while PagerDuty is down, waits for the approvers. The incident
 * is named by id, picked in the Slack form, or named by its number (`INC-<n>`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APPROVE } from '../../src/chat/slack/ids.js';
import type { AccessRequest } from '../../src/core/model.js';
import { startOpsgenieDouble, type OpsgenieDouble } from '../../dev/oncall/opsgenie-double.js';
import { startPagerDutyDouble, type PagerDutyDouble } from '../../dev/oncall/pagerduty-double.js';
import { buttonsIn, RESPONSE_URL_METHOD, startSlackDouble, type SlackDouble } from '../../dev/slack/double.js';
import { postInteraction, postSlashCommand, slashCommand, viewSubmissionPayload } from '../../dev/slack/sign.js';
import { cardOf, cardText, messageActivity, postActivity } from '../../dev/teams/activities.js';
import { startTeamsConnectorDouble, type TeamsConnectorDouble, teamsUser } from '../../dev/teams/connector-double.js';
import { journeyEnv, startBroker, teamsAnonymousEnv, type TestBroker } from '../support/broker.js';
import { writeCatalog } from '../support/catalog.js';
import { setupPgTarget, startScramCluster, type PgCluster, type PgTarget } from '../support/pg-cluster.js';
import { waitFor } from '../support/wait.js';
import { rid } from '../support/ids.js';

const SECRET = 'test-signing-secret-0123456789abcdef';
const APPROVALS = 'C0APPROVALS';
const WAR_ROOM = 'C0INCPAY';
const TYPED_IN = 'C0GENERAL';
const TEAMS_APPROVALS = '19:db-approvals@thread.tacv2';
const ALICE = 'U0ALICE'; // responder (Slack)
const MALLORY = 'U0MALLORY'; // not responding (Slack)
const BOB = 'U0BOB'; // approver
const ZARA = teamsUser(1, 'zara'); // responder (Teams)
const TOM = teamsUser(2, 'tom'); // not responding (Teams)

describe('responders of a live incident', () => {
  let cluster: PgCluster;
  let target: PgTarget;
  let slack: SlackDouble;
  let teams: TeamsConnectorDouble;
  let pd: PagerDutyDouble;
  let og: OpsgenieDouble;
  let broker: TestBroker;

  const store = () => broker.app.deps.store;
  const sel = (v: string) =>
    ({ type: 'static_select', selected_option: { text: { type: 'plain_text', text: v }, value: v } }) as never;

  /** Runs a slash command; returns its response_url (where the bot answers the person). */
  async function slash(userId: string, text: string, triggerId?: string): Promise<string> {
    const responseUrl = slack.respondUrl(undefined, { userId, channel: TYPED_IN });
    const res = await postSlashCommand(
      broker.baseUrl,
      SECRET,
      slashCommand({
        userId,
        text,
        channelId: TYPED_IN,
        responseUrl,
        ...(triggerId && { triggerId }),
      }),
    );
    expect(res.status).toBe(200);
    return responseUrl;
  }
  const answerAt = async (responseUrl: string) =>
    slack.renderText({
      text: String(
        (
          await slack.waitForCall(
            RESPONSE_URL_METHOD,
            (c) => c.responseUrlId !== undefined && responseUrl.endsWith(c.responseUrlId),
            { timeoutMs: 10_000 },
          )
        ).args.text,
      ),
    });

  /** The newest request of the person with this email, once there is one newer than `after`. */
  async function requestOf(email: string, after = 0): Promise<AccessRequest> {
    return waitFor(`a request by ${email}`, async () =>
      (await store().listRequests({})).find((r) => r.requester.email === email && r.id > after),
    );
  }
  const lastRequestId = async () => Math.max(0, ...(await store().listRequests({})).map((r) => r.id));

  async function grantIn(requestId: number, status: 'active' | 'revoked') {
    return waitFor(`grant of request #${requestId} ${status}`, async () => {
      const g = await store().getGrantByRequest(rid(requestId));
      return g?.status === status ? g : undefined;
    });
  }

  const autoApprovePolicyNotes = async (requestId: number) =>
    (await store().listAudit({ requestId: rid(requestId), type: 'request.created' }))[0]?.detail.autoApprove;

  beforeAll(async () => {
    cluster = await startScramCluster();
    target = await setupPgTarget(cluster);
    pd = await startPagerDutyDouble();
    og = await startOpsgenieDouble();
    slack = await startSlackDouble();
    for (const [id, name] of [
      [ALICE, 'alice'],
      [MALLORY, 'mallory'],
      [BOB, 'bob'],
    ] as const)
      slack.addUser({ id, email: `${name}@example.com`, name });
    for (const [id, name] of [
      [APPROVALS, 'db-approvals'],
      [WAR_ROOM, 'inc-payments'],
      [TYPED_IN, 'general'],
    ] as const)
      slack.addChannel(id, { name, members: [ALICE, MALLORY, BOB] });
    teams = await startTeamsConnectorDouble();
    for (const u of [ZARA, TOM]) {
      teams.addUser(u);
      teams.install(u.aadObjectId);
    }
    const catalog = writeCatalog([target.entry], {
      perEntry: () => ({
        approval: {
          slackChannel: APPROVALS,
          teamsChannel: TEAMS_APPROVALS,
          approvers: [{ email: 'bob@example.com' }],
          autoApprove: [{ levels: ['read'], maxDuration: '1h', whenResponding: true }],
        },
      }),
    });
    broker = await startBroker({
      ...journeyEnv(catalog, 'responders'),
      SLACK_BOT_TOKEN: slack.botToken,
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_API_URL: slack.url,
      ...teamsAnonymousEnv(teams),
      PAGERDUTY_TOKEN: pd.token,
      PAGERDUTY_API_URL: pd.url,
      OPSGENIE_API_KEY: og.apiKey,
      OPSGENIE_API_URL: og.url,
      INCIDENT_POLL: '1s',
    });
  }, 120_000);

  afterAll(async () => {
    await broker?.stop();
    await teams?.stop();
    await slack?.stop();
    await pd?.stop();
    await og?.stop();
    await cluster?.stop();
  }, 60_000);

  it('Slack: the modal offers the responder her open incidents; choosing one approves at once, says so in the war room, and the access ends when the incident resolves', async () => {
    pd.setIncident('PINC100', {
      status: 'triggered',
      title: 'payments 500s',
      assignees: [{ email: 'alice@example.com' }],
      conferenceUrl: `https://acme.slack.com/archives/${WAR_ROOM}`,
    });
    pd.setIncident('PINC101', { status: 'triggered', title: 'not hers', assignees: [{ email: 'bob@example.com' }] });
    const triggerId = slack.issueTriggerId({ userId: ALICE });
    await slash(ALICE, '', triggerId);
    const opened = await slack.waitForCall('views.open', (c) => c.args.trigger_id === triggerId, { timeoutMs: 5_000 });
    const viewId = String((opened.response as { view?: { id?: string } }).view?.id);
    const updated = await slack.waitForCall('views.update', (c) => c.args.view_id === viewId, { timeoutMs: 10_000 });
    const options = JSON.stringify(updated.args.view);
    expect(options).toContain('PINC100 · payments 500s');
    expect(options).not.toContain('PINC101');

    const after = await lastRequestId();
    const view = { ...slack.viewById(viewId)!, id: viewId } as never;
    const submitted = await postInteraction(
      broker.baseUrl,
      SECRET,
      viewSubmissionPayload({
        userId: ALICE,
        view,
        values: {
          database: { database_select: sel('appdb') },
          level: { level_select: sel('read') },
          duration: { duration_input: '30m' },
          reason: { reason_input: 'payments failing' },
          incident: { incident_select: sel('PINC100') },
        },
      }),
    );
    expect(submitted.status).toBe(200);
    const req = await requestOf('alice@example.com', after);
    expect(req.status).toBe('approved');
    expect(req.incidentId).toBe('PINC100');
    expect(req.decisionNote).toMatch(/^auto-approved: read ≤ 1h, you are responding to incident PINC100/);
    const audit = (await store().listAudit({ requestId: req.id, type: 'request.auto_approved' }))[0]!;
    expect(audit.detail).toMatchObject({ rule: 1, respondingTo: 'PINC100', incident: 'PINC100' });
    const line = await slack.waitUntil(() => slack.messagesIn(WAR_ROOM).at(-1), { timeoutMs: 10_000 });
    expect(slack.renderText(line)).toMatch(
      /@alice has read on appdb for 30m for incident PINC100, auto-approved as a responder; it ends when the incident resolves/,
    );
    const grant = await grantIn(req.id, 'active');

    pd.setIncident('PINC100', { status: 'resolved' });
    const ended = await grantIn(req.id, 'revoked');
    expect(ended.endKind).toBe('incident_resolved');
    expect(ended.endReason).toBe('incident PINC100 resolved');
    expect(ended.revokedAt!).toBeLessThan(grant.expiresAt);
  });

  it('Slack: someone who is not responding to the incident named inline waits for the approvers, and the audit says why', async () => {
    pd.setIncident('PINC200', { status: 'acknowledged', assignees: [{ email: 'alice@example.com' }] });
    const after = await lastRequestId();
    const before = slack.messagesIn(APPROVALS).length;
    const responseUrl = await slash(MALLORY, 'appdb read 30m pd:PINC200 want to look too');
    const req = await requestOf('mallory@example.com', after);
    expect(req.status).toBe('pending');
    expect(req.incidentId).toBe('PINC200');
    expect(await autoApprovePolicyNotes(req.id)).toEqual([
      'rule 1: you are not assigned to incident PINC200 and have not acknowledged it',
    ]);
    await slack.waitUntil(() => slack.messagesIn(APPROVALS).length > before, { timeoutMs: 10_000 });
    const msg = slack.messagesIn(APPROVALS).at(-1)!;
    expect(buttonsIn(msg).find((b) => b.actionId === APPROVE)?.value).toBe(String(req.id));
    expect(await store().getGrantByRequest(req.id)).toBeUndefined();
    // mallory is told why, not only the audit.
    expect(await answerAt(responseUrl)).toMatch(
      /sent to @bob\.\nNot approved automatically: rule 1: you are not assigned to incident PINC200 and have not acknowledged it/,
    );
  });

  it('Slack: PagerDuty down — the responder is not auto-approved (fail closed); the request goes to the approvers, still scoped', async () => {
    pd.setIncident('PINC300', { status: 'triggered', assignees: [{ email: 'alice@example.com' }] });
    pd.failNext('/incidents/*', { status: 503 }, { times: 50 });
    const after = await lastRequestId();
    const before = slack.messagesIn(APPROVALS).length;
    await slash(ALICE, 'appdb read 20m https://acme.pagerduty.com/incidents/PINC300 payments again');
    const req = await requestOf('alice@example.com', after);
    pd.clearFaults();
    expect(req.status).toBe('pending');
    expect(req.incidentId).toBe('PINC300');
    const notes = (await autoApprovePolicyNotes(req.id)) as string[];
    expect(notes[0]).toMatch(/^incident PINC300 could not be read: .*HTTP 503/);
    expect(notes[1]).toMatch(/^rule 1: incident PINC300 could not be checked/);
    await slack.waitUntil(() => slack.messagesIn(APPROVALS).length > before, { timeoutMs: 10_000 });
    expect(await store().getGrantByRequest(req.id)).toBeUndefined();
  });

  it('Slack: an Opsgenie alert the requester owns counts too; the modal still lists it while PagerDuty is down, and opens plain when both are down', async () => {
    const alert = og.setAlert({ message: 'checkout latency', status: 'open', owner: 'alice@example.com' });
    pd.failNext('/incidents', { status: 503 }, { times: 50 });
    const triggerId = slack.issueTriggerId({ userId: ALICE });
    await slash(ALICE, '', triggerId);
    const opened = await slack.waitForCall('views.open', (c) => c.args.trigger_id === triggerId, { timeoutMs: 5_000 });
    const viewId = String((opened.response as { view?: { id?: string } }).view?.id);
    const updated = await slack.waitForCall('views.update', (c) => c.args.view_id === viewId, { timeoutMs: 10_000 });
    expect(JSON.stringify(updated.args.view)).toContain(`og:${alert.id} · checkout latency`);

    og.failNext('/v2/alerts', { status: 503 }, { times: 50 });
    const logged = broker.logs.length;
    const again = slack.issueTriggerId({ userId: ALICE });
    await slash(ALICE, '', again);
    const plain = await slack.waitForCall('views.open', (c) => c.args.trigger_id === again, { timeoutMs: 5_000 });
    const plainId = String((plain.response as { view?: { id?: string } }).view?.id);
    await waitFor('the modal to give up on the incident list', () =>
      broker.logs.slice(logged).some((l) => l.includes('open incidents not offered')),
    );
    expect(slack.callsTo('views.update').filter((c) => c.args.view_id === plainId)).toEqual([]);
    pd.clearFaults();
    og.clearFaults();

    const after = await lastRequestId();
    await slash(ALICE, `appdb read 30m og:${alert.id} checkout is slow`);
    const req = await requestOf('alice@example.com', after);
    expect(req.status).toBe('approved');
    expect(req.incidentId).toBe(`og:${alert.id}`);
    await grantIn(req.id, 'active');
    og.setAlert({ id: alert.id, status: 'closed' });
    expect((await grantIn(req.id, 'revoked')).endKind).toBe('incident_resolved');
  });

  it("Slack: INC-<n> names the responder's open incident by its number — approved at once, scoped to it, ended when it resolves; someone else's number goes to the approvers, saying why", async () => {
    pd.setIncident('PINC500', {
      status: 'triggered',
      number: 4242,
      title: 'orders backlog',
      assignees: [{ email: 'alice@example.com' }],
    });
    pd.setIncident('PINC501', { status: 'triggered', number: 4243, assignees: [{ email: 'bob@example.com' }] });
    let after = await lastRequestId();
    await slash(ALICE, 'appdb read 30m INC-4242 fixing the orders backlog');
    const req = await requestOf('alice@example.com', after);
    expect(req.status).toBe('approved');
    expect(req.incidentId).toBe('PINC500');
    expect(req.ticket).toBe('INC-4242');
    expect(req.reason).toBe('fixing the orders backlog');
    expect(req.decisionNote).toMatch(/^auto-approved: read ≤ 1h, you are responding to incident PINC500/);
    const grant = await grantIn(req.id, 'active');
    pd.setIncident('PINC500', { status: 'resolved' });
    const ended = await grantIn(req.id, 'revoked');
    expect(ended.endKind).toBe('incident_resolved');
    expect(ended.endReason).toBe('incident PINC500 resolved');
    expect(ended.revokedAt!).toBeLessThan(grant.expiresAt);

    after = await lastRequestId();
    const before = slack.messagesIn(APPROVALS).length;
    const responseUrl = await slash(MALLORY, 'appdb read 30m inc-4243 want to look too');
    const pending = await requestOf('mallory@example.com', after);
    expect(pending.status).toBe('pending');
    expect(pending.incidentId).toBeUndefined();
    expect(await autoApprovePolicyNotes(pending.id)).toEqual([
      'rule 1: inc-4243 is not the number of any open incident of yours',
    ]);
    expect(await answerAt(responseUrl)).toMatch(
      /sent to @bob\.\nNot approved automatically: rule 1: inc-4243 is not the number of any open incident of yours/,
    );
    await slack.waitUntil(() => slack.messagesIn(APPROVALS).length > before, { timeoutMs: 10_000 });
    expect(await store().getGrantByRequest(pending.id)).toBeUndefined();
  });

  it('Teams: the incident named in the command is enough — the acknowledger is approved at once and loses access when it resolves; someone else goes to the approvers', async () => {
    pd.setIncident('PINC400', {
      status: 'acknowledged',
      assignees: [{ email: 'someone@example.com' }],
      acknowledgers: [{ email: ZARA.email! }],
    });
    const where = { serviceUrl: teams.url, tenantId: teams.tenantId, conversation: 'personal' };
    let after = await lastRequestId();
    const said = await postActivity(
      broker.baseUrl,
      messageActivity(ZARA, where, 'db-access appdb read 30m pd:PINC400 fixing it'),
    );
    expect(said.status).toBe(200);
    const req = await requestOf(ZARA.email!, after);
    expect(req.status).toBe('approved');
    expect(req.incidentId).toBe('PINC400');
    expect(req.decisionNote).toMatch(/you are responding to incident PINC400/);
    await grantIn(req.id, 'active');

    after = await lastRequestId();
    const cards = () => teams.messagesIn(TEAMS_APPROVALS).filter((m) => !m.replyToId);
    const before = cards().length;
    const other = await postActivity(
      broker.baseUrl,
      messageActivity(TOM, where, 'db-access appdb read 30m pd:PINC400 me too'),
    );
    expect(other.status).toBe(200);
    const pending = await requestOf(TOM.email!, after);
    expect(pending.status).toBe('pending');
    const told = await teams.waitUntil(
      () =>
        teams
          .messagesIn(`a:chat-${TOM.aadObjectId}`)
          .find((m) => cardText(cardOf(m.activity)).includes('Not approved automatically')),
      { timeoutMs: 10_000, what: 'the answer to tom' },
    );
    expect(cardText(cardOf(told.activity))).toContain(
      'rule 1: you are not assigned to incident PINC400 and have not acknowledged it',
    );
    const card = await teams.waitUntil(() => cards().length > before && cards().at(-1), {
      timeoutMs: 10_000,
      what: "the approval card for tom's request",
    });
    expect(cardText(cardOf(card.activity))).toContain('PINC400');

    pd.setIncident('PINC400', { status: 'resolved' });
    const ended = await grantIn(req.id, 'revoked');
    expect(ended.endKind).toBe('incident_resolved');
  });
});
