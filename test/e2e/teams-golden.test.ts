/**
 * Teams payloads as Teams sent them, from Microsoft's documentation and from activities Microsoft recorded in its SDK
 * repositories (test/fixtures/real/teams, each naming its source), replayed through the real /api/messages (anonymous
 * mode on loopback, the Bot Connector double as the only connector, no TEAMS_TENANT_ID). Only ids are adapted — the
 * tenant, serviceUrl, the people (so the double knows them) and the ids the documentation masks — and, where a test
 * says so, the app-defined part: the words typed after the mention, a clicked button's verb and data. Every other field
 * is posted as published. Also: the double's activity builders (dev/teams/activities.ts) produce only fields these
 * payloads have, in the same places, so the doubles cannot drift from what Teams sends.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
  type TeamsConnectorDouble,
  type TeamsUser,
} from '../../dev/teams/connector-double.js';
import type { DatabaseEntry } from '../../src/core/catalog.js';
import { journeyEnv, startBroker, teamsAnonymousEnv, type TestBroker } from '../support/broker.js';
import { writeCatalog } from '../support/catalog.js';
import { REPO_ROOT } from '../support/processes.js';
import { rid } from '../support/ids.js';

type Json = Record<string, unknown>;
const FIXTURES = join(REPO_ROOT, 'test/fixtures/real/teams');
const fixture = (name: string): Json => {
  const { _source, ...activity } = JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')) as Json;
  expect(typeof _source).toBe('string');
  return activity;
};

const TENANT = 'tenant-golden';
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
const CHANNEL = '19:0b7f32667e064dd9b25d7969801541f4@thread.tacv2';

/** The tenant ids (and masks) of the published payloads. */
const PUBLISHED_TENANTS: Record<string, string> = Object.fromEntries(
  [
    'b28fdbfd-2b78-4f93-b0f8-8881793f0f8f',
    '<TENANT ID>',
    '72f988bf-86f1-41af-91ab-2d7cd011db47',
    '50612dbb-0237-4969-b378-8d42590f9c00',
    '56653e9d-2158-46ee-90d7-675c39642038',
  ].map((t) => [t, TENANT]),
);

/** The people of the published payloads: their Teams and AAD ids become those of a person the double knows. */
const as = (u: TeamsUser, published: Json): Record<string, string> => {
  const from = published.from as { id: string; aadObjectId: string };
  return { [from.id]: u.id, [from.aadObjectId]: u.aadObjectId };
};

/** The published tenant ids and masks (and `extra` ids), replaced wherever they occur. */
function adapt(activity: Json, serviceUrl: string, extra: Record<string, string> = {}): Json {
  const ids: Record<string, string> = { ...PUBLISHED_TENANTS, ...extra };
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
  else if (v && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) paths(x, prefix ? `${prefix}.${k}` : k, out);
  else out.set(prefix, typeof v);
  return out;
}

