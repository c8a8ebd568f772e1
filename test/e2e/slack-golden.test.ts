/**
 * Golden replays: payloads captured from the real Slack (test/fixtures/real/slack, each naming its public source)
 * are sent through the real HTTP entry point, signed as Slack signs them, to the broker as `db-access all` runs it
 * (Bolt's ExpressReceiver, the replay and organisation guards, the listeners), with the Slack Web API double behind
 * it and a real PostgreSQL target. The workspace is an Enterprise Grid one (`auth.test` answers an enterprise id).
 *
 * Only ids are adapted (team, enterprise, user, channel, app, bot, view, trigger id, response_url, message ts, the
 * clicked button's action id / block id / value, the modal's callback id / metadata / our inputs' values, the
 * command name and its text); every other field of the captured payload is sent as captured. Each test asserts
 * what the product does with it.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APPROVE, DENY_MODAL, HOME_APPROVE, INPUT, REQUEST_MODAL } from '../../src/chat/slack/ids.js';
import {
  buttonsIn,
  SLACK_DOUBLE_DEFAULTS,
  startSlackDouble,
  type SlackDouble,
  type SlackMessage,
} from '../../dev/slack/double.js';
import { postEvent, postInteraction, postSlashCommand } from '../../dev/slack/sign.js';
import { journeyEnv, startBroker, type TestBroker } from '../support/broker.js';
import { writeCatalog } from '../support/catalog.js';
import { setupPgTarget, startScramCluster, type PgCluster, type PgTarget } from '../support/pg-cluster.js';
import { waitFor } from '../support/wait.js';
import { rid } from '../support/ids.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/real/slack/', import.meta.url));
const SECRET = 'golden-signing-secret-0123456789abcdef';
const CHANNEL = 'C0APPROVALS';
const INCIDENT = 'C0INCIDENT';
const ALICE = 'U0ALICE';
const BOB = 'U0BOB';
const OUR_TEAM: string = SLACK_DOUBLE_DEFAULTS.teamId;
/** The Grid organisation our workspace belongs to. */
const ENTERPRISE = 'E0DBACCESS';
/** Another workspace of the same organisation (an org-wide install serves it too). */
const SISTER_WORKSPACE = 'T0SISTER';
const D = SLACK_DOUBLE_DEFAULTS;

type Json = Record<string, unknown>;
interface Fixture {
  _source: string;
  kind: 'slash_command' | 'interaction' | 'event' | 'ssl_check';
  form?: string;
  payload?: Json;
  body?: Json;
  event?: Json;
}

const load = (name: string): Fixture => JSON.parse(readFileSync(FIXTURES + name, 'utf8')) as Fixture;
const clone = <T>(v: T): T => structuredClone(v);
/** Form fields as Slack's body carries them (`+` and `%20` are both spaces, as for any form body). */
const formFields = (form: string): Record<string, string> => Object.fromEntries(new URLSearchParams(form));
/** What Slack does to slash-command text: `&`, `<`, `>` arrive as entities. Written here, not imported, on purpose. */
const slackEscaped = (typed: string) => typed.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const obj = (v: unknown): Json => v as Json;

