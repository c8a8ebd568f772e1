/**
 * The Teams trust boundary, through the real /api/messages: Activities as Teams sends them, Bot Connector doubles
 * recording every call the bot makes, a real PostgreSQL target, real Redis and a real state store.
 *
 * - No implicit anonymous mode: unsigned activities need TEAMS_ANONYMOUS=true on a loopback HOST, and a catalog
 *   naming a Teams channel without TEAMS_APP_ID or TEAMS_ANONYMOUS does not start. In anonymous mode the bot talks
 *   to TEAMS_SERVICE_URL only, whatever serviceUrl an activity claims. With TEAMS_APP_ID a forged token gets a
 *   generic 401, logged through pino, nothing on the console.
 * - Only our own organisation: TEAMS_TENANT_ID, or else the tenant of the first installation (pinned, first writer
 *   wins); any other tenant's message, click or dialog is answered with an explanation, audited, and changes nothing.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  actionActivity,
  cardOf,
  cardText,
  dialogFetchActivity,
  installActivity,
  messageActivity,
  postActivity,
  type Where,
} from '../../dev/teams/activities.js';
import {
  startTeamsConnectorDouble,
  type PostedActivity,
  type TeamsConnectorDouble,
  type TeamsUser,
  teamsUser,
} from '../../dev/teams/connector-double.js';
import type { AuditEvent } from '../../src/core/model.js';
import { journeyEnv, startBroker, teamsAnonymousEnv, type TestBroker } from '../support/broker.js';
import { tempSqliteUrl, writeCatalog } from '../support/catalog.js';
import { setupPgTarget, startScramCluster, type PgCluster, type PgTarget } from '../support/pg-cluster.js';
import { uniquePrefix } from '../support/redis.js';
import { waitFor } from '../support/wait.js';
import { rid } from '../support/ids.js';

const CHANNEL = '19:db-approvals@thread.tacv2';
const OTHER_TENANT = 'tenant-elsewhere';
const ALICE = teamsUser(1, 'alice');
const BOB = teamsUser(2, 'bob');
/** Of another tenant; bob's twin there has bob's email, which is on the approver list. */
const MALLORY = teamsUser(5, 'mallory');
const BOB_ELSEWHERE = teamsUser(6, 'bob-elsewhere', { email: 'bob@example.com' });

type InvokeAnswer = { statusCode: number; type: string; value: unknown };