describe('Teams payloads as Microsoft documents them', () => {
  let teams: TeamsConnectorDouble;
  let broker: TestBroker;
  const where = (conversation: string): Where => ({ serviceUrl: teams.url, tenantId: TENANT, conversation });
  const reference = async (key: string) => {
    const row = await broker.app.deps.store.getConversation('teams', key);
    return row
      ? (JSON.parse(row.reference) as { serviceUrl?: string; conversation?: { id?: string; tenantId?: string } })
      : undefined;
  };

  beforeAll(async () => {
    teams = await startTeamsConnectorDouble({ tenantId: TENANT });
    for (const u of [ALICE, BOB]) {
      teams.addUser(u);
      teams.install(u.aadObjectId);
    }
    const entry = {
      name: 'appdb',
      engine: 'postgres',
      host: '127.0.0.1',
      port: 5432,
      database: 'appdb',
      admin: { user: 'db_access_admin', password: 'not-used-here' },
      levels: new Map([
        [
          'read',
          {
            name: 'read',
            roles: [],
            grants: ['GRANT SELECT ON ALL TABLES IN SCHEMA public TO {{user}}'],
            guardRails: { connectionLimit: 2 },
          },
        ],
      ]),
      approval: { required: 1 },
    } as unknown as DatabaseEntry;
    const catalog = writeCatalog([entry], {
      perEntry: () => ({ approval: { teamsChannel: CHANNEL, approvers: [{ email: 'bob@example.com' }], required: 1 } }),
    });
    broker = await startBroker({
      ...journeyEnv(catalog, 'teams-golden'),
      ...teamsAnonymousEnv(teams),
      TEAMS_TENANT_ID: '',
    });
  }, 60_000);

  afterAll(async () => {
    await broker?.stop();
    await teams?.stop();
  }, 60_000);

  it('installationUpdate (the app added to a team): accepted, its tenant pinned, the channel and the tenant serviceUrl kept', async () => {
    const res = await postActivity(broker.baseUrl, adapt(fixture('installation-update-team.json'), teams.url));
    expect(res.status).toBe(200);
    expect(await broker.app.deps.store.getConversation('teams', 'pinned-tenant')).toMatchObject({
      reference: JSON.stringify({ tenantId: TENANT }),
    });
    expect(await reference(`channel:${CHANNEL}`)).toMatchObject({
      serviceUrl: teams.url,
      conversation: { id: CHANNEL, tenantId: TENANT },
    });
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
    expect(await reference(`user:${ALICE.aadObjectId}`)).toMatchObject({
      serviceUrl: teams.url,
      conversation: { id: chat },
    });
  });

  // The messages and invokes below are from the pinned tenant (the installationUpdate above pinned it).

  /** The published message with the words after the mention replaced by `words`, in its text and its HTML copy. */
  function saying(name: string, published: string, words: string, u: TeamsUser): Json {
    const original = fixture(name);
    const activity = adapt(original, teams.url, as(u, original));
    expect(activity.text).toContain(published);
    activity.text = (activity.text as string).replace(published, words);
    const html = words.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    activity.attachments = (activity.attachments as Array<{ contentType: string; content: string }>).map((a) => ({
      ...a,
      content: a.content.replace(published, html),
    }));
    return activity;
  }

  /** What the bot answered in the thread of `activity` (a channel post or a reply in its thread). */
  const answersTo = (activity: Json) =>
    teams
      .messagesIn((activity.conversation as { id: string }).id)
      .map((m) => cardText(cardOf(m.activity)) || String(m.activity.text ?? ''));

  async function say(activity: Json): Promise<string> {
    const before = answersTo(activity).length;
    const res = await postActivity(broker.baseUrl, activity);
    expect(res.status).toBe(200);
    const answers = answersTo(activity);
    expect(answers.length).toBe(before + 1);
    return answers.at(-1)!;
  }

  const approvalCards = () => teams.messagesIn(CHANNEL).filter((m) => !m.replyToId);

  /** alice's request filed with the published channel message, as typed after the mention; returns its id. */
  async function requestInChannel(reason: string): Promise<number> {
    const before = approvalCards().length;
    const answer = await say(
      saying('message-channel-mention.json', 'reply to thread', `appdb read 1h INC-7 ${reason}`, ALICE),
    );
    expect(answer).toMatch(/Request #\d+ for .*appdb.* sent to/);
    const card = await teams.waitUntil(() => approvalCards().length > before && approvalCards().at(-1), {
      what: 'the approval card in the approvers’ channel',
    });
    const approve = (
      cardOf(card.activity) as { actions: Array<{ verb?: string; data?: { requestId?: number } }> }
    ).actions.find((a) => a.verb === 'approve');
    const requestId = Number(approve?.data?.requestId);
    expect(Number(/Request #(\d+)/.exec(answer)![1])).toBe(requestId);
    return requestId;
  }

  /** The published Action.Execute click, by `u`, on a button of ours: its verb and data are the button's. */
  function click(u: TeamsUser, verb: string, data: Json): Json {
    const original = fixture('invoke-adaptive-card-action.json');
    const activity = adapt(original, teams.url, as(u, original));
    const value = activity.value as { action: Json };
    value.action = { ...value.action, verb, data: { verb, ...data } };
    return activity;
  }

  type CardAnswer = { statusCode: number; type: string; value: unknown };

  it('a channel message with an @mention (a reply in a thread): the words after the mention are the command, the mention is not read', async () => {
    // As published: "reply to thread" read as a request for a database "reply" (the mention, "ridotest", not read).
    const published = fixture('message-channel-mention.json');
    expect(await say(adapt(published, teams.url, as(ALICE, published)))).toBe(
      'Unknown database "reply". Choose one of: appdb.',
    );
    // "help": the help card, with the catalog's databases.
    const help = await say(saying('message-channel-mention.json', 'reply to thread', 'help', ALICE));
    expect(help.split('\n')[0]).toBe('Database access');
    expect(help).toContain('Databases and levels\n- appdb: read');
    // A request command files a request: the approvers' channel gets its card, the thread gets the answer.
    const requestId = await requestInChannel('checking stuck orders');
    const request = await broker.app.deps.store.getRequest(rid(requestId));
    expect(request).toMatchObject({
      status: 'pending',
      database: 'appdb',
      level: 'read',
      reason: 'checking stuck orders',
      requester: { id: ALICE.aadObjectId },
    });
    // The thread's channel is kept as an address, not the thread (the conversation id names the message).
    expect(await reference('channel:19:6848757105754c8981c67612732d9aa7@thread.tacv2')).toMatchObject({
      conversation: { id: '19:6848757105754c8981c67612732d9aa7@thread.tacv2' },
    });
  });

  it('a new channel post typed "@bot list" with no space after the mention (as Teams recorded it): the list answer', async () => {
    const published = fixture('message-channel-mention-list.json');
    expect(published.text).toBe('<at>My Combined</at>list\n');
    const answer = await say(adapt(published, teams.url, as(ALICE, published)));
    expect(answer).toMatch(/^Pending\n- Access request #\d+: read on appdb for 1h · ⏳ Waiting for approval/);
  });

  it('adaptiveCard/action: our Deny and Approve verbs decide, answered with the updated card (200); a click without our verb changes nothing', async () => {
    const first = await requestInChannel('first try');
    // As published (that card's button had no verb): an explicit sentence, the request untouched.
    const published = fixture('invoke-adaptive-card-action.json');
    const stray = await postActivity(broker.baseUrl, adapt(published, teams.url, as(BOB, published)));
    expect(stray.status).toBe(200);
    expect(stray.body).toMatchObject({ statusCode: 200, type: 'application/vnd.microsoft.activity.message' });
    expect(String((stray.body as CardAnswer).value)).toMatch(/older version/);
    expect((await broker.app.deps.store.getRequest(rid(first)))!.status).toBe('pending');

    const denied = await postActivity(
      broker.baseUrl,
      click(BOB, 'deny', { requestId: first, note: 'use the replica' }),
    );
    expect(denied.status).toBe(200);
    expect(denied.body).toMatchObject({
      statusCode: 200,
      type: 'application/vnd.microsoft.card.adaptive',
      value: { type: 'AdaptiveCard' },
    });
    expect(cardText((denied.body as CardAnswer).value)).toMatch(/Denied by .*bob.*: use the replica/);
    expect((await broker.app.deps.store.getRequest(rid(first)))!.status).toBe('denied');

    const second = await requestInChannel('second try');
    const approved = await postActivity(broker.baseUrl, click(BOB, 'approve', { requestId: second }));
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({
      statusCode: 200,
      type: 'application/vnd.microsoft.card.adaptive',
      value: { type: 'AdaptiveCard' },
    });
    expect(cardText((approved.body as CardAnswer).value)).toMatch(/Approved by .*bob/);
    expect((await broker.app.deps.store.getRequest(rid(second)))!.status).toBe('approved');
  });

  it('task/fetch: our dialog button’s data is read (a grant that is not there is refused by number); another button’s data gets a sentence, not an error', async () => {
    const published = fixture('invoke-task-fetch.json');
    const asPublished = await postActivity(broker.baseUrl, adapt(published, teams.url, as(ALICE, published)));
    expect(asPublished.status).toBe(200);
    expect(asPublished.body).toEqual({ task: { type: 'message', value: 'Unknown dialog.' } });

    // Teams drops the button's `msteams` and adds `type: "task/fetch"` to the rest of its data, as published.
    const ours = adapt(published, teams.url, as(ALICE, published));
    (ours.value as { data: Json }).data = { type: 'task/fetch', kind: 'reveal', grantId: 424242 };
    const refused = await postActivity(broker.baseUrl, ours);
    expect(refused.status).toBe(200);
    expect(refused.body).toEqual({
      task: { type: 'message', value: 'Grant #424242 does not exist. Check the number with db-access list.' },
    });
  });

  it('task/submit: db-access dialogs have nothing to submit; a submit is answered with a sentence (200), not an error', async () => {
    const published = fixture('invoke-task-submit.json');
    const res = await postActivity(broker.baseUrl, adapt(published, teams.url, as(ALICE, published)));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      task: { type: 'message', value: 'db-access dialogs have nothing to submit, so nothing was done.' },
    });
  });

  it('the double’s installationUpdate builder sends only fields Teams sends, where Teams sends them', () => {
    const published = paths(fixture('installation-update-team.json'));
    const built = paths(JSON.parse(JSON.stringify(installActivity(ALICE, where(CHANNEL)))));
    const drift = [...built].filter(([p, kind]) => published.get(p) !== kind).map(([p]) => p);
    expect(drift).toEqual([]);
    // What the product reads is where both put it.
    for (const p of [
      'conversation.tenantId',
      'conversation.conversationType',
      'channelData.tenant.id',
      'channelData.channel.id',
      'channelData.team.id',
      'from.aadObjectId',
      'recipient.id',
      'action',
    ]) {
      expect(built.has(p), p).toBe(true);
      expect(published.has(p), p).toBe(true);
    }
  });

  it('the double’s channel message builder mentions the bot the way Teams does (entity text equal to the <at> text)', () => {
    const built = messageActivity(ALICE, where(CHANNEL), 'list') as {
      text: string;
      entities: Array<{ type: string; text: string; mentioned: { id: string } }>;
      recipient: { id: string };
    };
    expect(built.entities[0]).toMatchObject({ type: 'mention', mentioned: { id: built.recipient.id } });
    expect(built.text.startsWith(built.entities[0]!.text)).toBe(true);
  });
  /** Paths of `built` that `published` lacks or holds another kind of value at; `appDefined` paths (a button's own
   *  verb and data, which no two apps share) are not compared. */
  function drift(published: Json, built: Json, appDefined: RegExp[] = []): string[] {
    const theirs = paths(published);
    return [...paths(JSON.parse(JSON.stringify(built)))]
      .filter(([p, kind]) => !appDefined.some((a) => a.test(p)) && theirs.get(p) !== kind)
      .map(([p]) => p);
  }

  it('the double’s channel message builder sends only fields Teams sends, where Teams sends them (both recorded channel messages)', () => {
    const built = messageActivity(ALICE, where(CHANNEL), 'list');
    for (const name of ['message-channel-mention.json', 'message-channel-mention-list.json']) {
      expect(drift(fixture(name), built), name).toEqual([]);
      for (const p of [
        'text',
        'entities[].type',
        'entities[].text',
        'entities[].mentioned.id',
        'conversation.tenantId',
        'conversation.conversationType',
        'channelData.tenant.id',
        'channelData.channel.id',
        'from.aadObjectId',
        'recipient.id',
      ]) {
        expect(paths(fixture(name)).has(p), `${name}: ${p}`).toBe(true);
        expect(paths(built).has(p), p).toBe(true);
      }
    }
  });

  it('the double’s Action.Execute click builder sends only fields Teams sends, where Teams sends them', () => {
    const built = actionActivity(ALICE, { ...where('personal'), replyToId: '1767765488332' }, 'approve', {
      requestId: 1,
    });
    expect(
      drift(fixture('invoke-adaptive-card-action.json'), built, [/^value\.action\.verb$/, /^value\.action\.data\./]),
    ).toEqual([]);
    for (const p of [
      'name',
      'value.action.type',
      'value.trigger',
      'conversation.tenantId',
      'channelData.tenant.id',
      'from.aadObjectId',
      'replyToId',
    ])
      expect(paths(built).has(p), p).toBe(true);
  });

  it('the double’s dialog (task/fetch) builder sends only fields Teams sends, where Teams sends them', () => {
    const built = dialogFetchActivity(
      ALICE,
      { ...where(CHANNEL), replyToId: '1571537828561' },
      { kind: 'reveal', grantId: 1 },
    );
    expect(drift(fixture('invoke-task-fetch.json'), built, [/^value\.data\.(?!type$)/])).toEqual([]);
    for (const p of [
      'name',
      'value.data.type',
      'value.context.theme',
      'conversation.tenantId',
      'channelData.tenant.id',
      'from.aadObjectId',
    ])
      expect(paths(built).has(p), p).toBe(true);
  });
});