describe('Slack golden replays: captured payloads through the real entry point', () => {
  let cluster: PgCluster;
  let target: PgTarget;
  let slack: SlackDouble;
  let broker: TestBroker;
  let seq = 0;

  const store = () => broker.app.deps.store;
  const db = () => target.entry.name;
  const approvalMessages = () => slack.messagesIn(CHANNEL);

  /** A slash-command fixture with its ids adapted: typed by `userId` in #incident, of `team` (and `enterprise`). */
  function adaptCommand(fixture: Fixture, userId: string, typed: string, team = OUR_TEAM): Record<string, string> {
    const fields = formFields(fixture.form!);
    return {
      ...fields,
      command: '/db-access',
      text: slackEscaped(typed),
      team_id: team,
      ...(fields.enterprise_id !== undefined && { enterprise_id: ENTERPRISE }),
      channel_id: INCIDENT,
      user_id: userId,
      api_app_id: D.appId,
      trigger_id: slack.issueTriggerId({ userId }),
      response_url: slack.respondUrl(undefined, { userId, channel: INCIDENT }),
    };
  }

  /** Files a request with the docs' slash command and returns its approval message and request id. */
  async function fileRequest(reason: string): Promise<{ msg: SlackMessage; requestId: number }> {
    const before = approvalMessages().length;
    const res = await postSlashCommand(
      broker.baseUrl,
      SECRET,
      adaptCommand(load('slash-command-docs.json'), newRequester(), `${db()} read 10m INC-9 ${reason}`),
    );
    expect(res.status).toBe(200);
    const msg = await slack.waitUntil(() => approvalMessages().length > before && approvalMessages().at(-1), {
      timeoutMs: 10_000,
    });
    return { msg, requestId: Number(buttonsIn(msg).find((b) => b.actionId === APPROVE)!.value) };
  }

  /** The message block_actions fixture with its ids adapted to `userId` clicking `actionId` on our message. */
  function adaptMessageClick(fixture: Fixture, userId: string, msg: SlackMessage, actionId: string): Json {
    const p = clone(fixture.payload!);
    const btn = buttonsIn(msg).find((b) => b.actionId === actionId)!;
    const user = obj(p.user);
    user.id = userId;
    if ('team_id' in user) user.team_id = OUR_TEAM;
    const team = obj(p.team);
    team.id = OUR_TEAM;
    if ('enterprise_id' in team) team.enterprise_id = ENTERPRISE;
    p.api_app_id = D.appId;
    p.trigger_id = slack.issueTriggerId({ userId });
    Object.assign(obj(p.container), { message_ts: msg.ts, channel_id: CHANNEL });
    obj(p.channel).id = CHANNEL;
    if ('name' in obj(p.channel)) obj(p.channel).name = 'db-approvals';
    if (p.message)
      Object.assign(obj(p.message), {
        ts: msg.ts,
        text: msg.text ?? '',
        blocks: msg.blocks,
        user: D.botUserId,
        bot_id: D.botId,
        team: OUR_TEAM,
        ...('app_id' in obj(p.message) && { app_id: D.appId }),
      });
    p.response_url = slack.respondUrl(undefined, { userId, channel: CHANNEL });
    const action = obj((p.actions as unknown[])[0]);
    Object.assign(action, {
      action_id: btn.actionId,
      block_id: btn.blockId,
      value: btn.value,
      text: { ...obj(action.text), text: btn.text },
    });
    return p;
  }

  /** An Events API envelope fixture with its ids adapted to `userId`. */
  function adaptEnvelope(envelope: Json, event: Json, userId: string): Json {
    const e = clone(envelope);
    e.team_id = OUR_TEAM;
    if ('enterprise_id' in e) e.enterprise_id = ENTERPRISE;
    e.api_app_id = D.appId;
    e.event_id = `EvGOLDEN${++seq}`;
    e.event = { ...clone(event), user: userId, channel: slack.dmChannelId(userId) };
    e.authorizations = (e.authorizations as Json[]).map((a) => ({
      ...a,
      ...(a.team_id !== null && { team_id: OUR_TEAM }),
      ...(a.enterprise_id !== null && { enterprise_id: ENTERPRISE }),
      user_id: D.botUserId,
    }));
    return e;
  }

  /** A person of our workspace who holds nothing yet: a second request by someone holding the level would be an
   *  extension of their grant, not a new request for approval. */
  function newRequester(): string {
    const id = `U0REQ${++seq}`;
    slack.addUser({ id, email: `req${seq}@example.com`, name: `req${seq}` });
    return id;
  }

  const publishesFor = (userId: string) => slack.callsTo('views.publish').filter((c) => c.args.user_id === userId);

  beforeAll(async () => {
    cluster = await startScramCluster();
    target = await setupPgTarget(cluster);
    slack = await startSlackDouble({ enterpriseId: ENTERPRISE });
    slack.addUser({ id: ALICE, email: 'alice@example.com', name: 'alice' });
    slack.addUser({ id: BOB, email: 'bob@example.com', name: 'bob' });
    slack.addChannel(CHANNEL, { name: 'db-approvals', members: [ALICE, BOB] });
    slack.addChannel(INCIDENT, { name: 'incident', members: [ALICE, BOB] });
    const catalog = writeCatalog([target.entry], {
      perEntry: () => ({
        approval: { slackChannel: CHANNEL, approvers: [{ email: 'bob@example.com' }], required: 1, timeout: '30m' },
        limits: { pendingRequestsPerPerson: 50 },
      }),
    });
    broker = await startBroker({
      ...journeyEnv(catalog, 'golden'),
      SLACK_BOT_TOKEN: slack.botToken,
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_API_URL: slack.url,
    });
  }, 120_000);

  afterAll(async () => {
    await broker?.stop();
    await slack?.stop();
    await cluster?.stop();
  }, 60_000);

  describe('before anything is filed', () => {
    it('ssl_check: 200 with an empty body, and nothing else happens', async () => {
      const fixture = load('ssl-check.json');
      const callsBefore = slack.calls.length;
      const auditBefore = (await store().listAudit({})).length;
      const res = await postSlashCommand(broker.baseUrl, SECRET, formFields(fixture.form!));
      expect(res.status).toBe(200);
      expect(res.body).toBe('');
      // Bolt answers ssl_check in the receiver, before any middleware or listener: nothing to wait for.
      expect(slack.calls.length).toBe(callsBefore);
      expect((await store().listAudit({})).length).toBe(auditBefore);
      expect(await store().listRequests({})).toEqual([]);
    });

    it('url_verification: the challenge is echoed back', async () => {
      const body = load('url-verification.json').body!;
      const res = await postEvent(broker.baseUrl, SECRET, body);
      expect(res.status).toBe(200);
      expect(res.json).toEqual({ challenge: body.challenge });
    });
  });

  describe('slash commands', () => {
    for (const [name, team] of [
      ['slash-command-docs.json', OUR_TEAM],
      ['slash-command-grid.json', OUR_TEAM],
      // An organisation-wide install: the command comes from another workspace of our organisation.
      ['slash-command-org-install.json', SISTER_WORKSPACE],
    ] as const) {
      it(`${name}: the request is filed as typed and the approval message is posted`, async () => {
        const reason = `R&D <team> ${name} checks a & b > c`;
        const before = approvalMessages().length;
        const requester = newRequester();
        const fields = adaptCommand(load(name), requester, `${db()} read 10m INC-7 ${reason}`, team);
        const res = await postSlashCommand(broker.baseUrl, SECRET, fields);
        expect(res.status).toBe(200);
        const msg = await slack.waitUntil(() => approvalMessages().length > before && approvalMessages().at(-1), {
          timeoutMs: 10_000,
        });
        expect(slack.renderText(msg)).toContain(reason);
        const filed = (await store().listRequests({})).filter((r) => r.reason === reason);
        expect(filed).toHaveLength(1);
        expect(filed[0]!).toMatchObject({
          database: db(),
          ticket: 'INC-7',
          status: 'pending',
          requester: { platform: 'slack', id: requester },
        });
      });
    }
  });

  describe('block_actions', () => {
    for (const name of [
      'block-actions-message.json',
      'block-actions-message-current.json',
      'block-actions-message-grid.json',
    ]) {
      it(`${name}: Approve on the approval message records the approval`, async () => {
        const { msg, requestId } = await fileRequest(`approve via ${name}`);
        const res = await postInteraction(broker.baseUrl, SECRET, adaptMessageClick(load(name), BOB, msg, APPROVE));
        expect(res.status).toBe(200);
        const approvals = await waitFor(`an approval of request ${requestId}`, async () => {
          const list = await store().listApprovals(rid(requestId));
          return list.length > 0 && list;
        });
        expect(approvals).toMatchObject([{ approver: { platform: 'slack', id: BOB }, decision: 'approve' }]);
        expect((await store().getRequest(rid(requestId)))!.status).not.toBe('pending');
      });
    }

    it('block-actions-home.json: Approve on the App Home tab records the approval and republishes the Home', async () => {
      const { requestId } = await fileRequest('approve from the Home tab');
      const envelope = load('app-home-opened.json').body!;
      const opened = publishesFor(BOB).length;
      await postEvent(broker.baseUrl, SECRET, adaptEnvelope(envelope, obj(envelope.event), BOB));
      await slack.waitUntil(() => publishesFor(BOB).length > opened, { timeoutMs: 10_000 });
      const home = slack.homeOf(BOB)!;
      const btn = buttonsIn(home).find((b) => b.actionId === HOME_APPROVE && b.value === String(requestId))!;
      expect(btn).toBeDefined();

      const p = clone(load('block-actions-home.json').payload!);
      obj(p.team).id = OUR_TEAM;
      Object.assign(obj(p.user), { id: BOB, team_id: OUR_TEAM });
      p.api_app_id = D.appId;
      p.trigger_id = slack.issueTriggerId({ userId: BOB });
      obj(p.container).view_id = home.id;
      Object.assign(obj(p.view), {
        id: home.id,
        team_id: OUR_TEAM,
        blocks: home.blocks,
        hash: home.hash,
        root_view_id: home.root_view_id,
        app_id: D.appId,
        app_installed_team_id: OUR_TEAM,
        bot_id: D.botId,
      });
      const action = obj((p.actions as unknown[])[0]);
      Object.assign(action, {
        action_id: btn.actionId,
        block_id: btn.blockId,
        value: btn.value,
        text: { ...obj(action.text), text: btn.text },
      });

      const published = publishesFor(BOB).length;
      const res = await postInteraction(broker.baseUrl, SECRET, p);
      expect(res.status).toBe(200);
      const approvals = await waitFor(`an approval of request ${requestId}`, async () => {
        const list = await store().listApprovals(rid(requestId));
        return list.length > 0 && list;
      });
      expect(approvals).toMatchObject([{ approver: { platform: 'slack', id: BOB }, decision: 'approve' }]);
      await slack.waitUntil(() => publishesFor(BOB).length > published, { timeoutMs: 10_000 });
    });
  });

  describe('view_submission', () => {
    it('view-submission-inputs.json: the request modal, submitted with select, text and number inputs, is accepted and filed', async () => {
      const reason = 'modal: R&D <team> needs a look';
      const requester = newRequester();
      const p = clone(load('view-submission-inputs.json').payload!);
      obj(p.team).id = OUR_TEAM;
      Object.assign(obj(p.user), { id: requester, team_id: OUR_TEAM });
      p.api_app_id = D.appId;
      p.trigger_id = slack.issueTriggerId({ userId: requester });
      const view = obj(p.view);
      const values = obj(obj(view.state).values);
      // Our inputs, in the shapes the captured submission has for a static_select and a plain_text_input; the
      // captured inputs (a number_input, a file_input, …) stay, as inputs the product does not know.
      const selected = obj(obj(values.vendor).vendor_select);
      const select = (value: string) => ({
        ...selected,
        selected_option: {
          ...obj(selected.selected_option),
          text: { ...obj(obj(selected.selected_option).text), text: value },
          value,
        },
      });
      const text = (value: string | null) => ({ ...obj(obj(values.originator)['plain_text_input-action']), value });
      Object.assign(values, {
        [INPUT.database.block]: { [INPUT.database.action]: select(db()) },
        [INPUT.level.block]: { [INPUT.level.action]: select('read') },
        [INPUT.duration.block]: { [INPUT.duration.action]: text('10m') },
        [INPUT.reason.block]: { [INPUT.reason.action]: text(reason) },
        [INPUT.ticket.block]: { [INPUT.ticket.action]: text('INC-11') },
      });
      Object.assign(view, {
        id: 'V0GOLDEN1',
        root_view_id: 'V0GOLDEN1',
        team_id: OUR_TEAM,
        app_installed_team_id: OUR_TEAM,
        app_id: D.appId,
        bot_id: D.botId,
        callback_id: REQUEST_MODAL,
        private_metadata: JSON.stringify({ channelId: INCIDENT }),
      });
      const before = approvalMessages().length;
      const res = await postInteraction(broker.baseUrl, SECRET, p);
      expect(res.status).toBe(200);
      expect(res.body).toBe('');
      await slack.waitUntil(() => approvalMessages().length > before, { timeoutMs: 10_000 });
      const filed = (await store().listRequests({})).filter((r) => r.reason === reason);
      expect(filed).toHaveLength(1);
      expect(filed[0]!).toMatchObject({
        database: db(),
        ticket: 'INC-11',
        status: 'pending',
        requester: { id: requester },
      });
    });

    it('view-submission-grid.json: the Deny modal, submitted from a Grid workspace, denies with the reason given', async () => {
      const { requestId } = await fileRequest('to be denied');
      const p = clone(load('view-submission-grid.json').payload!);
      Object.assign(obj(p.team), { id: OUR_TEAM, enterprise_id: ENTERPRISE });
      Object.assign(obj(p.user), { id: BOB, team_id: OUR_TEAM });
      p.api_app_id = D.appId;
      p.trigger_id = slack.issueTriggerId({ userId: BOB });
      const view = obj(p.view);
      const captured = obj(obj(obj(view.state).values).hspI).maBWU;
      Object.assign(view, {
        id: 'V0GOLDEN2',
        root_view_id: 'V0GOLDEN2',
        team_id: OUR_TEAM,
        app_installed_team_id: OUR_TEAM,
        app_id: D.appId,
        bot_id: D.botId,
        callback_id: DENY_MODAL,
        private_metadata: String(requestId),
        state: {
          values: {
            [INPUT.reason.block]: { [INPUT.reason.action]: { ...obj(captured), value: 'not during the freeze' } },
          },
        },
      });
      const res = await postInteraction(broker.baseUrl, SECRET, p);
      expect(res.status).toBe(200);
      expect(res.body).toBe('');
      const denied = await waitFor(`request ${requestId} denied`, async () => {
        const r = await store().getRequest(rid(requestId));
        return r?.status === 'denied' && r;
      });
      expect(denied.decisionNote ?? JSON.stringify(denied)).toContain('not during the freeze');
    });
  });

  describe('app_home_opened', () => {
    it('app-home-opened.json: the first opening publishes the Home view', async () => {
      const envelope = load('app-home-opened.json').body!;
      const before = publishesFor(ALICE).length;
      const res = await postEvent(broker.baseUrl, SECRET, adaptEnvelope(envelope, obj(envelope.event), ALICE));
      expect(res.status).toBe(200);
      const call = await slack.waitUntil(() => publishesFor(ALICE).length > before && publishesFor(ALICE).at(-1), {
        timeoutMs: 10_000,
      });
      expect(obj(call.args.view).type).toBe('home');
      expect(slack.homeOf(ALICE)?.type).toBe('home');
    });

    it('app-home-opened-view.json: opening it again, with the published view in the event, publishes it afresh', async () => {
      const envelope = load('app-home-opened.json').body!;
      const event = clone(load('app-home-opened-view.json').event!);
      const current = slack.homeOf(ALICE)!;
      Object.assign(obj(event.view), {
        id: current.id,
        team_id: OUR_TEAM,
        blocks: current.blocks,
        hash: current.hash,
        root_view_id: current.root_view_id,
        app_id: D.appId,
        app_installed_team_id: OUR_TEAM,
        bot_id: D.botId,
      });
      const before = publishesFor(ALICE).length;
      const res = await postEvent(broker.baseUrl, SECRET, adaptEnvelope(envelope, event, ALICE));
      expect(res.status).toBe(200);
      await slack.waitUntil(() => publishesFor(ALICE).length > before, { timeoutMs: 10_000 });
    });

    it('app-home-opened-org.json: the Messages tab of an org-wide install publishes nothing', async () => {
      const org = load('app-home-opened-org.json').body!;
      const home = load('app-home-opened.json').body!;
      const before = publishesFor(BOB).length;
      expect((await postEvent(broker.baseUrl, SECRET, adaptEnvelope(org, obj(org.event), BOB))).status).toBe(200);
      // Then the Home tab, for the same person. Both pass the same middlewares in order (the replay guard's Redis
      // commands share one connection, answered in order), and the Messages-tab listener returns before any I/O:
      // when the second one has published, the first one is long done.
      expect((await postEvent(broker.baseUrl, SECRET, adaptEnvelope(home, obj(home.event), BOB))).status).toBe(200);
      await slack.waitUntil(() => publishesFor(BOB).length > before, { timeoutMs: 10_000 });
      expect(publishesFor(BOB).length).toBe(before + 1);
    });
  });
});
