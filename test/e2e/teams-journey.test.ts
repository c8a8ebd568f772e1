/**
 * The Teams journey end to end: Activities POSTed to the real /api/messages (botbuilder's CloudAdapter in local
 * anonymous mode: TEAMS_ANONYMOUS=true on a loopback HOST, the bot talking to TEAMS_SERVICE_URL only) — that URL is
 * a local Bot Connector double recording every message, update and conversation the bot asks for; a real
 * PostgreSQL target with password auth, real Redis and a real state store.
 * Assertions are about what each person sees.
 */
import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revoke } from '../../src/core/lifecycle.js';
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
import { journeyEnv, startBroker, teamsAnonymousEnv, type TestBroker } from '../support/broker.js';
import { tempSqliteUrl, writeCatalog } from '../support/catalog.js';
import { setupPgTarget, startScramCluster, type PgCluster, type PgTarget } from '../support/pg-cluster.js';
import { uniquePrefix } from '../support/redis.js';
import { waitFor } from '../support/wait.js';
import { rid } from '../support/ids.js';

const CHANNEL = '19:db-approvals@thread.tacv2';
const SECURITY = '19:security@thread.tacv2';
const ALICE = teamsUser(1, 'alice');
const BOB = teamsUser(2, 'bob');
const CAROL = teamsUser(3, 'carol');
const DAVE = teamsUser(4, 'dave');
const MALLORY = teamsUser(5, 'mallory');
const ZOE = teamsUser(6, 'zoe');

type InvokeAnswer = { statusCode: number; type: string; value: unknown };