describe('Teams trust boundary', () => {
  let cluster: PgCluster;
  let target: PgTarget;
  /** TEAMS_SERVICE_URL: the one Bot Connector an anonymous bot may talk to. */
  let teams: TeamsConnectorDouble;
  /** What an activity may claim as its serviceUrl: must never hear from the bot. */
  let rogue: TeamsConnectorDouble;
  let env: Record<string, string>;
  const brokers: TestBroker[] = [];

  const textOf = (m: PostedActivity | undefined) =>
    typeof m?.activity.text === 'string' ? m.activity.text : cardText(cardOf(m?.activity));
  const chatOf = (u: TeamsUser) => teams.messagesIn(`a:chat-${u.aadObjectId}`);
  const refusals = async (b: TestBroker, u: TeamsUser): Promise<AuditEvent[]> =>
    (await b.app.deps.store.listAudit({ type: 'access.refused' })).filter((e) => e.actor.id === u.aadObjectId);

  /** Anonymous on loopback, bound to `teams`; TEAMS_TENANT_ID unset unless given. */
  async function broker(extra: Record<string, string> = {}): Promise<TestBroker> {
    const b = await startBroker({
      ...env,
      DATABASE_URL: tempSqliteUrl(),
      QUEUE_PREFIX: uniquePrefix('teams-trust'),
      TEAMS_TENANT_ID: '',
      ...extra,
    });
    brokers.push(b);
    return b;
  }

  beforeAll(async () => {
    cluster = await startScramCluster();
    target = await setupPgTarget(cluster);
    teams = await startTeamsConnectorDouble();
    rogue = await startTeamsConnectorDouble({ tenantId: OTHER_TENANT });
    for (const u of [ALICE, BOB, MALLORY, BOB_ELSEWHERE]) {
      teams.addUser(u);
      teams.install(u.aadObjectId);
    }
    const catalog = writeCatalog([target.entry], {
      perEntry: () => ({ approval: { teamsChannel: CHANNEL, approvers: [{ email: 'bob@example.com' }], required: 1 } }),
    });
    env = { ...journeyEnv(catalog, 'teams-trust'), ...teamsAnonymousEnv(teams) };
  }, 120_000);

  afterAll(async () => {
    for (const b of brokers) await b.stop();
    await teams?.stop();
    await rogue?.stop();
    await cluster?.stop();
  }, 60_000);

  describe('no implicit anonymous mode', () => {
    it('TEAMS_ANONYMOUS on a non-loopback HOST does not start', async () => {
      await expect(startBroker({ ...env, HOST: '0.0.0.0' })).rejects.toThrow(
        /TEAMS_ANONYMOUS=true .* local development only: set HOST to a loopback address/,
      );
    });

    it('a catalog naming a Teams channel with neither TEAMS_APP_ID nor TEAMS_ANONYMOUS does not start, and says which to set', async () => {
      await expect(startBroker({ ...env, TEAMS_ANONYMOUS: '' })).rejects.toThrow(
        /names a Teams channel .* set TEAMS_APP_ID and TEAMS_APP_PASSWORD .* or TEAMS_ANONYMOUS=true with HOST=127\.0\.0\.1/,
      );
    });

    it('TEAMS_ANONYMOUS on localhost starts', async () => {
      const b = await broker({ HOST: 'localhost' });
      expect(b.app.teams?.anonymous).toBe(true);
    });

    it('in anonymous mode the bot talks to TEAMS_SERVICE_URL only, whatever serviceUrl an activity claims', async () => {
      const b = await broker({ TEAMS_TENANT_ID: teams.tenantId });
      // alice's activities claim the rogue connector as their serviceUrl.
      const at = (conversation: string, replyToId?: string): Where => ({
        serviceUrl: rogue.url,
        tenantId: teams.tenantId,
        conversation,
        ...(replyToId && { replyToId }),
      });
      const before = chatOf(ALICE).length;
      expect((await postActivity(b.baseUrl, messageActivity(ALICE, at('personal'), 'help'))).status).toBe(200);
      await teams.waitUntil(
        () =>
          chatOf(ALICE)
            .slice(before)
            .find((m) => /Databases and levels/.test(textOf(m))),
        { what: 'the help reply on TEAMS_SERVICE_URL' },
      );
      const cardsBefore = teams.messagesIn(CHANNEL).length;
      await postActivity(
        b.baseUrl,
        messageActivity(ALICE, at('personal'), `db-access ${target.entry.name} read 10m INC-1 pinned connector`),
      );
      const card = await teams.waitUntil(
        () =>
          teams
            .messagesIn(CHANNEL)
            .slice(cardsBefore)
            .find((m) => !m.replyToId),
        { what: 'the approval card on TEAMS_SERVICE_URL' },
      );
      const requestId = (cardOf(card.activity) as { actions: Array<{ data: { requestId: number } }> }).actions[0]!.data
        .requestId;
      const approved = await postActivity(
        b.baseUrl,
        actionActivity(BOB, at(CHANNEL, card.id), 'approve', { requestId }),
      );
      expect((approved.body as InvokeAnswer).type).toBe('application/vnd.microsoft.card.adaptive');
      await teams.waitUntil(() => /Active until/.test(textOf(teams.message(card.id))), {
        timeoutMs: 20_000,
        what: 'the card to show Active',
      });
      // Replies, member lookups, channel posts, card updates, 1:1 messages: all on the configured connector.
      expect(teams.calls.some((c) => c.method === 'GET' && c.path.includes('/members/'))).toBe(true);
      expect(rogue.calls).toEqual([]);
    });

    it('with TEAMS_APP_ID, a forged token gets a generic 401, is logged through pino, and nothing reaches the console', async () => {
      const spies = (['error', 'warn', 'log', 'info'] as const).map((m) =>
        vi.spyOn(console, m).mockImplementation(() => undefined),
      );
      try {
        const b = await broker({
          TEAMS_ANONYMOUS: 'false',
          TEAMS_APP_ID: '11111111-2222-4333-8444-555555555555',
          TEAMS_APP_PASSWORD: 'not-a-real-secret',
          TEAMS_TENANT_ID: teams.tenantId,
        });
        const where: Where = { serviceUrl: teams.url, tenantId: teams.tenantId, conversation: 'personal' };
        const activity = messageActivity(ALICE, where, `db-access ${target.entry.name} read 1h INC-1 forged`);
        for (const authorization of [undefined, 'Bearer eyJhbGciOiJub25lIn0.eyJhdWQiOiJ4In0.', 'Bearer not-a-jwt']) {
          const res = await postActivity(b.baseUrl, activity, authorization ? { authorization } : {});
          expect(res).toEqual({ status: 401, body: { error: 'unauthorized' } });
        }
        expect(b.logs.filter((l) => l.includes('Bot Framework authentication failed'))).toHaveLength(3);
        for (const spy of spies) expect(spy).not.toHaveBeenCalled();
        expect(await b.app.deps.store.listRequests({})).toEqual([]);
      } finally {
        for (const spy of spies) spy.mockRestore();
      }
    });
  });

  describe('only our own organisation', () => {
    afterEach(() => {
      expect(rogue.calls).toEqual([]);
    });

    it('TEAMS_TENANT_ID: a message from another tenant is explained, audited, and requests nothing', async () => {
      const b = await broker({ TEAMS_TENANT_ID: teams.tenantId });
      const elsewhere: Where = { serviceUrl: rogue.url, tenantId: OTHER_TENANT, conversation: 'personal' };
      const before = chatOf(MALLORY).length;
      expect(
        (
          await postActivity(
            b.baseUrl,
            messageActivity(MALLORY, elsewhere, `db-access ${target.entry.name} read 10m INC-1 rogue tenant`),
          )
        ).status,
      ).toBe(200);
      const told = await teams.waitUntil(
        () =>
          chatOf(MALLORY)
            .slice(before)
            .find((m) => /serves only the organisation it is installed for/.test(textOf(m))),
        { what: 'the explanation' },
      );
      expect(textOf(told)).toMatch(/nothing was done/);
      const [refusal] = await refusals(b, MALLORY);
      expect(refusal).toMatchObject({
        actor: { platform: 'teams', id: MALLORY.aadObjectId },
        detail: { action: 'command', code: 'FORBIDDEN' },
      });
      expect(String((refusal!.detail as { reason: string }).reason)).toContain(OTHER_TENANT);
      expect(await b.app.deps.store.listRequests({})).toEqual([]);
      expect(await b.app.deps.store.getConversation('teams', `user:${MALLORY.aadObjectId}`)).toBeUndefined();
    });

    it('pinned tenant: before any install nothing is served; the first install pins its tenant; another tenant cannot install, ask, approve or reveal', async () => {
      const b = await broker();
      const store = b.app.deps.store;
      const ours = (conversation: string, replyToId?: string): Where => ({
        serviceUrl: teams.url,
        tenantId: teams.tenantId,
        conversation,
        ...(replyToId && { replyToId }),
      });
      const theirs = (conversation: string, replyToId?: string): Where => ({
        serviceUrl: rogue.url,
        tenantId: OTHER_TENANT,
        conversation,
        ...(replyToId && { replyToId }),
      });

      // Nothing is pinned yet: a message is refused (and explained), and pins nothing.
      const chatBefore = chatOf(ALICE).length;
      await postActivity(b.baseUrl, messageActivity(ALICE, ours('personal'), 'help'));
      await teams.waitUntil(
        () =>
          chatOf(ALICE)
            .slice(chatBefore)
            .find((m) => /not set up for any organisation yet/.test(textOf(m))),
        { what: 'the not-installed explanation' },
      );
      expect(await store.getConversation('teams', 'pinned-tenant')).toBeUndefined();

      // alice installs the app: her tenant is pinned, and she gets the welcome.
      expect((await postActivity(b.baseUrl, installActivity(ALICE, ours('personal')))).status).toBe(200);
      await teams.waitUntil(
        () =>
          chatOf(ALICE)
            .slice(chatBefore)
            .find((m) => /Databases and levels/.test(textOf(m))),
        { what: 'the welcome' },
      );
      expect(JSON.parse((await store.getConversation('teams', 'pinned-tenant'))!.reference)).toEqual({
        tenantId: teams.tenantId,
      });

      // An install from another tenant does not move the pin.
      await postActivity(b.baseUrl, installActivity(MALLORY, theirs('personal')));
      await waitFor("mallory's install to be refused", async () =>
        (await refusals(b, MALLORY)).some((e) => (e.detail as { action: string }).action === 'install'),
      );
      expect(JSON.parse((await store.getConversation('teams', 'pinned-tenant'))!.reference)).toEqual({
        tenantId: teams.tenantId,
      });

      // alice asks; the card reaches the channel.
      const cardsBefore = teams.messagesIn(CHANNEL).length;
      await postActivity(
        b.baseUrl,
        messageActivity(ALICE, ours('personal'), `db-access ${target.entry.name} read 10m INC-1 pinned tenant`),
      );
      const card = await teams.waitUntil(
        () =>
          teams
            .messagesIn(CHANNEL)
            .slice(cardsBefore)
            .find((m) => !m.replyToId),
        { what: 'the approval card' },
      );
      const requestId = (cardOf(card.activity) as { actions: Array<{ data: { requestId: number } }> }).actions[0]!.data
        .requestId;

      // Another tenant's person with an approver's email clicks Approve: told no in the invoke response, nothing moves.
      const puts = teams.calls.filter((c) => c.method === 'PUT').length;
      const click = await postActivity(
        b.baseUrl,
        actionActivity(BOB_ELSEWHERE, theirs(CHANNEL, card.id), 'approve', { requestId }),
      );
      expect(click.status).toBe(200);
      expect(click.body).toMatchObject({
        type: 'application/vnd.microsoft.activity.message',
        value: expect.stringMatching(/serves only the organisation it is installed for/),
      });
      expect((await store.getRequest(rid(requestId)))!.status).toBe('pending');
      expect(await store.listApprovals(rid(requestId))).toEqual([]);
      expect(teams.calls.filter((c) => c.method === 'PUT').length).toBe(puts);
      expect((await refusals(b, BOB_ELSEWHERE)).map((e) => e.detail)).toEqual([
        expect.objectContaining({ action: 'click', code: 'FORBIDDEN' }),
      ]);

      // … asks for access, or opens a credentials dialog: the same.
      await postActivity(
        b.baseUrl,
        messageActivity(MALLORY, theirs('personal'), `db-access ${target.entry.name} read 10m INC-1 from elsewhere`),
      );
      await teams.waitUntil(
        () => chatOf(MALLORY).find((m) => /serves only the organisation it is installed for/.test(textOf(m))),
        { what: "mallory's explanation" },
      );
      const dialog = await postActivity(
        b.baseUrl,
        dialogFetchActivity(MALLORY, theirs('personal'), { kind: 'reveal', grantId: 1 }),
      );
      expect(dialog.body).toEqual({
        task: { type: 'message', value: expect.stringMatching(/serves only the organisation/) },
      });
      expect((await refusals(b, MALLORY)).map((e) => (e.detail as { action: string }).action).sort()).toEqual([
        'command',
        'dialog',
        'install',
      ]);
      expect((await store.listRequests({})).map((r) => r.requester.id)).toEqual([ALICE.aadObjectId]);
      for (const u of [MALLORY, BOB_ELSEWHERE])
        expect(await store.getConversation('teams', `user:${u.aadObjectId}`)).toBeUndefined();

      // Our own approver still can.
      const approved = await postActivity(
        b.baseUrl,
        actionActivity(BOB, ours(CHANNEL, card.id), 'approve', { requestId }),
      );
      expect((approved.body as InvokeAnswer).type).toBe('application/vnd.microsoft.card.adaptive');
      expect((await store.getRequest(rid(requestId)))!.status).toBe('approved');
    });

    it('installs from several tenants at once: exactly one tenant is pinned, every other is refused', async () => {
      const b = await broker();
      const tenants = ['tenant-a', 'tenant-b', 'tenant-c', 'tenant-d', 'tenant-e'];
      const people = tenants.map((_t, i) => teamsUser(7 + i, `installer${i}`));
      const answers = await Promise.all(
        tenants.map((tenantId, i) =>
          postActivity(
            b.baseUrl,
            installActivity(people[i]!, { serviceUrl: teams.url, tenantId, conversation: 'personal' }),
          ),
        ),
      );
      expect(answers.map((a) => a.status)).toEqual(tenants.map(() => 200));
      const pinned = (
        JSON.parse((await b.app.deps.store.getConversation('teams', 'pinned-tenant'))!.reference) as {
          tenantId: string;
        }
      ).tenantId;
      expect(tenants).toContain(pinned);
      const refused = (await b.app.deps.store.listAudit({ type: 'access.refused' })).map((e) => e.actor.id);
      expect(refused.sort()).toEqual(
        people
          .filter((_p, i) => tenants[i] !== pinned)
          .map((p) => p.aadObjectId)
          .sort(),
      );
    });
  });
});
