/**
 * A bundle on Teams: the same command text as on Slack, Activities POSTed to the real /api/messages, the Bot
 * Connector double, a real PostgreSQL target (two catalog databases on it), real Redis and a real state store. One
 * card decided once; each member's state shows on that card, every member's access in one 1:1 message (each with
 * its own Show credentials, whose dialog gives a password that logs in), each member's receipt in the card's
 * conversation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revoke } from '../../src/core/lifecycle.js';
import {
  actionActivity,
  cardOf,
  cardText,
  dialogFetchActivity,
  messageActivity,
  postActivity,
  type Where,
} from '../../dev/teams/activities.js';
import { startTeamsConnectorDouble, type TeamsConnectorDouble, teamsUser } from '../../dev/teams/connector-double.js';
import { journeyEnv, startBroker, teamsAnonymousEnv, type TestBroker } from '../support/broker.js';
import { writeCatalog } from '../support/catalog.js';
import { setupPgTarget, startScramCluster, type PgCluster, type PgTarget } from '../support/pg-cluster.js';
import { waitFor } from '../support/wait.js';
import { rid } from '../support/ids.js';

const CHANNEL = '19:db-bundles@thread.tacv2';
const ALICE = teamsUser(1, 'alice');
const BOB = teamsUser(2, 'bob');

describe('Teams bundle', () => {
  let cluster: PgCluster;
  let target: PgTarget;
  let teams: TeamsConnectorDouble;
  let broker: TestBroker;

  const store = () => broker.app.deps.store;
  const where = (conversation: string, replyToId?: string): Where => ({
    serviceUrl: teams.url,
    tenantId: teams.tenantId,
    conversation,
    ...(replyToId && { replyToId }),
  });
  const cards = () => teams.messagesIn(CHANNEL).filter((m) => !m.replyToId);
  const textOf = (id: string) => cardText(cardOf(teams.message(id)?.activity));
  const chatOfAlice = () => teams.messagesIn(`a:chat-${ALICE.aadObjectId}`);
  /** The data of every Show credentials button on a message, in order (what a click sends with task/fetch). */
  const revealData = (id: string): Array<Record<string, unknown>> => {
    const out: Array<Record<string, unknown>> = [];
    const visit = (n: unknown): void => {
      if (Array.isArray(n)) return n.forEach(visit);
      if (!n || typeof n !== 'object') return;
      const o = n as Record<string, unknown>;
      if (o.type === 'Action.Submit' && o.title === 'Show credentials') {
        const { msteams: _how, ...data } = o.data as Record<string, unknown>;
        out.push(data);
      }
      Object.values(o).forEach(visit);
    };
    visit(cardOf(teams.message(id)?.activity));
    return out;
  };

  beforeAll(async () => {
    cluster = await startScramCluster();
    target = await setupPgTarget(cluster);
    teams = await startTeamsConnectorDouble();
    for (const u of [ALICE, BOB]) {
      teams.addUser(u);
      teams.install(u.aadObjectId);
    }
    const catalog = writeCatalog([target.entry, { ...target.entry, name: 'appdb-copy' }], {
      perEntry: () => ({ approval: { teamsChannel: CHANNEL, approvers: [{ email: 'alice@example.com' }] } }),
      bundles: [
        {
          name: 'both-kit',
          members: [
            { database: target.entry.name, level: 'read' },
            { database: 'appdb-copy', level: 'write' },
          ],
          approval: { teamsChannel: CHANNEL, approvers: [{ email: 'bob@example.com' }] },
        },
      ],
    });
    broker = await startBroker({ ...journeyEnv(catalog, 'teams-bundle'), ...teamsAnonymousEnv(teams) });
  }, 120_000);

  afterAll(async () => {
    await broker?.stop();
    await teams?.stop();
    await cluster?.stop();
  }, 60_000);

  it('one card, one decision, one grant per member shown on the card, a receipt per member in its conversation', async () => {
    const res = await postActivity(
      broker.baseUrl,
      messageActivity(ALICE, where('personal'), 'both-kit 30m INC-5 both copies'),
    );
    expect(res.status).toBe(200);
    const card = await teams.waitUntil(() => cards().at(-1), { timeoutMs: 10_000, what: 'the bundle card' });
    expect(textOf(card.id)).toMatch(/both-kit/);
    expect(textOf(card.id)).toContain('appdb-copy');
    const requestId = Number(
      (cardOf(card.activity) as { actions?: Array<{ verb?: string; data?: { requestId?: number } }> }).actions?.find(
        (a) => a.verb === 'approve',
      )?.data?.requestId,
    );
    const clicked = await postActivity(
      broker.baseUrl,
      actionActivity(BOB, where(CHANNEL, card.id), 'approve', { requestId }),
    );
    expect(clicked.status).toBe(200);
    const grants = await waitFor('both member grants active', async () => {
      const members = await store().listRequests({ partOf: rid(requestId) });
      const gs = await Promise.all(members.map((m) => store().getGrantByRequest(m.id)));
      return gs.length === 2 && gs.every((g) => g?.status === 'active') ? gs.map((g) => g!) : undefined;
    });
    expect(grants.map((g) => [g.database, g.level])).toEqual([
      [target.entry.name, 'read'],
      ['appdb-copy', 'write'],
    ]);
    await waitFor('the card to show both grants', () =>
      grants.every((g) => textOf(card.id).includes(`grant #${g.id}`)),
    );

    // One 1:1 message for the whole bundle, listing every member: database, level, expiry, its own Show credentials.
    const bundleDms = () => chatOfAlice().filter((m) => /Your bundle both-kit was approved/.test(textOf(m.id)));
    const dm = await teams.waitUntil(
      () =>
        bundleDms().find(
          (m) => revealData(m.id).length === 2 && grants.every((g) => textOf(m.id).includes(g.username)),
        ),
      { timeoutMs: 15_000, what: 'one message listing both members, each with Show credentials' },
    );
    expect(bundleDms()).toHaveLength(1);
    expect(chatOfAlice().filter((m) => /is active until/.test(textOf(m.id)))).toEqual([dm]);
    const shown = textOf(dm.id);
    expect(shown).toMatch(/2 databases, 30m each/);
    expect(shown).toMatch(new RegExp(`read access to ${target.entry.name} is active until`));
    expect(shown).toMatch(/write access to appdb-copy is active until/);
    expect(revealData(dm.id)).toEqual(grants.map((g) => ({ kind: 'reveal', grantId: g.id })));

    // Each member's Show credentials gives that member's credentials, and the password logs in.
    const passwords: string[] = [];
    for (const [i, g] of grants.entries()) {
      const res = await postActivity(
        broker.baseUrl,
        dialogFetchActivity(ALICE, where('personal'), revealData(dm.id)[i]!),
      );
      expect(res.status).toBe(200);
      const task = (res.body as { task: { type: string; value: { card: { content: unknown } } } }).task;
      expect(task.type).toBe('continue');
      const dialog = cardText(task.value.card.content);
      expect(dialog).toContain(g.username);
      expect(dialog).toContain(g.database);
      const password = /Password: ([A-Za-z0-9]{32})/.exec(dialog)?.[1];
      expect(password).toBeDefined();
      passwords.push(password!);
      const session = await target.connectAs(g.username, password!);
      expect((await session.query('SELECT count(*) FROM items')).length).toBe(1);
      await session.close();
    }
    expect(teams.calls.filter((c) => passwords.some((p) => JSON.stringify(c.body ?? {}).includes(p)))).toEqual([]);

    for (const g of grants) await revoke(broker.app.deps, g.id);
    await waitFor('a receipt per member in the card conversation', () => {
      const replies = teams.messagesIn(CHANNEL).filter((m) => m.replyToId === card.id);
      return grants.every((g) => replies.some((r) => cardText(cardOf(r.activity)).includes(g.username)));
    });
    expect(await target.userExists(grants[0]!.username)).toBe(false);
    expect(await target.userExists(grants[1]!.username)).toBe(false);
    // The one message now says both ended, with no button left.
    await teams.waitUntil(
      () => (textOf(dm.id).match(/(Expired|Ended) at/g) ?? []).length === 2 && revealData(dm.id).length === 0,
      { timeoutMs: 15_000, what: 'the bundle message to show both members ended' },
    );
    expect(bundleDms()).toHaveLength(1);
  }, 60_000);
});
