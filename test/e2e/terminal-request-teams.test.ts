/**
 * Terminal sign-in through Teams: the code goes to the person's 1:1 chat with the bot (the Bot Connector double),
 * typed back it files the request as that Teams user, and the approval card appears in the database's channel.
 * The terminal side is the same HTTP API the CLI uses (terminal-request.test.ts drives the CLI itself).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTeamsConnectorDouble, type TeamsConnectorDouble } from '../../dev/teams/connector-double.js';
import { cardOf, cardText } from '../../dev/teams/activities.js';
import { journeyEnv, startBroker, teamsAnonymousEnv, type TestBroker } from '../support/broker.js';
import { writeCatalog } from '../support/catalog.js';
import { setupPgTarget, startScramCluster, type PgCluster, type PgTarget } from '../support/pg-cluster.js';
import { rid } from '../support/ids.js';

const CHANNEL = '19:db-approvals@thread.tacv2';
const ALICE = {
  aadObjectId: '00000001-aaaa-4bbb-8ccc-000000000001',
  id: '29:alice',
  name: 'alice',
  email: 'alice@example.com',
};
const ZOE = {
  aadObjectId: '00000006-aaaa-4bbb-8ccc-000000000006',
  id: '29:zoe',
  name: 'zoe',
  email: 'zoe@example.com',
};
const CODE = /Your code: (\d{6}) /;

describe('db-access request through Teams', () => {
  let cluster: PgCluster;
  let target: PgTarget;
  let teams: TeamsConnectorDouble;
  let broker: TestBroker;

  beforeAll(async () => {
    cluster = await startScramCluster();
    target = await setupPgTarget(cluster);
    teams = await startTeamsConnectorDouble();
    teams.addUser(ALICE);
    teams.addUser(ZOE); // the app is not installed for her: the bot cannot reach her
    teams.install(ALICE.aadObjectId);
    const catalog = writeCatalog([target.entry], {
      perEntry: () => ({ approval: { teamsChannel: CHANNEL, approvers: [{ email: 'bob@example.com' }] } }),
    });
    broker = await startBroker({
      ...journeyEnv(catalog, 'terminal-teams'),
      ...teamsAnonymousEnv(teams),
      TERMINAL_TOKEN_SECRET: 'terminal-secret-0123456789abcdef-0123456789',
    });
  }, 120_000);

  afterAll(async () => {
    await broker?.stop();
    await teams?.stop();
    await cluster?.stop();
  }, 60_000);

  async function post(path: string, body: unknown) {
    const res = await fetch(`${broker.baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'db-access-cli (alice@laptop)' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it('the code arrives in the 1:1 chat as plain text; typed back, the request is filed as that Teams user', async () => {
    const login = await post('/terminal/v1/login', {
      as: `teams:${ALICE.aadObjectId}`,
      database: target.entry.name,
      level: 'read',
      duration: '30m',
      reason: 'from my shell',
    });
    expect(login.status).toBe(202);
    const dm = await teams.waitUntil(() => teams.messages().find((m) => CODE.test(String(m.activity.text ?? ''))), {
      timeoutMs: 10_000,
      what: 'the code in alice’s chat',
    });
    expect(dm.conversationId).toBe(teams.chats.get(ALICE.aadObjectId));
    expect(dm.activity.textFormat).toBe('plain');
    expect(String(dm.activity.text)).toContain('db-access-cli (alice@laptop)');
    const code = CODE.exec(String(dm.activity.text))![1]!;

    const verified = await post('/terminal/v1/verify', { loginId: login.body.loginId, code });
    expect(verified.status).toBe(201);
    const requestId = (verified.body.request as { id: number }).id;
    const request = (await broker.app.deps.store.getRequest(rid(requestId)))!;
    // Teams stated her email: she is the same person as alice@example.com anywhere else.
    expect(request.requester).toMatchObject({ platform: 'teams', id: ALICE.aadObjectId, email: ALICE.email });
    const card = await teams.waitUntil(() => teams.messagesIn(CHANNEL).find((m) => !m.replyToId), {
      timeoutMs: 10_000,
      what: 'the approval card',
    });
    expect(cardText(cardOf(card.activity))).toContain('from my shell');
  }, 60_000);

  it('someone the bot cannot reach, or an id Teams does not know, gets the usual answer and no message goes out', async () => {
    const before = teams.messages().length;
    for (const id of [ZOE.aadObjectId, '0000000f-aaaa-4bbb-8ccc-00000000000f']) {
      const r = await post('/terminal/v1/login', {
        as: `teams:${id}`,
        database: target.entry.name,
        level: 'read',
        duration: '30m',
        reason: 'probe',
      });
      expect(r.status).toBe(202);
    }
    expect(teams.messages().length).toBe(before);
    const failed = (await broker.app.deps.store.listAudit({ type: 'terminal.login' })).filter(
      (e) => e.detail.outcome === 'failed',
    );
    expect(failed).toHaveLength(2);
  }, 60_000);
});
