/**
 * A bundle end to end on Slack: signed slash commands and clicks against the real HTTP server, a PostgreSQL member
 * (scram-sha-256 cluster) and a MariaDB member (MARIADB_PORT), real Redis and a real state store. One approval gives
 * one user per member, one DM lists them all, both log in, both are revoked at expiry; a member whose server is down
 * is reported while the other works.
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APPROVE, REVEAL } from '../../src/chat/slack/ids.js';
import { journeyEnv, startBroker, type TestBroker } from '../support/broker.js';
import { writeCatalog } from '../support/catalog.js';
import { setupMariadbTarget, type MariadbTarget } from '../support/mariadb-target.js';
import { setupPgTarget, startScramCluster, type PgCluster, type PgTarget } from '../support/pg-cluster.js';
import { buttonsIn, startSlackDouble, type SlackDouble } from '../../dev/slack/double.js';
import { blockActionsPayload, postInteraction, postSlashCommand, slashCommand } from '../../dev/slack/sign.js';
import { rid } from '../support/ids.js';
import { waitFor } from '../support/wait.js';

const SECRET = 'test-signing-secret-0123456789abcdef';
const CHANNEL = 'C0BUNDLES';
const ALICE = 'U0ALICE';
const BOB = 'U0BOB';
const CAROL = 'U0CAROL';

/** A loopback port nothing listens on (taken, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('Slack bundle journey', () => {
  let cluster: PgCluster;
  let pgTarget: PgTarget;
  let mdb: MariadbTarget;
  let slack: SlackDouble;
  let broker: TestBroker;

  const store = () => broker.app.deps.store;
  const text = (m: Parameters<SlackDouble['renderText']>[0]) => slack.renderText(m);
  const approvals = () => slack.messagesIn(CHANNEL);

  async function ask(userId: string, cmdText: string) {
    const before = approvals().length;
    const responseUrl = slack.respondUrl(undefined, { userId, channel: CHANNEL });
    const res = await postSlashCommand(
      broker.baseUrl,
      SECRET,
      slashCommand({ userId, text: cmdText, channelId: CHANNEL, responseUrl }),
    );
    expect(res.status).toBe(200);
    await slack.waitUntil(() => approvals().length > before, { timeoutMs: 10_000 });
    const msg = approvals().at(-1)!;
    return { msg, requestId: Number(buttonsIn(msg).find((b) => b.actionId === APPROVE)!.value) };
  }

  async function click(userId: string, actionId: string, value: string, message: { ts: string }, channelId: string) {
    const triggerId = slack.issueTriggerId({ userId });
    const res = await postInteraction(
      broker.baseUrl,
      SECRET,
      blockActionsPayload({ userId, actionId, value, channelId, message, triggerId }),
    );
    expect(res.status).toBe(200);
  }

  /** Show credentials for `username` in the bundle DM: the password from the modal. */
  async function reveal(dm: { ts: string }, grantId: number, username: string): Promise<string> {
    await click(ALICE, REVEAL, String(grantId), dm, slack.dmChannelId(ALICE));
    const opened = await slack.waitForCall('views.open', (c) => JSON.stringify(c.args).includes(username), {
      timeoutMs: 10_000,
    });
    const modal = JSON.stringify(opened.args.view);
    const password = /[A-Za-z0-9]{32}/.exec(modal.slice(modal.indexOf('assword')))?.[0];
    expect(password).toBeDefined();
    return password!;
  }

  beforeAll(async () => {
    cluster = await startScramCluster();
    pgTarget = await setupPgTarget(cluster);
    mdb = await setupMariadbTarget({ name: 'shop-maria' });
    slack = await startSlackDouble();
    slack.addUser({ id: ALICE, email: 'alice@example.com', name: 'alice' });
    slack.addUser({ id: BOB, email: 'bob@example.com', name: 'bob' });
    slack.addUser({ id: CAROL, email: 'carol@example.com', name: 'carol' });
    slack.addChannel(CHANNEL, { name: 'db-bundles', members: [ALICE, BOB, CAROL] });
    const down = await closedPort();
    const approval = { slackChannel: CHANNEL, approvers: [{ email: 'carol@example.com' }], timeout: '30m' };
    const catalog = writeCatalog(
      [pgTarget.entry, mdb.entry, { ...pgTarget.entry, name: 'appdb-down', host: '127.0.0.1', port: down }],
      {
        perEntry: () => ({ approval }),
        bundles: [
          {
            name: 'shop-kit',
            description: 'Orders (PostgreSQL) and shop (MariaDB), read only',
            members: [
              { database: pgTarget.entry.name, level: 'read' },
              { database: mdb.entry.name, level: 'read' },
            ],
            approval: { slackChannel: CHANNEL, approvers: [{ email: 'bob@example.com' }] },
          },
          {
            name: 'half-kit',
            members: [
              { database: 'appdb-down', level: 'read' },
              { database: mdb.entry.name, level: 'write' },
            ],
            approval: { slackChannel: CHANNEL, approvers: [{ email: 'bob@example.com' }] },
          },
        ],
      },
    );
    broker = await startBroker({
      ...journeyEnv(catalog, 'slack-bundle'),
      SLACK_BOT_TOKEN: slack.botToken,
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_API_URL: slack.url,
    });
  }, 120_000);

  afterAll(async () => {
    await broker?.stop();
    await slack?.stop();
    await mdb?.teardown();
    await cluster?.stop();
  }, 60_000);

  it('one request, one approval by the bundle approver, one DM listing both members; both log in; both end at expiry', async () => {
    const { msg, requestId } = await ask(ALICE, 'shop-kit 12s INC-9 checking an order across both');
    const pending = text(msg);
    for (const s of ['shop-kit', pgTarget.entry.name, mdb.entry.name, '12s', 'INC-9', '@bob'])
      expect(pending).toContain(s);
    // The databases' own approver is not the bundle's: carol is refused and nothing moves.
    await click(CAROL, APPROVE, String(requestId), msg, CHANNEL);
    const refused = await slack.waitForCall('chat.postEphemeral', (c) => c.args.user === CAROL, { timeoutMs: 5_000 });
    expect(String(refused.args.text)).toMatch(/can't approve/i);
    expect((await store().getRequest(rid(requestId)))!.status).toBe('pending');

    await click(BOB, APPROVE, String(requestId), msg, CHANNEL);
    const members = await waitFor('both members opened', async () => {
      const rs = await store().listRequests({ partOf: rid(requestId) });
      return rs.length === 2 ? rs : undefined;
    });
    expect(members.map((r) => [r.database, r.level])).toEqual([
      [pgTarget.entry.name, 'read'],
      [mdb.entry.name, 'read'],
    ]);
    const grants = await Promise.all(members.map(async (r) => (await store().getGrantByRequest(r.id))!));
    // One DM, listing both members, each with its own Show credentials once both are active.
    const dm = await slack.waitUntil(
      () => slack.dmOf(ALICE).find((m) => buttonsIn(m).filter((b) => b.actionId === REVEAL).length === 2),
      { timeoutMs: 20_000 },
    );
    expect(slack.dmOf(ALICE)).toHaveLength(1);
    expect(
      buttonsIn(dm)
        .filter((b) => b.actionId === REVEAL)
        .map((b) => Number(b.value)),
    ).toEqual(grants.map((g) => g.id));
    const shown = text(slack.messageAt(CHANNEL, msg.ts)!);
    expect(shown).toMatch(/approved by @bob/i);
    for (const g of grants) expect(shown).toContain(`grant #${g.id}`);

    const pgPassword = await reveal(dm, grants[0]!.id, grants[0]!.username);
    const mdbPassword = await reveal(dm, grants[1]!.id, grants[1]!.username);
    const pgSession = await pgTarget.connectAs(grants[0]!.username, pgPassword);
    expect((await pgSession.query('SELECT count(*) FROM items')).length).toBe(1);
    const mdbSession = await mdb.connectAs(grants[1]!.username, mdbPassword);
    expect((await mdbSession.query(mdb.sql.select)).length).toBeGreaterThanOrEqual(0);

    // At expiry both are revoked on their own servers, each with its receipt in the bundle's thread.
    await Promise.all([pgSession.ended, mdbSession.ended]);
    await waitFor(
      'both members revoked',
      async () => (await Promise.all(grants.map((g) => store().getGrant(g.id)))).every((g) => g!.status === 'revoked'),
      { timeoutMs: 30_000 },
    );
    expect(await pgTarget.userExists(grants[0]!.username)).toBe(false);
    expect(await mdb.userExists(grants[1]!.username)).toBe(false);
    const receipts = await slack.waitUntil(
      () => {
        const rs = slack.messageAt(CHANNEL, msg.ts)!.replies?.filter((r) => /terminated/.test(text(r))) ?? [];
        return rs.length === 2 ? rs : undefined;
      },
      { timeoutMs: 10_000 },
    );
    for (const g of grants) expect(receipts.some((r) => text(r).includes(g.username))).toBe(true);
    // The DM was edited: no Show credentials left.
    await slack.waitUntil(() => slack.dmOf(ALICE).every((m) => !buttonsIn(m).some((b) => b.actionId === REVEAL)), {
      timeoutMs: 10_000,
    });
    // The passwords are in no recorded Slack call except their reveal modals.
    const leaks = slack.calls.filter((c) =>
      [pgPassword, mdbPassword].some((p) => JSON.stringify([c.args, c.response ?? {}]).includes(p)),
    );
    expect(leaks.map((c) => c.method)).toEqual(['views.open', 'views.open']);
    const created = await store().listAudit({ requestId: rid(requestId), type: 'request.created' });
    expect(created[0]!.detail).toMatchObject({
      bundle: 'shop-kit',
      members: [
        { database: pgTarget.entry.name, level: 'read' },
        { database: mdb.entry.name, level: 'read' },
      ],
    });
  }, 90_000);

  it('a member whose server is down is reported in the message and the DM; the other member works', async () => {
    const dmsBefore = slack.dmOf(ALICE).length;
    const { msg, requestId } = await ask(ALICE, 'half-kit 5m one server is down');
    await click(BOB, APPROVE, String(requestId), msg, CHANNEL);
    const members = await waitFor('both members opened', async () => {
      const rs = await store().listRequests({ partOf: rid(requestId) });
      return rs.length === 2 ? rs : undefined;
    });
    const [downGrant, mdbGrant] = await Promise.all(members.map(async (r) => (await store().getGrantByRequest(r.id))!));
    const dm = await slack.waitUntil(
      () => {
        const m = slack.dmOf(ALICE).slice(dmsBefore)[0];
        return m && buttonsIn(m).some((b) => b.actionId === REVEAL) && /Could not create/.test(text(m)) ? m : undefined;
      },
      { timeoutMs: 60_000 },
    );
    expect(slack.dmOf(ALICE).length).toBe(dmsBefore + 1);
    expect(
      buttonsIn(dm)
        .filter((b) => b.actionId === REVEAL)
        .map((b) => Number(b.value)),
    ).toEqual([mdbGrant!.id]);
    // Reported at its first failed attempt (it is retried, then cleaned up); never active.
    expect((await store().getGrant(downGrant!.id))!.status).not.toBe('active');
    expect(await store().listAudit({ grantId: downGrant!.id, type: 'grant.provision_failed' })).not.toHaveLength(0);
    const password = await reveal(dm, mdbGrant!.id, mdbGrant!.username);
    const session = await mdb.connectAs(mdbGrant!.username, password);
    await session.query(mdb.sql.select);
    await session.close();
    await slack.waitUntil(() => /appdb-down.*provisioning failed/i.test(text(slack.messageAt(CHANNEL, msg.ts)!)), {
      timeoutMs: 10_000,
    });
  }, 120_000);
});