describe('Teams journey', () => {
  let cluster: PgCluster;
  let target: PgTarget;
  let teams: TeamsConnectorDouble;
  let broker: TestBroker;
  let env: Record<string, string>;
  const passwords: string[] = [];

  const store = () => broker.app.deps.store;
  const where = (conversation: string, replyToId?: string): Where => ({
    serviceUrl: teams.url,
    tenantId: teams.tenantId,
    conversation,
    ...(replyToId && { replyToId }),
  });
  const chatId = (u: TeamsUser) => `a:chat-${u.aadObjectId}`;
  const chatOf = (u: TeamsUser) => teams.messagesIn(chatId(u));
  const cards = () => teams.messagesIn(CHANNEL).filter((m) => !m.replyToId);
  const textOf = (m: PostedActivity | undefined) => cardText(cardOf(m?.activity));
  const latest = (id: string) => teams.message(id)!;

  async function say(u: TeamsUser, text: string, conversation = 'personal') {
    const res = await postActivity(broker.baseUrl, messageActivity(u, where(conversation), text));
    expect(res.status).toBe(200);
  }

  /** A click on an Action.Execute button of the channel card `cardId`; the answer is the HTTP response body. */
  async function click(
    u: TeamsUser,
    verb: string,
    data: Record<string, unknown>,
    cardId?: string,
    conversation = CHANNEL,
  ): Promise<InvokeAnswer> {
    const res = await postActivity(broker.baseUrl, actionActivity(u, where(conversation, cardId), verb, data));
    expect(res.status).toBe(200);
    return res.body as InvokeAnswer;
  }

  const toastOf = (a: InvokeAnswer) =>
    a.type === 'application/vnd.microsoft.activity.message' ? String(a.value) : undefined;

  /** `text` as alice in her 1:1 chat; returns the new approval card. */
  async function requestAs(u: TeamsUser, text: string, conversation = 'personal') {
    const before = cards().length;
    await say(u, text, conversation);
    const card = await teams.waitUntil(() => cards().length > before && cards().at(-1), {
      timeoutMs: 10_000,
      what: 'an approval card',
    });
    const approve = (
      cardOf(card.activity) as { actions?: Array<{ verb?: string; data?: { requestId?: number } }> }
    ).actions?.find((a) => a.verb === 'approve');
    return { card, requestId: Number(approve?.data?.requestId) };
  }

  async function activeGrant(requestId: number) {
    return waitFor('the grant to be active', async () => {
      const g = await store().getGrantByRequest(rid(requestId));
      return g?.status === 'active' ? g : undefined;
    });
  }

  beforeAll(async () => {
    cluster = await startScramCluster();
    target = await setupPgTarget(cluster);
    teams = await startTeamsConnectorDouble();
    for (const u of [ALICE, BOB, CAROL, DAVE, MALLORY, ZOE]) teams.addUser(u);
    for (const u of [ALICE, BOB, CAROL, DAVE, MALLORY]) teams.install(u.aadObjectId);
    const approval = {
      teamsChannel: CHANNEL,
      approvers: [{ email: 'bob@example.com' }, { email: 'carol@example.com' }, { email: 'dave@example.com' }],
      required: 1,
      timeout: '30m',
    };
    const catalog = writeCatalog(
      [
        target.entry,
        { ...target.entry, name: 'appdb-two' },
        { ...target.entry, name: 'appdb-quick' },
        { ...target.entry, name: 'appdb-msg' },
        { ...target.entry, name: 'appdb-policy' },
        {
          ...target.entry,
          name: 'appdb-broken',
          levels: new Map([['read', { ...target.levels.read, roles: ['no_such_role'] }]]),
        },
      ],
      {
        perEntry: (d) =>
          d.name === 'appdb-two'
            ? { approval: { ...approval, required: 2 } }
            : d.name === 'appdb-quick'
              ? { approval: { ...approval, timeout: '2s' } }
              : d.name === 'appdb-msg'
                ? { approval, delivery: 'message' }
                : d.name === 'appdb-policy'
                  ? {
                      approval: {
                        teamsChannel: CHANNEL,
                        approvers: [{ email: 'bob@example.com' }],
                        escalation: [{ after: '2s', approvers: [{ email: 'carol@example.com' }] }],
                        breakGlass: {
                          users: ['alice@example.com'],
                          teamsAlertChannel: SECURITY,
                          maxDuration: '30m',
                          reviewWithin: '1h',
                        },
                      },
                    }
                  : { approval },
      },
    );
    env = { ...journeyEnv(catalog, 'teams'), ...teamsAnonymousEnv(teams) };
    broker = await startBroker(env);
  }, 120_000);

  afterAll(async () => {
    await broker?.stop();
    await teams?.stop();
    await cluster?.stop();
  }, 60_000);

  it('the whole journey: request in a 1:1 chat → card in the channel → Approve → credentials in a dialog → reminder → expiry', async () => {
    // 1. alice asks inline in her chat with the bot; the bot answers there, naming who was asked.
    const { card, requestId } = await requestAs(ALICE, 'db-access appdb read 14s INC-42 checking stuck orders');
    const answer = await teams.waitUntil(
      () => chatOf(ALICE).find((m) => /Request #\d+ for .* sent to/.test(textOf(m))),
      { what: 'the request answer' },
    );
    expect(textOf(answer)).toContain('bob@example.com');

    // 2. The channel card says who wants what and why, mentions the approvers, and has Approve / Deny.
    const shown = textOf(card);
    for (const s of ['alice', 'appdb', 'read', '14s', 'INC-42', 'checking stuck orders', '[Approve]', '[Deny]'])
      expect(shown).toContain(s);
    const entities =
      (cardOf(card.activity) as { msteams: { entities?: Array<{ mentioned: { id: string } }> } }).msteams.entities ??
      [];
    expect(entities.map((e) => e.mentioned.id).sort()).toEqual(
      ['bob@example.com', 'carol@example.com', 'dave@example.com', ALICE.aadObjectId].sort(),
    );

    // 3. mallory (not an approver) and alice (the requester) are told no, privately; nothing moves.
    const callsBefore = teams.calls.length;
    expect(toastOf(await click(MALLORY, 'approve', { requestId }, card.id))).toMatch(/can't approve/i);
    expect(toastOf(await click(ALICE, 'approve', { requestId }, card.id))).toMatch(/your own request/i);
    expect(teams.calls.slice(callsBefore).filter((c) => c.method !== 'GET')).toEqual([]);
    expect((await store().getRequest(rid(requestId)))!.status).toBe('pending');

    // 4. carol approves: her answer is the updated card; everyone's card moves to Active; alice gets a 1:1 message.
    const approved = await click(CAROL, 'approve', { requestId }, card.id);
    expect(approved.type).toBe('application/vnd.microsoft.card.adaptive');
    expect(cardText(approved.value)).toMatch(/Approved by <at>carol|Active until/);
    await teams.waitUntil(() => /Active until/.test(textOf(latest(card.id))), {
      timeoutMs: 15_000,
      what: 'the card to show Active',
    });
    expect(textOf(latest(card.id))).toMatch(/approved by <at>carol<\/at>/i);
    expect(textOf(latest(card.id))).toContain('[Revoke now]');
    const grant = await activeGrant(requestId);
    // The granted 14 s run from when the user exists, not from the click.
    expect(grant.expiresAt).toBe(grant.activatedAt! + 14_000);
    const dm = await teams.waitUntil(() => chatOf(ALICE).find((m) => /is active until/.test(textOf(m))), {
      what: "alice's access message",
    });
    expect(textOf(dm)).toContain('[Show credentials]');

    // 5. Show credentials opens a dialog with freshly rotated credentials: the only place they appear.
    const reveal = await postActivity(
      broker.baseUrl,
      dialogFetchActivity(ALICE, where('personal'), { kind: 'reveal', grantId: grant.id }),
    );
    expect(reveal.status).toBe(200);
    const dialog = (reveal.body as { task: { type: string; value: { card: { content: unknown } } } }).task;
    expect(dialog.type).toBe('continue');
    const dialogText = cardText(dialog.value.card.content);
    expect(dialogText).toContain(grant.username);
    const password = /Password: ([A-Za-z0-9]{32})/.exec(dialogText)?.[1];
    expect(password).toBeDefined();
    passwords.push(password!);
    const session = await target.connectAs(grant.username, password!);
    expect((await session.query('SELECT count(*) FROM items')).length).toBe(1);
    // Someone else's click on the same button gets no credentials.
    const stolen = await postActivity(
      broker.baseUrl,
      dialogFetchActivity(MALLORY, where('personal'), { kind: 'reveal', grantId: grant.id }),
    );
    expect((stolen.body as { task: { type: string; value: string } }).task).toMatchObject({
      type: 'message',
      value: expect.stringMatching(/not yours|can't/i),
    });

    // 6. Before expiry, a 1:1 reminder with Extend and I'm done.
    const reminder = await teams.waitUntil(() => chatOf(ALICE).find((m) => /expires in/.test(textOf(m))), {
      timeoutMs: 20_000,
      what: 'the reminder',
    });
    expect(textOf(reminder)).toContain('[Extend]');
    expect(textOf(reminder)).toContain("[I'm done]");

    // 7. At expiry: session ended, user dropped, card says Expired, receipt in the thread, the 1:1 message updated.
    await session.ended;
    await teams.waitUntil(() => /Expired/.test(textOf(latest(card.id))), {
      timeoutMs: 20_000,
      what: 'the card to show Expired',
    });
    expect(textOf(latest(card.id))).not.toContain('[Revoke now]');
    const receipt = await teams.waitUntil(
      () => teams.messagesIn(CHANNEL).find((m) => m.replyToId === card.id && /session/.test(textOf(m))),
      { what: 'the receipt' },
    );
    expect(textOf(receipt)).toMatch(/1 session terminated/);
    expect(textOf(receipt)).toContain(grant.username);
    expect(await target.userExists(grant.username)).toBe(false);
    await teams.waitUntil(
      () => /Expired/.test(textOf(latest(dm.id))) && !textOf(latest(dm.id)).includes('[Show credentials]'),
      { what: 'the 1:1 message to end' },
    );

    // The password is in no call the bot made to Teams.
    expect(teams.calls.filter((c) => JSON.stringify(c.body ?? {}).includes(password!))).toEqual([]);
  });

  it('with TEAMS_APP_ID set, an unsigned or forged activity gets 401 and nothing happens', async () => {
    const signed = await startBroker({
      ...env,
      DATABASE_URL: tempSqliteUrl(),
      QUEUE_PREFIX: uniquePrefix('teams-signed'),
      TEAMS_ANONYMOUS: 'false',
      TEAMS_APP_ID: '11111111-2222-4333-8444-555555555555',
      TEAMS_APP_PASSWORD: 'not-a-real-secret',
    });
    try {
      const activity = messageActivity(ALICE, where('personal'), 'db-access appdb read 1h INC-1 forged');
      expect((await postActivity(signed.baseUrl, activity)).status).toBe(401);
      expect(
        (await postActivity(signed.baseUrl, activity, { authorization: 'Bearer eyJhbGciOiJub25lIn0.eyJhdWQiOiJ4In0.' }))
          .status,
      ).toBe(401);
      expect(await signed.app.deps.store.listRequests({})).toEqual([]);
      expect(teams.calls.filter((c) => JSON.stringify(c.body ?? {}).includes('forged'))).toEqual([]);
    } finally {
      await signed.stop();
    }
  });

  it('in anonymous mode only local callers are accepted', async () => {
    // Through a proxy on this host (a forwarded request) is not local.
    const proxied = await postActivity(broker.baseUrl, messageActivity(ALICE, where('personal'), 'db-access list'), {
      'x-forwarded-for': '203.0.113.9',
    });
    expect(proxied.status).toBe(401);
    const external = Object.values(networkInterfaces())
      .flat()
      .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
    if (!external) {
      // A machine with loopback only cannot call itself from elsewhere; the loopback side is covered by every other test.
      expect(external).toBeUndefined();
      return;
    }
    // HOST is loopback, so the server is not even reachable there; were it bound wider, the caller check answers 401.
    const url = broker.baseUrl.replace('127.0.0.1', external);
    const res = await postActivity(url, messageActivity(ALICE, where('personal'), 'db-access list')).catch(
      (err: unknown) => err,
    );
    if (res instanceof Error)
      expect(String((res.cause as { code?: string } | undefined)?.code ?? res.message)).toMatch(/ECONNREFUSED/);
    else expect((res as { status: number }).status).toBe(401);
  });

  it('a user-supplied reason is shown literally and mentions nobody', async () => {
    const hostile = '<at>bob</at> **urgent** [click](https://evil.example) _x_ \\ # end';
    const { card, requestId } = await requestAs(ALICE, `db-access appdb read 10m INC-7 ${hostile}`);
    const json = JSON.stringify(cardOf(card.activity));
    // The reason is in TextRuns, which show their characters as they are; no TextBlock (markdown) holds it unescaped,
    // and nothing links anywhere.
    const blocks: string[] = [];
    const runs: string[] = [];
    JSON.parse(json, (k, v: unknown) => {
      if (v && typeof v === 'object' && 'type' in v && 'text' in v)
        (v.type === 'TextRun' ? runs : blocks).push(String(v.text));
      return v;
    });
    expect(runs.join('')).toContain('**urgent** [click](https://evil.example) _x_ \\ # end');
    expect(blocks.join('\n')).not.toContain('[click](https://evil.example)');
    expect(blocks.join('\n')).not.toContain('**urgent**');
    expect(json).not.toContain('Action.OpenUrl');
    expect(json).not.toMatch(/<at>bob<\/at>/);
    // Teams delivers text as HTML, so the tag itself never survives; the rest reads exactly as typed.
    expect(textOf(card)).toContain('**urgent** [click](https://evil.example) _x_ \\ # end');
    const entities =
      (cardOf(card.activity) as { msteams: { entities?: Array<{ text: string }> } }).msteams.entities ?? [];
    expect(entities.every((e) => json.split(JSON.stringify(e.text).slice(1, -1)).length > 1)).toBe(true);
    await store().decideRequest(rid(requestId), 'cancelled', Date.now(), 'test cleanup');
  });

  it('ten concurrent Approve clicks (repeats and different approvers): one grant, one 1:1 message, the card written forward only', async () => {
    const { card, requestId } = await requestAs(ALICE, 'db-access appdb read 30m INC-9 racing approvers');
    const chatBefore = chatOf(ALICE).length;
    const clickers = [BOB, BOB, BOB, CAROL, CAROL, CAROL, DAVE, DAVE, DAVE, BOB];
    const answers = await Promise.all(clickers.map((u) => click(u, 'approve', { requestId }, card.id)));
    const cardsBack = answers.filter((a) => a.type === 'application/vnd.microsoft.card.adaptive');
    const toasts = answers.map(toastOf).filter((t): t is string => t !== undefined);
    expect(cardsBack).toHaveLength(1);
    expect(toasts).toHaveLength(9);
    expect(toasts.every((t) => /already/i.test(t))).toBe(true);
    const grant = await activeGrant(requestId);
    expect((await store().listGrants({})).filter((g) => g.requestId === requestId)).toHaveLength(1);
    await teams.waitUntil(() => /Active until/.test(textOf(latest(card.id))), { timeoutMs: 15_000, what: 'Active' });
    await teams.waitUntil(() => chatOf(ALICE).length > chatBefore, { what: 'the 1:1 message' });
    expect(chatOf(ALICE).filter((m) => textOf(m).includes(grant.username))).toHaveLength(1);
    const writes = teams.calls.filter((c) => c.method === 'PUT' && c.activityId === card.id);
    expect(writes.length).toBeLessThanOrEqual(2); // provisioning… then active, never backwards
    await revoke(broker.app.deps, grant.id);
  });

  it('N-of-M: two different approvers are needed; the same one twice counts once', async () => {
    const { card, requestId } = await requestAs(ALICE, 'db-access appdb-two read 10m INC-8 two keys');
    expect(textOf(card)).toMatch(/0 of 2 approvals/);
    expect(cardText((await click(BOB, 'approve', { requestId }, card.id)).value)).toMatch(/1 of 2 approvals/);
    expect(toastOf(await click(BOB, 'approve', { requestId }, card.id))).toMatch(/already decided/i);
    expect((await store().getRequest(rid(requestId)))!.status).toBe('pending');
    await click(DAVE, 'approve', { requestId }, card.id);
    const grant = await activeGrant(requestId);
    await teams.waitUntil(() => /Active until/.test(textOf(latest(card.id))), { timeoutMs: 15_000, what: 'Active' });
    await revoke(broker.app.deps, grant.id);
  });

  it('deny needs a reason; a click on a decided request gets an explanation and changes nothing', async () => {
    const { card, requestId } = await requestAs(ALICE, 'db-access appdb write 1h INC-11 please');
    expect(toastOf(await click(BOB, 'deny', { requestId, note: '  ' }, card.id))).toMatch(/reason is required/i);
    expect((await store().getRequest(rid(requestId)))!.status).toBe('pending');
    const denied = await click(BOB, 'deny', { requestId, note: 'use the replica **now**' }, card.id);
    expect(cardText(denied.value)).toMatch(/Denied by <at>bob<\/at>: use the replica \*\*now\*\*/);
    await teams.waitUntil(() => /Denied by/.test(textOf(latest(card.id))), { what: 'Denied' });
    const puts = teams.calls.filter((c) => c.method === 'PUT').length;
    expect(toastOf(await click(CAROL, 'approve', { requestId }, card.id))).toMatch(/denied/i);
    expect(teams.calls.filter((c) => c.method === 'PUT').length).toBe(puts);
    expect(await store().getGrantByRequest(rid(requestId))).toBeUndefined();
  });

  it('a click on an Action.Execute fallback (Action.Submit: a message whose value is the button data) runs the same verb and replaces the card', async () => {
    const { card, requestId } = await requestAs(ALICE, 'db-access appdb write 1h INC-12 from an old client');
    const deny = (
      cardOf(card.activity) as {
        actions: Array<{ verb?: string; fallback?: { type: string; data: Record<string, unknown> } }>;
      }
    ).actions.find((a) => a.verb === 'deny')!;
    expect(deny.fallback?.type).toBe('Action.Submit');
    // Teams sends an Action.Submit click as a message in the card's thread, the card's inputs merged into `value`.
    const submit = {
      ...messageActivity(BOB, where(CHANNEL, card.id), ''),
      text: undefined,
      entities: undefined,
      value: { ...deny.fallback!.data, note: 'not from here' },
    };
    const res = await postActivity(broker.baseUrl, submit);
    expect(res.status).toBe(200);
    expect((await store().getRequest(rid(requestId)))!.status).toBe('denied');
    await teams.waitUntil(() => /Denied by <at>bob<\/at>: not from here/.test(textOf(latest(card.id))), {
      what: 'the card to show Denied',
    });
    // Nothing else was said: no request form, no usage text.
    expect(teams.messagesIn(CHANNEL).filter((m) => m.replyToId === card.id)).toEqual([]);
  });

  it('the request form: invalid input is refused with the valid choices and changes nothing; a valid one files the request', async () => {
    await say(ALICE, 'db-access');
    const form = await teams.waitUntil(() => chatOf(ALICE).find((m) => /Request database access/.test(textOf(m))), {
      what: 'the form',
    });
    expect(textOf(form)).toContain('[Request]');
    const before = (await store().listRequests({})).length;
    const bad = await click(
      ALICE,
      'request',
      { database: 'appdb', level: 'superuser', duration: '1h', reason: 'x' },
      form.id,
      'personal',
    );
    expect(toastOf(bad)).toMatch(/read, write/);
    const tooLong = await click(
      ALICE,
      'request',
      { database: 'appdb', level: 'read', duration: '9h', reason: 'x' },
      form.id,
      'personal',
    );
    expect(toastOf(tooLong)).toMatch(/too long/i);
    const unknown = await click(
      ALICE,
      'request',
      { database: 'nope', level: 'read', duration: '1h', reason: 'x' },
      form.id,
      'personal',
    );
    for (const db of ['appdb', 'appdb-msg', 'appdb-quick', 'appdb-two']) expect(toastOf(unknown)).toContain(db);
    expect((await store().listRequests({})).length).toBe(before);
    const good = await click(
      ALICE,
      'request',
      { database: 'appdb', level: 'read', duration: '15m', reason: 'from the form', ticket: 'INC-77' },
      form.id,
      'personal',
    );
    expect(cardText(good.value)).toMatch(/Request #\d+ for read on appdb for 15m sent to/);
    const req = (await store().listRequests({})).at(-1)!;
    expect(req).toMatchObject({
      reason: 'from the form',
      ticket: 'INC-77',
      status: 'pending',
      requester: { platform: 'teams', id: ALICE.aadObjectId, email: 'alice@example.com' },
    });
    await store().decideRequest(req.id, 'cancelled', Date.now(), 'test cleanup');
  });

  it('list, extend, revoke and help as typed commands; extend goes through the same approval', async () => {
    const { card, requestId } = await requestAs(ALICE, 'db-access appdb read 10m INC-20 extend me');
    await click(BOB, 'approve', { requestId }, card.id);
    const grant = await activeGrant(requestId);
    await say(ALICE, 'list');
    const list = await teams.waitUntil(
      () => chatOf(ALICE).find((m) => /Active/.test(textOf(m)) && textOf(m).includes(`grant #${grant.id}`)),
      { what: 'the list' },
    );
    expect(textOf(list)).toContain(`[Credentials #${grant.id}]`);
    // mallory cannot extend alice's grant; alice can ask, and it needs an approver.
    await say(MALLORY, `extend ${grant.id} 20m mine now`);
    await teams.waitUntil(() => chatOf(MALLORY).find((m) => /not yours/i.test(textOf(m))), {
      what: "mallory's refusal",
    });
    const { card: ext } = await requestAs(ALICE, `extend ${grant.id} 20m still digging`);
    expect(textOf(ext)).toMatch(/Extension request #\d+ for grant #/);
    const extId = (cardOf(ext.activity) as { actions: Array<{ verb: string; data: { requestId: number } }> })
      .actions[0]!.data.requestId;
    await click(CAROL, 'approve', { requestId: extId }, ext.id);
    await waitFor(
      'the expiry to move',
      async () => (await store().getGrant(grant.id))!.expiresAt === grant.expiresAt + 20 * 60_000,
    );
    await say(ALICE, `revoke ${grant.id}`);
    await teams.waitUntil(
      () =>
        chatOf(ALICE).find((m) =>
          new RegExp(`Grant #${grant.id} revoked: 0 session\\(s\\) terminated, user dropped`).test(textOf(m)),
        ),
      { what: 'the revoke answer' },
    );
    expect(await target.userExists(grant.username)).toBe(false);
    await teams.waitUntil(() => /ended early by alice/i.test(textOf(latest(card.id))), {
      what: 'the card to say who ended it',
    });
    await say(ALICE, 'help');
    const help = await teams.waitUntil(() => chatOf(ALICE).find((m) => /Databases and levels/.test(textOf(m))), {
      what: 'help',
    });
    expect(textOf(help)).toContain('appdb-quick');
    await say(ALICE, 'revoke banana');
    await teams.waitUntil(() => chatOf(ALICE).find((m) => /Usage: db-access revoke <grant id>/.test(textOf(m))), {
      what: 'usage',
    });
  });

  it("I'm done from the reminder ends access now; Extend from it files an extension", async () => {
    const { card, requestId } = await requestAs(ALICE, 'db-access appdb read 10m INC-21 done early');
    await click(DAVE, 'approve', { requestId }, card.id);
    const grant = await activeGrant(requestId);
    const ext = await click(ALICE, 'extend', { grantId: grant.id, duration: '30m' }, undefined, 'personal');
    expect(cardText(ext.value)).toMatch(/Extension request #\d+ for read on appdb, extended by 30m sent to/);
    const done = await click(ALICE, 'done', { grantId: grant.id }, undefined, 'personal');
    expect(cardText(done.value)).toMatch(/Ended .*ended early by alice/i);
    expect(await target.userExists(grant.username)).toBe(false);
    expect(toastOf(await click(MALLORY, 'revoke', { grantId: grant.id }, card.id))).toBeDefined();
  });

  it('a requester the bot cannot message yet is told in the approval thread how to get their credentials', async () => {
    const { card, requestId } = await requestAs(ZOE, 'db-access appdb read 10m INC-30 from the channel', CHANNEL);
    await click(BOB, 'approve', { requestId }, card.id);
    const grant = await activeGrant(requestId);
    const hint = await teams.waitUntil(
      () => teams.messagesIn(CHANNEL).find((m) => m.replyToId === card.id && /can't message you yet/.test(textOf(m))),
      { what: 'the hint' },
    );
    expect(JSON.stringify(hint.activity)).toContain(ZOE.aadObjectId); // a real mention of zoe
    expect(teams.calls.some((c) => c.method === 'POST' && c.path === '/v3/conversations' && c.status === 403)).toBe(
      true,
    );
    // zoe opens the app: her 1:1 chat now exists and `list` shows the grant with its credentials button.
    teams.install(ZOE.aadObjectId);
    expect((await postActivity(broker.baseUrl, installActivity(ZOE, where('personal')))).status).toBe(200);
    await say(ZOE, 'list');
    const list = await teams.waitUntil(() => chatOf(ZOE).find((m) => textOf(m).includes(`grant #${grant.id}`)), {
      what: "zoe's list",
    });
    expect(textOf(list)).toContain(`[Credentials #${grant.id}]`);
    await revoke(broker.app.deps, grant.id);
  });

  it('Teams throttling (429 with Retry-After) and a 503 are retried: the card still arrives, once', async () => {
    teams.failNext('/v3/conversations/*', { status: 429, retryAfterSeconds: 1 });
    teams.failNext('/v3/conversations/*', { status: 503 });
    const before = teams.calls.length;
    const { card, requestId } = await requestAs(ALICE, 'db-access appdb read 10m INC-31 throttled');
    const statuses = teams.calls
      .slice(before)
      .filter((c) => c.path.startsWith('/v3/conversations/'))
      .map((c) => c.status);
    expect(statuses.slice(0, 2)).toEqual([429, 503]);
    expect(cards().filter((c) => c.id === card.id)).toHaveLength(1);
    await store().decideRequest(rid(requestId), 'cancelled', Date.now(), 'test cleanup');
  });

  it('nobody decides: the next tier is asked in the thread and may then approve', async () => {
    const { card, requestId } = await requestAs(DAVE, 'db-access appdb-policy read 10m INC-32 escalate me');
    expect(textOf(card)).toContain('<at>bob@example.com</at>');
    expect(textOf(card)).not.toContain('carol');
    const reply = await teams.waitUntil(
      () => teams.messagesIn(CHANNEL).find((m) => m.replyToId === card.id && /tier 1/.test(textOf(m))),
      { timeoutMs: 15_000, what: 'the escalation' },
    );
    expect(textOf(reply)).toContain('<at>carol@example.com</at>');
    expect(JSON.stringify(reply.activity)).toContain('"mentioned":{"id":"carol@example.com"');
    await click(CAROL, 'approve', { requestId }, card.id);
    const grant = await activeGrant(requestId);
    await revoke(broker.app.deps, grant.id);
  });

  it('break-glass from Teams: access at once, an alert in the security channel, and a Reviewed button only approvers may use', async () => {
    await say(ALICE, 'break-glass appdb-policy read 10m primary is down');
    const alert = await teams.waitUntil(() => teams.messagesIn(SECURITY).find((m) => /Break-glass/.test(textOf(m))), {
      timeoutMs: 15_000,
      what: 'the alert',
    });
    expect(textOf(alert)).toContain('primary is down');
    expect(textOf(alert)).toContain('[Reviewed]');
    const requestId = (cardOf(alert.activity) as { actions: Array<{ data: { requestId: number } }> }).actions[0]!.data
      .requestId;
    const grant = await activeGrant(requestId);
    expect(toastOf(await click(MALLORY, 'reviewed', { requestId }, alert.id, SECURITY))).toMatch(/can't review/i);
    const reviewed = await click(BOB, 'reviewed', { requestId }, alert.id, SECURITY);
    expect(cardText(reviewed.value)).toMatch(/Reviewed/);
    await teams.waitUntil(
      () => /✅ Reviewed/.test(textOf(latest(alert.id))) && !textOf(latest(alert.id)).includes('[Reviewed]'),
      { what: 'the alert to show the review' },
    );
    expect((await store().getRequest(rid(requestId)))!.reviewedAt).toBeDefined();
    await revoke(broker.app.deps, grant.id);
  });

  it('a provisioning failure updates the card and tells the requester what failed, without secrets', async () => {
    const { card, requestId } = await requestAs(ALICE, 'db-access appdb-broken read 10m INC-14 broken role');
    await click(BOB, 'approve', { requestId }, card.id);
    await teams.waitUntil(() => /Provisioning failed/.test(textOf(latest(card.id))), {
      timeoutMs: 20_000,
      what: 'the card to show the failure',
    });
    const told = await teams.waitUntil(
      () =>
        chatOf(ALICE).find(
          (m) =>
            /Could not create your user/.test(textOf(m)) &&
            /no_such_role/.test(textOf(m)) &&
            /will not be retried/.test(textOf(m)),
        ),
      { timeoutMs: 10_000, what: 'the failure message' },
    );
    expect(textOf(told)).not.toMatch(/password/i);
    expect((await store().getGrantByRequest(rid(requestId)))!.status).toBe('failed');
  });

  it('a request nobody decides expires and the card says so', async () => {
    const { card, requestId } = await requestAs(ALICE, 'db-access appdb-quick read 10m INC-13 nobody home');
    await teams.waitUntil(() => /Expired: nobody approved/.test(textOf(latest(card.id))), {
      timeoutMs: 15_000,
      what: 'Expired',
    });
    expect((await store().getRequest(rid(requestId)))!.status).toBe('expired');
    expect(textOf(latest(card.id))).not.toContain('[Approve]');
  });

  it('delivery: message puts the credentials in the 1:1 message and replaces them at expiry', async () => {
    const { card, requestId } = await requestAs(ALICE, 'db-access appdb-msg read 6s INC-15 message delivery');
    await click(BOB, 'approve', { requestId }, card.id);
    const grant = await activeGrant(requestId);
    const dm = await teams.waitUntil(
      () =>
        chatOf(ALICE).find((m) => textOf(m).includes(grant.username) && /Password: [A-Za-z0-9]{32}/.test(textOf(m))),
      { what: 'the credentials message' },
    );
    const password = /Password: ([A-Za-z0-9]{32})/.exec(textOf(dm))![1]!;
    passwords.push(password);
    await (await target.connectAs(grant.username, password)).close();
    await teams.waitUntil(
      () => !textOf(latest(dm.id)).includes(password) && /password was removed/.test(textOf(latest(dm.id))),
      { timeoutMs: 20_000, what: 'the password to be removed' },
    );
    expect(await target.userExists(grant.username)).toBe(false);
  });

  it('every request is attributed to the Teams identity, the audit chain verifies, and no password is in the logs or state DB', async () => {
    const requests = await store().listRequests({});
    expect(requests.length).toBeGreaterThan(5);
    expect(requests.every((r) => r.requester.platform === 'teams')).toBe(true);
    const approvals = (await Promise.all(requests.map((r) => store().listApprovals(r.id)))).flat();
    expect(approvals.every((a) => a.approver.platform === 'teams' && /^0000000\d-/.test(a.approver.id))).toBe(true);
    expect((await store().verifyAudit()).ok).toBe(true);
    expect(passwords.length).toBeGreaterThanOrEqual(2);
    const logs = broker.logs.join('\n');
    const audit = JSON.stringify(await store().listAudit({}));
    for (const p of passwords) {
      expect(logs).not.toContain(p);
      expect(audit).not.toContain(p);
    }
  });
});
