/**
 * Teams payloads copied from Microsoft's documentation (test/fixtures/real/teams, each naming its source), replayed
 * through the real /api/messages (anonymous mode on loopback, the Bot Connector double as the only connector, no
 * TEAMS_TENANT_ID). Only ids are adapted — the tenant, serviceUrl, and the ids the documentation masks — every other
 * field is posted as published. Also: the double's activity builders (src/dev/teams-activities.ts) produce only
 * fields these payloads have, in the same places, so the doubles cannot drift from what Teams sends.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installActivity, messageActivity, postActivity, type Where } from '../../src/dev/teams-activities.js';
import { startTeamsConnectorDouble, type TeamsConnectorDouble, type TeamsUser } from '../../src/dev/teams-connector-double.js';
import type { DatabaseEntry } from '../../src/core/catalog.js';
import { journeyEnv, startBroker, teamsAnonymousEnv, type TestBroker } from '../support/broker.js';
import { writeCatalog } from '../support/catalog.js';
import { REPO_ROOT } from '../support/processes.js';

type Json = Record<string, unknown>;
const FIXTURES = join(REPO_ROOT, 'test/fixtures/real/teams');
const fixture = (name: string): Json => {
  const { _source, ...activity } = JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')) as Json;
  expect(typeof _source).toBe('string');
  return activity;
};

const TENANT = 'tenant-golden';
const ALICE: TeamsUser = { aadObjectId: '00000001-aaaa-4bbb-8ccc-000000000001', id: '29:alice-teams-id', name: 'alice', email: 'alice@example.com' };
const CHANNEL = '19:0b7f32667e064dd9b25d7969801541f4@thread.tacv2';

/** The published tenant ids and masks, replaced wherever they occur. */
function adapt(activity: Json, serviceUrl: string, extra: Record<string, string> = {}): Json {
  const ids: Record<string, string> = { 'b28fdbfd-2b78-4f93-b0f8-8881793f0f8f': TENANT, '<TENANT ID>': TENANT, ...extra };
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return ids[v] ?? v;
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return { ...(walk(activity) as Json), serviceUrl };
}

/** Every field path of a JSON value (`a.b`, arrays as `a[]`), with the kind of value found there. */
function paths(v: unknown, prefix = '', out = new Map<string, string>()): Map<string, string> {
  if (Array.isArray(v)) v.forEach((x) => paths(x, `${prefix}[]`, out));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) paths(x, prefix ? `${prefix}.${k}` : k, out);
  else out.set(prefix, typeof v);
  return out;
}

