/**
 * An action the inbox could not record is not acknowledged: through Slack's real HTTP endpoint (signed requests,
 * the Slack Web API double, a real SQLite state store), with the state DB refusing the inbox insert, an Approve
 * click and a slash command are answered with a server error at once — not Slack's 200 ack, not a timeout — and
 * nothing changed. Once the inbox can be written again, the same click works.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APPROVE } from '../../src/chat/slack/ids.js';
import {
  buttonsIn,
  RESPONSE_URL_METHOD,
  startSlackDouble,
  type SlackDouble,
  type SlackMessage,
} from '../../dev/slack/double.js';
import { blockActionsPayload, postInteraction, postSlashCommand, slashCommand } from '../../dev/slack/sign.js';
import { journeyEnv, startBroker, type TestBroker } from '../support/broker.js';
import { waitFor } from '../support/wait.js';
import { rid } from '../support/ids.js';

const SECRET = 'inbox-unacked-secret-0123456789';
const CHANNEL = 'C0APPROVALS';
const ALICE = 'U0ALICE';
const BOB = 'U0BOB';
const CAROL = 'U0CAROL';

describe('Slack HTTP: an action the inbox could not record is not acknowledged', () => {
  let dir: string;
  let slack: SlackDouble;
  let broker: TestBroker;
  let sqlitePath: string;
  const store = () => broker.app.deps.store;

  /** The state DB refuses every write to the inbox (the table is away) until restored. */
  const withInboxUnwritable = async <T>(fn: () => Promise<T>): Promise<T> => {
    const db = new Database(sqlitePath);
    try {
      db.exec('ALTER TABLE chat_inbox RENAME TO chat_inbox_away');
      try {
        return await fn();
      } finally {
        db.exec('ALTER TABLE chat_inbox_away RENAME TO chat_inbox');
      }
    } finally {
      db.close();
    }
  };

  const command = (userId: string, text: string) => {
    const { responseUrl } = slack.interaction(userId, { channelId: CHANNEL });
    return postSlashCommand(broker.baseUrl, SECRET, slashCommand({ userId, text, channelId: CHANNEL, responseUrl }));
  };
  const approveClick = (requestId: number, message: SlackMessage) =>
    postInteraction(
      broker.baseUrl,
      SECRET,
      blockActionsPayload({
        userId: BOB,
        actionId: APPROVE,
        value: String(requestId),
        channelId: CHANNEL,
        message,
        ...slack.interaction(BOB, { channelId: CHANNEL, messageTs: message.ts }),
      }),
    );

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'inbox-unacked-'));
    sqlitePath = join(dir, 'state.sqlite');
    slack = await startSlackDouble();
    for (const [id, name] of [
      [ALICE, 'alice'],
      [BOB, 'bob'],
      [CAROL, 'carol'],
    ] as const)
      slack.addUser({ id, email: `${name}@example.com`, name });
    slack.addChannel(CHANNEL, { name: 'db-approvals', members: [ALICE, BOB, CAROL] });
    // No target is reached here: nothing is approved while the inbox is away, and the test ends at the approval.
    const catalogPath = join(dir, 'catalog.yaml');
    writeFileSync(
      catalogPath,
      `databases:
  - name: appdb
    engine: postgres
    host: 127.0.0.1
    port: 9
    database: appdb
    admin: { user: jit_admin, password: x }
    levels: { read: { roles: [app_read] } }
    maxDuration: 2h
    approval:
      slackChannel: ${CHANNEL}
      timeout: 30m
      approvers: [{ email: bob@example.com }]
`,
    );
    broker = await startBroker({
      ...journeyEnv({ path: catalogPath, env: {} }, 'inbox-unacked'),
      DATABASE_URL: `sqlite:${sqlitePath}`,
      SLACK_BOT_TOKEN: slack.botToken,
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_API_URL: slack.url,
    });
  }, 120_000);

  afterAll(async () => {
    await broker?.stop();
    await slack?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('an Approve click and a slash command get a 500 at once while the inbox cannot be written; nothing changes; the click then works', async () => {
    expect((await command(ALICE, 'appdb read 30m INC-1 looking into it')).status).toBe(200);
    const message = await slack.waitUntil(() => slack.messagesIn(CHANNEL).at(-1), {
      timeoutMs: 10_000,
      description: 'the approval message',
    });
    const requestId = Number(buttonsIn(message).find((b) => b.actionId === APPROVE)!.value);
    await slack.waitForCall(RESPONSE_URL_METHOD, () => true, { timeoutMs: 10_000 }); // alice told her request was sent
    const before = {
      audit: (await store().listAudit({})).length,
      inbox: await store().listInboxActions(),
      calls: slack.calls.length,
    };

    const [click, filed] = await withInboxUnwritable(() =>
      Promise.all([approveClick(requestId, message), command(CAROL, 'appdb read 30m INC-2 me too')]),
    );
    // Not acknowledged: a server error Slack reports (and, for events, retries), well inside its 3 s window —
    // not a 200, and not the 404 Bolt sends once 3 s pass without an ack.
    for (const res of [click, filed]) {
      expect(res.status).toBe(500);
      expect(res.elapsedMs).toBeLessThan(2_500);
    }

    // Nothing changed: the request pending with no decision, no request for carol, no audit row, no inbox row, and
    // nobody told anything.
    expect((await store().getRequest(rid(requestId)))!.status).toBe('pending');
    expect(await store().listApprovals(rid(requestId))).toEqual([]);
    expect(await store().listRequests({ requestedBy: { platform: 'slack', id: CAROL } })).toEqual([]);
    expect((await store().listAudit({})).length).toBe(before.audit);
    expect(await store().listInboxActions()).toEqual(before.inbox);
    expect(slack.calls.slice(before.calls).filter((c) => c.method !== 'users.info')).toEqual([]);

    // With the inbox writable, the same click is recorded and approves the request.
    expect((await approveClick(requestId, message)).status).toBe(200);
    await waitFor(
      'the request to be approved',
      async () => ((await store().getRequest(rid(requestId)))!.status === 'approved' ? true : undefined),
      { timeoutMs: 10_000 },
    );
    expect((await store().listInboxActions()).filter((a) => a.requestId === requestId)).toMatchObject([
      { kind: 'approve', status: 'done' },
    ]);
  }, 60_000);
});
