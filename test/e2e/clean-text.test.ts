/**
 * Text that changes how it looks without being visible — bidi overrides ("fix\u202Egnp.exe" reads "fixexe.png"),
 * zero-width characters, NUL and other control characters — is stored and shown without them, whichever way it
 * came in: typed inline, from the request or deny dialog, from a Slack profile name, or straight into the core (as
 * the CLI and any other non-chat caller reach it). Real HTTP endpoint with signed requests, the Slack Web API
 * double, a real PostgreSQL target, real Redis, a real state store.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessReport, reportCsv } from '../../src/audit/report.js';
import { exportAudit } from '../../src/audit/export.js';
import { APPROVE, DENY_MODAL, REQUEST_MODAL } from '../../src/chat/slack/ids.js';
import { approvalCard } from '../../src/chat/teams/cards/approval.js';
import { loadRequestView } from '../../src/core/view.js';
import type { Actor } from '../../src/core/model.js';
import { requestAccess } from '../../src/core/asking.js';
import { deny } from '../../src/core/deciding.js';
import { buttonsIn, RESPONSE_URL_METHOD, startSlackDouble, type SlackDouble } from '../../dev/slack/double.js';
import {
  blockActionsPayload,
  postInteraction,
  postSlashCommand,
  slashCommand,
  viewSubmissionPayload,
} from '../../dev/slack/sign.js';
import { journeyEnv, startBroker, type TestBroker } from '../support/broker.js';
import { writeCatalog } from '../support/catalog.js';
import { setupPgTarget, startScramCluster, type PgCluster } from '../support/pg-cluster.js';
import { waitFor } from '../support/wait.js';

const SECRET = 'test-signing-secret-clean-text-0123';
const CHANNEL = 'C0APPROVALS';
const INCIDENT = 'C0INCIDENT';
const ALICE = 'U0ALICE';
const BOB = 'U0BOB';
const ZOE = 'U0ZOE';
const CAROL = 'U0CAROL';

/** Every character the cleaning removes that this file sends; none may be stored or reach Slack. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const HIDDEN = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u061C\u200B-\u200F\u202A-\u202E\u2060\u2066-\u2069\uFEFF]/;

describe('hidden characters never reach the store or a message', () => {
  let cluster: PgCluster;
  let slack: SlackDouble;
  let broker: TestBroker;

  const store = () => broker.app.deps.store;
  const approvalMessages = () => slack.messagesIn(CHANNEL);
  const text = (m: Parameters<SlackDouble['renderText']>[0]) => slack.renderText(m);

  /** The approval message of request `id`, once posted. */
  const approvalOf = (id: number) =>
    slack.waitUntil(
      () => approvalMessages().find((m) => buttonsIn(m).some((b) => b.actionId === APPROVE && b.value === String(id))),
      { timeoutMs: 10_000 },
    );

  /** Every string in everything Slack was asked to post, update or show so far. */
  const everythingSentToSlack = (): string[] => {
    const out: string[] = [];
    const walk = (v: unknown): void => {
      if (typeof v === 'string') out.push(v);
      else if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') Object.values(v).forEach(walk);
    };
    walk(slack.calls.map((c) => c.args));
    return out;
  };
  const hiddenSentToSlack = () => everythingSentToSlack().filter((s) => HIDDEN.test(s));

  async function command(userId: string, cmdText: string) {
    const responseUrl = slack.respondUrl(undefined, { userId, channel: INCIDENT });
    const res = await postSlashCommand(
      broker.baseUrl,
      SECRET,
      slashCommand({ userId, text: cmdText, channelId: INCIDENT, responseUrl }),
    );
    expect(res.status).toBe(200);
    return slack.waitForCall(
      RESPONSE_URL_METHOD,
      (c) => c.responseUrlId !== undefined && responseUrl.endsWith(c.responseUrlId),
      { timeoutMs: 10_000 },
    );
  }

  /** The newest request of `requester`, once it exists. */
  const newestOf = (requester: string, after: number) =>
    waitFor('the request', async () =>
      (await store().listRequests({})).filter((r) => r.requester.id === requester && r.id > after).at(-1),
    );

  const lastId = async () => Math.max(0, ...(await store().listRequests({})).map((r) => r.id));

  beforeAll(async () => {
    cluster = await startScramCluster();
    const target = await setupPgTarget(cluster);
    slack = await startSlackDouble();
    slack.addUser({ id: ALICE, email: 'alice@example.com', name: 'alice' });
    slack.addUser({ id: BOB, email: 'bob@example.com', name: 'bob' });
    slack.addUser({ id: CAROL, email: 'carol@example.com', name: 'carol' });
    // A profile name that would read "zoe (admin)" backwards-disguised, with zero-width and control characters.
    slack.addUser({
      id: ZOE,
      email: 'zoe@example.com',
      name: 'zoe',
      display_name: 'zoe\u202E\u200B\u0007 (admin)\u2066',
    });
    slack.addChannel(CHANNEL, { name: 'db-approvals', members: [ALICE, BOB, ZOE, CAROL] });
    slack.addChannel(INCIDENT, { name: 'incident', members: [ALICE, BOB, ZOE, CAROL] });
    const catalog = writeCatalog([target.entry], {
      perEntry: () => ({
        approval: { slackChannel: CHANNEL, approvers: [{ email: 'bob@example.com' }], required: 1, timeout: '30m' },
      }),
      extra: { limits: { pendingRequestsPerPerson: 10 } },
    });
    broker = await startBroker({
      ...journeyEnv(catalog, 'slack-text'),
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

  describe('at the chat edge', () => {
    it('a reason typed inline with a bidi override, NUL and zero-width characters', async () => {
      const after = await lastId();
      await command(ALICE, 'appdb read 30m INC-1 fix\u202Egnp.exe\u0000 now\u200B!');
      const req = await newestOf(ALICE, after);
      expect(req.reason).toBe('fixgnp.exe now!');
      expect(text(await approvalOf(req.id))).toContain('fixgnp.exe now!');
      expect(hiddenSentToSlack()).toEqual([]);
    });

    it('a reason typed with &, < and > (Slack sends them escaped) is stored, audited and shown as typed, and measured as typed', async () => {
      const after = await lastId();
      await command(ALICE, 'appdb read 30m INC-3 R&D <team> says a>b && c<d');
      const req = await newestOf(ALICE, after);
      expect(req.reason).toBe('R&D <team> says a>b && c<d');
      expect(text(await approvalOf(req.id))).toContain('R&D <team> says a>b && c<d');
      const created = (await store().listAudit({ requestId: req.id, type: 'request.created' }))[0]!;
      expect(created.detail.reason).toBe('R&D <team> says a>b && c<d');
      // 350 characters as typed (over 1 000 as Slack sends them): within the 500 allowed.
      const long = 'x&<> '.repeat(70).trim();
      expect(long.length).toBeLessThanOrEqual(350);
      await command(ALICE, `appdb read 30m INC-4 ${long}`);
      expect((await newestOf(ALICE, req.id)).reason).toBe(long);
    });

    it('a reason typed with &, < and > reads as typed in the Teams card, the audit export and the access report', async () => {
      const typed = 'R&D <team> says a>b && c<d';
      const after = await lastId();
      const since = Date.now();
      await command(CAROL, `appdb read 30m CHG-77 ${typed}`);
      const req = await newestOf(CAROL, after);
      const msg = await approvalOf(req.id);
      const click = blockActionsPayload({
        userId: BOB,
        actionId: APPROVE,
        value: String(req.id),
        channelId: CHANNEL,
        message: msg,
      });
      expect((await postInteraction(broker.baseUrl, SECRET, click)).status).toBe(200);
      const grant = await waitFor('the grant to be active', async () => {
        const g = await store().getGrantByRequest(req.id);
        return g?.status === 'active' ? g : undefined;
      });
      const deps = broker.app.deps;
      // Teams: the approval card shows the reason as exact text runs, never HTML- or markdown-escaped.
      const runs: string[] = [];
      const walk = (v: unknown): void => {
        if (Array.isArray(v)) v.forEach(walk);
        else if (v && typeof v === 'object') {
          const o = v as Record<string, unknown>;
          if (o.type === 'TextRun' && typeof o.text === 'string') runs.push(o.text);
          Object.values(o).forEach(walk);
        }
      };
      walk(approvalCard(await loadRequestView(deps, req.id)));
      expect(runs.map((r) => r.trim())).toContain(typed);
      expect(runs.join('\n')).not.toMatch(/&amp;|&lt;|&gt;|\\[<>&]/);
      // The audit export, both formats.
      const lines = async (format: 'csv' | 'jsonl') => {
        const out: string[] = [];
        for await (const line of exportAudit(store(), { requestId: req.id }, format)) out.push(line);
        return out;
      };
      const events = (await lines('jsonl')).map((l) => JSON.parse(l) as { type: string; detail: { reason?: string } });
      expect(events.find((e) => e.type === 'request.created')?.detail.reason).toBe(typed);
      const csv = (await lines('csv')).join('\n');
      expect(csv).toContain(typed);
      expect(csv).not.toMatch(/&amp;|&lt;|&gt;/);
      // The access report (table and CSV).
      const rows = (await accessReport(store(), since, Date.now() + 3_600_000)).filter(
        (r) => r.username === grant.username,
      );
      expect(rows.map((r) => r.reason)).toEqual([typed]);
      expect(reportCsv(rows)).toContain(typed);
    });

    it('a reason and ticket from the request dialog: hidden characters gone, the reason keeps its lines', async () => {
      const after = await lastId();
      const submitted = viewSubmissionPayload({
        userId: ALICE,
        callbackId: REQUEST_MODAL,
        privateMetadata: JSON.stringify({ channelId: INCIDENT }),
        values: {
          database: {
            database_select: {
              type: 'static_select',
              selected_option: { text: { type: 'plain_text', text: 'appdb' }, value: 'appdb' },
            } as never,
          },
          level: {
            level_select: {
              type: 'static_select',
              selected_option: { text: { type: 'plain_text', text: 'read' }, value: 'read' },
            } as never,
          },
          duration: { duration_input: '30m' },
          reason: { reason_input: 'line one\u2067\r\nline two\u0007\uFEFF' },
          ticket: { ticket_input: 'INC-\u200B5' },
        },
      });
      expect((await postInteraction(broker.baseUrl, SECRET, submitted)).status).toBe(200);
      const req = await newestOf(ALICE, after);
      expect(req.reason).toBe('line one\nline two');
      expect(req.ticket).toBe('INC-5');
      await approvalOf(req.id);
      expect(hiddenSentToSlack()).toEqual([]);
    });

    it('a deny reason from the deny dialog', async () => {
      const after = await lastId();
      await command(ALICE, 'appdb read 30m INC-2 to be denied');
      const req = await newestOf(ALICE, after);
      const msg = await approvalOf(req.id);
      const submitted = viewSubmissionPayload({
        userId: BOB,
        callbackId: DENY_MODAL,
        privateMetadata: String(req.id),
        values: { reason: { reason_input: 'use the \u202Ereplica\u0000' } },
      });
      expect((await postInteraction(broker.baseUrl, SECRET, submitted)).status).toBe(200);
      await slack.waitUntil(() => /use the replica/.test(text(slack.messageAt(CHANNEL, msg.ts)!)), {
        timeoutMs: 10_000,
      });
      expect((await store().listApprovals(req.id)).map((a) => a.note)).toEqual(['use the replica']);
      expect(hiddenSentToSlack()).toEqual([]);
    });

    it('a Slack display name: the requester is stored under the cleaned name', async () => {
      const after = await lastId();
      await command(ZOE, 'appdb read 30m INC-3 looking');
      const req = await newestOf(ZOE, after);
      expect(req.requester.name).toBe('zoe (admin)');
      await approvalOf(req.id);
      expect(hiddenSentToSlack()).toEqual([]);
    });
  });

  // These reach the core with no chat edge in front (as the CLI's `grant` / `request` do): they hold once the core
  // cleans reason, ticket and deny reason itself (validateRequest and requestExtension in core/asking.ts, deny in core/deciding.ts).
  describe('in the core', () => {
    const alice: Actor = { platform: 'slack', id: ALICE, email: 'alice@example.com', name: 'alice' };
    const bob: Actor = { platform: 'slack', id: BOB, email: 'bob@example.com', name: 'bob' };

    it('a reason and ticket given to requestAccess directly', async () => {
      const req = await requestAccess(broker.app.deps, alice, {
        database: 'appdb',
        level: 'read',
        duration: '30m',
        reason: 'fix\u202Egnp.exe\u0000 now',
        ticket: 'INC-\u200B9',
      });
      expect((await store().getRequest(req.id))!.reason).toBe('fixgnp.exe now');
      expect((await store().getRequest(req.id))!.ticket).toBe('INC-9');
      expect(text(await approvalOf(req.id))).toContain('fixgnp.exe now');
      expect(hiddenSentToSlack()).toEqual([]);
    });

    it('a deny reason given to deny directly', async () => {
      const req = await requestAccess(broker.app.deps, alice, {
        database: 'appdb',
        level: 'read',
        duration: '30m',
        reason: 'deny me',
      });
      const msg = await approvalOf(req.id);
      await deny(broker.app.deps, req.id, bob, 'use the \u202Ereplica\u0000');
      await slack.waitUntil(() => /Denied/i.test(text(slack.messageAt(CHANNEL, msg.ts)!)), { timeoutMs: 10_000 });
      expect((await store().listApprovals(req.id)).map((a) => a.note)).toEqual(['use the replica']);
      expect((await store().getRequest(req.id))!.decisionNote).not.toMatch(HIDDEN);
      expect(hiddenSentToSlack()).toEqual([]);
    });
  });
});