describe('Teams payloads as Microsoft documents them', () => {
  let teams: TeamsConnectorDouble;
  let broker: TestBroker;
  const where = (conversation: string): Where => ({ serviceUrl: teams.url, tenantId: TENANT, conversation });
  const reference = async (key: string) => {
    const row = await broker.app.deps.store.getConversation('teams', key);
    return row ? (JSON.parse(row.reference) as { serviceUrl?: string; conversation?: { id?: string; tenantId?: string } }) : undefined;
  };

  beforeAll(async () => {
    teams = await startTeamsConnectorDouble({ tenantId: TENANT });
    teams.addUser(ALICE);
    const entry = {
      name: 'appdb',
      engine: 'postgres',
      host: '127.0.0.1',
      port: 5432,
      database: 'appdb',
      admin: { user: 'db_access_admin', password: 'not-used-here' },
      levels: new Map([['read', { name: 'read', roles: [], grants: ['GRANT SELECT ON ALL TABLES IN SCHEMA public TO {{user}}'], guardRails: { connectionLimit: 2 } }]]),
      approval: { required: 1 },
    } as unknown as DatabaseEntry;
    const catalog = writeCatalog([entry], { perEntry: () => ({ approval: { teamsChannel: CHANNEL, approvers: [{ email: 'bob@example.com' }], required: 1 } }) });
    broker = await startBroker({ ...journeyEnv(catalog, 'teams-golden'), ...teamsAnonymousEnv(teams), TEAMS_TENANT_ID: '' });
  }, 60_000);

  afterAll(async () => {
    await broker?.stop();
    await teams?.stop();
  }, 60_000);

  it('installationUpdate (the app added to a team): accepted, its tenant pinned, the channel and the tenant serviceUrl kept', async () => {
    const res = await postActivity(broker.baseUrl, adapt(fixture('installation-update-team.json'), teams.url));
    expect(res.status).toBe(200);
    expect(await broker.app.deps.store.getConversation('teams', 'pinned-tenant')).toMatchObject({ reference: JSON.stringify({ tenantId: TENANT }) });
    expect(await reference(`channel:${CHANNEL}`)).toMatchObject({ serviceUrl: teams.url, conversation: { id: CHANNEL, tenantId: TENANT } });
    expect(await reference(`tenant:${TENANT}`)).toMatchObject({ serviceUrl: teams.url });
    // A team install says nothing in the channel (only a personal install gets the help card).
    expect(teams.messages()).toEqual([]);
  });

  it('conversationUpdate (the bot added to a team): accepted, the channel address kept', async () => {
    const res = await postActivity(broker.baseUrl, adapt(fixture('conversation-update-team.json'), teams.url));
    expect(res.status).toBe(200);
    expect(await reference(`channel:${CHANNEL}`)).toMatchObject({ conversation: { id: CHANNEL } });
    expect(teams.messages()).toEqual([]);
  });

  it('conversationUpdate (the bot added to a 1:1 chat): accepted, the person’s chat address kept for proactive messages', async () => {
    const chat = `a:1${ALICE.aadObjectId}`;
    const activity = adapt(fixture('conversation-update-personal.json'), teams.url, {
      '29:<userID>': ALICE.id,
      '29:<USERID>': ALICE.id,
      '28:<BOT ID>': '28:f5d48856-5b42-41a0-8c3a-c5f944b679b0',
      '<BOT NAME>': 'db-access',
    });
    // The documentation masks both the AAD id and the conversation id as "***".
    (activity.from as Json).aadObjectId = ALICE.aadObjectId;
    ((activity.membersAdded as Json[])[1] as Json).aadObjectId = ALICE.aadObjectId;
    (activity.conversation as Json).id = chat;
    const res = await postActivity(broker.baseUrl, activity);
    expect(res.status).toBe(200);
    expect(await reference(`user:${ALICE.aadObjectId}`)).toMatchObject({ serviceUrl: teams.url, conversation: { id: chat } });
  });

  it('the double’s installationUpdate builder sends only fields Teams sends, where Teams sends them', () => {
    const published = paths(fixture('installation-update-team.json'));
    const built = paths(JSON.parse(JSON.stringify(installActivity(ALICE, where(CHANNEL)))));
    const drift = [...built].filter(([p, kind]) => published.get(p) !== kind).map(([p]) => p);
    expect(drift).toEqual([]);
    // What the product reads is where both put it.
    for (const p of ['conversation.tenantId', 'conversation.conversationType', 'channelData.tenant.id', 'channelData.channel.id', 'channelData.team.id', 'from.aadObjectId', 'recipient.id', 'action']) {
      expect(built.has(p), p).toBe(true);
      expect(published.has(p), p).toBe(true);
    }
  });

  it('the double’s channel message builder mentions the bot the way Teams does (entity text equal to the <at> text)', () => {
    const built = messageActivity(ALICE, where(CHANNEL), 'list') as { text: string; entities: Array<{ type: string; text: string; mentioned: { id: string } }>; recipient: { id: string } };
    expect(built.entities[0]).toMatchObject({ type: 'mention', mentioned: { id: built.recipient.id } });
    expect(built.text.startsWith(built.entities[0]!.text)).toBe(true);
  });
});
