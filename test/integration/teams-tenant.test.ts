/**
 * Proactive 1:1 chats on Teams carry the tenant. Teams opens a conversation only within a tenant the request names
 * (`tenantId` / `channelData.tenant.id`; without one it answers 400 "Could not parse tenant id", and so does the
 * Bot Connector double). A bot without TEAMS_TENANT_ID takes the tenant from the conversation references it stored.
 * Through botbuilder's CloudAdapter (anonymous mode, pinned to the double) and a real SQLite state store.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activityOf, createTeamsAdapter } from '../../src/chat/teams/adapter.js';
import { TeamsConversations } from '../../src/chat/teams/conversations.js';
import { TeamsSender } from '../../src/chat/teams/send.js';
import { messageActivity } from '../../dev/teams/activities.js';
import {
  startTeamsConnectorDouble,
  type TeamsConnectorDouble,
  type TeamsUser,
} from '../../dev/teams/connector-double.js';
import { createLogger } from '../../src/logging.js';
import { migrateLatest, openStateStore, type OpenStateStore } from '../../src/store/index.js';
import { tempSqliteUrl } from '../support/catalog.js';

const CHANNEL = '19:db-approvals@thread.tacv2';
const ALICE: TeamsUser = {
  aadObjectId: '00000001-aaaa-4bbb-8ccc-000000000001',
  id: '29:alice-teams-id',
  name: 'alice',
  email: 'alice@example.com',
};
const BOB: TeamsUser = {
  aadObjectId: '00000002-aaaa-4bbb-8ccc-000000000002',
  id: '29:bob-teams-id',
  name: 'bob',
  email: 'bob@example.com',
};

describe('proactive 1:1 chats on Teams', () => {
  let teams: TeamsConnectorDouble;
  const stores: OpenStateStore[] = [];

  beforeAll(async () => {
    teams = await startTeamsConnectorDouble({ tenantId: 'tenant-from-references' });
    for (const u of [ALICE, BOB]) {
      teams.addUser(u);
      teams.install(u.aadObjectId);
    }
  });

  afterAll(async () => {
    for (const s of stores) await s.close();
    await teams?.stop();
  });

  /** A sender as the app builds it in anonymous mode, with TEAMS_TENANT_ID unset. */
  async function sender(): Promise<{ send: TeamsSender; conversations: TeamsConversations }> {
    const url = tempSqliteUrl();
    await migrateLatest(url);
    const store = await openStateStore(url);
    stores.push(store);
    const conversations = new TeamsConversations(store, { now: () => Date.now() });
    const adapter = createTeamsAdapter({ appId: '', pinnedServiceUrl: teams.url });
    return {
      send: new TeamsSender(adapter, conversations, { appId: '', serviceUrl: teams.url }, createLogger('silent')),
      conversations,
    };
  }

  const creates = () => teams.calls.filter((c) => c.method === 'POST' && c.conversationId === undefined);
  const where = (conversation: string) => ({ serviceUrl: teams.url, tenantId: teams.tenantId, conversation });
  const message = { type: 'message' as const, text: 'hello' };

  it('the double refuses to open a chat that names no tenant, as Teams does', async () => {
    const res = await fetch(new URL('v3/conversations', teams.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ isGroup: false, bot: { id: '28:db-access-bot' }, members: [{ id: ALICE.aadObjectId }] }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: { code: 'BadSyntax', message: 'Could not parse tenant id' } });
  });

  it('names the tenant of the stored references when TEAMS_TENANT_ID is unset (someone seen only in a channel)', async () => {
    const { send, conversations } = await sender();
    // alice has only ever written in the channel: the bot has no 1:1 chat with her yet.
    await conversations.remember(activityOf(messageActivity(ALICE, where(CHANNEL), 'list'))!);
    const before = creates().length;
    const sent = await send.toUser(ALICE.aadObjectId, message);
    const create = creates()[before];
    expect(create?.status).toBe(200);
    expect(create?.body).toMatchObject({
      tenantId: 'tenant-from-references',
      channelData: { tenant: { id: 'tenant-from-references' } },
    });
    expect(sent?.conversationId).toBe(teams.chats.get(ALICE.aadObjectId));
    expect(teams.messagesIn(sent!.conversationId).map((m) => m.activity.text)).toEqual(['hello']);
  });

  it('names the pinned tenant (the one that installed the app) when no other reference is kept', async () => {
    const { send, conversations } = await sender();
    await conversations.pinTenant('tenant-from-references');
    const before = creates().length;
    expect(await send.toUser(BOB.aadObjectId, message)).toBeDefined();
    expect(creates()[before]?.body).toMatchObject({ tenantId: 'tenant-from-references' });
  });
});
