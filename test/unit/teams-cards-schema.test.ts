/**
 * Every Adaptive Card the Teams side can produce, in every phase and under maximum-size inputs (the longest reason
 * and ticket the core accepts, long names and descriptions, many approvers and databases), parsed by the
 * `adaptivecards` package (Microsoft's renderer, the one Teams web and desktop use) at schema 1.5: no parse or
 * validation event at all, not even a warning. Also: each message stays under Teams' activity size limit, every
 * Universal Action carries an Action.Submit fallback with the same data, and every required input says what is missing.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { approvalMessage } from '../../src/chat/teams/cards/approval.js';
import { bundleDmMessage } from '../../src/chat/teams/cards/bundle-dm.js';
import {
  accessActiveMessage,
  accessEndedMessage,
  credentialsDialog,
  credentialsInChatMessage,
  expiresSoonMessage,
  provisionFailedMessage,
} from '../../src/chat/teams/cards/dm.js';
import type { AdaptiveCard } from '../../src/chat/teams/cards/kit.js';
import {
  breakGlassMessage,
  escalationMessage,
  helpMessage,
  listMessage,
  receiptMessage,
  requestFormMessage,
  requestSentMessage,
  reviewOverdueMessage,
  revocationStuckMessage,
  textMessage,
  unreachableMessage,
} from '../../src/chat/teams/cards/replies.js';
import { MAX_BUNDLE_MEMBERS } from '../../src/config/catalog-schema.js';
import type { Catalog, DatabaseEntry } from '../../src/core/catalog.js';
import { buildCredentials } from '../../src/core/credentials.js';
import type { ApproverRef, Grant } from '../../src/core/model.js';
import { MAX_REASON_LENGTH, MAX_TICKET_LENGTH } from '../../src/core/asking.js';
import type { Phase, RequestView } from '../../src/core/view.js';
import { rid, gid } from '../support/ids.js';

/** The parts of the adaptivecards API used here (its ESM build is not loadable by Node; the UMD bundle is). */
interface ParseContext {
  eventCount: number;
  getEventAt(i: number): { phase: number; event: number; message: string };
}
interface AdaptiveCardsModule {
  AdaptiveCard: new () => {
    parse(json: unknown, ctx: ParseContext): void;
    validateProperties(): { validationEvents: Array<{ phase: number; event: number; message: string }> };
  };
  SerializationContext: new (version: unknown) => ParseContext;
  Versions: { v1_5: unknown };
}
const AC = createRequire(import.meta.url)('adaptivecards/dist/adaptivecards.js') as AdaptiveCardsModule;

/** Parse and validation events for one card, as messages. */
function problems(card: AdaptiveCard): string[] {
  const ctx = new AC.SerializationContext(AC.Versions.v1_5);
  const parsed = new AC.AdaptiveCard();
  parsed.parse(card, ctx);
  const events = Array.from({ length: ctx.eventCount }, (_, i) => ctx.getEventAt(i));
  return [...events, ...parsed.validateProperties().validationEvents].map((e) => e.message);
}

/** Teams refuses a bot's activity above about 28 KB. */
const ACTIVITY_MAX = 28_000;

const T0 = Date.UTC(2026, 10, 28, 10, 0, 0);
/** Every markdown mark, a would-be mention and an entity: what the cards must show as typed. */
const HOSTILE = '*_[x](https://e.example) #`~>|!\\ <at>Bob</at> &amp; <b> ';
const long = (n: number, seed = HOSTILE) => seed.repeat(Math.ceil(n / seed.length)).slice(0, n);
const NAME = long(256, 'Ålice *Über* [Ops] ');
const APPROVERS: ApproverRef[] = Array.from({ length: 200 }, (_, i) => ({
  platform: i % 2 ? 'teams' : 'email',
  id: i % 2 ? `0000${String(i).padStart(4, '0')}-aaaa-4bbb-8ccc-000000000000` : `approver-${i}@example.com`,
  email: `approver-${i}@example.com`,
  name: `${long(60, 'Approver *of* [things] ')} ${i}`,
  via: 'pagerduty schedule PABC123',
}));
const requester = {
  platform: 'teams' as const,
  id: '00000001-aaaa-4bbb-8ccc-000000000001',
  name: NAME,
  email: 'alice@example.com',
};
const DB_NAME = long(63, 'orders-prod-eu-west-');

function grant(over: Partial<Grant> = {}): Grant {
  return {
    id: gid(123456),
    requestId: rid(654321),
    requester,
    database: DB_NAME,
    level: 'read',
    username: 'jit_alice_x7k2abcdefgh',
    status: 'active',
    createdAt: T0,
    expiresAt: T0 + 3_600_000,
    provisionAttempts: 1,
    revokeAttempts: 0,
    ...over,
  };
}

function view(phase: Phase, over: Partial<RequestView['request']> = {}, extra: Partial<RequestView> = {}): RequestView {
  return {
    request: {
      id: rid(654321),
      requester,
      // Asked on their behalf: the cards name both people (their largest form).
      askedBy: { ...requester, id: '00000002-aaaa-4bbb-8ccc-000000000002', email: 'bob@example.com' },
      database: DB_NAME,
      level: 'read-write-with-a-long-level-name',
      durationMs: 8 * 3_600_000,
      reason: long(MAX_REASON_LENGTH),
      ticket: long(MAX_TICKET_LENGTH),
      status:
        phase === 'pending'
          ? 'pending'
          : phase === 'denied' || phase === 'expired' || phase === 'cancelled'
            ? phase
            : 'approved',
      requiredApprovals: 3,
      createdAt: T0,
      decideBy: T0 + 1_800_000,
      tier: 0,
      approvers: APPROVERS,
      unavailableSources: Array.from({ length: 20 }, (_, i) => `pagerduty schedule P${i}: ${long(80)}`),
      breakGlass: false,
      incidentId: 'Q1ABCDEF',
      incidentUrl: 'https://example.pagerduty.com/incidents/Q1ABCDEF',
      ...over,
    },
    database: { name: DB_NAME, engine: 'postgres', description: long(1000) },
    approvals: APPROVERS.slice(0, 2).map((a) => ({
      requestId: rid(654321),
      approver: { ...a, platform: 'teams' as const },
      decision: 'approve' as const,
      at: T0,
    })),
    ...(phase === 'denied' && {
      denial: {
        requestId: rid(654321),
        approver: { ...APPROVERS[1]!, platform: 'teams' as const },
        decision: 'deny' as const,
        note: long(300),
        at: T0,
      },
    }),
    ...(phase !== 'pending' &&
      phase !== 'denied' &&
      phase !== 'expired' &&
      phase !== 'cancelled' &&
      phase !== 'provisioning' && {
        grant: grant({
          status:
            phase === 'ended'
              ? 'revoked'
              : phase === 'failed'
                ? 'failed'
                : phase === 'revoking'
                  ? 'revoking'
                  : 'active',
          revokedAt: T0 + 10,
          endReason: long(500),
          lastError: long(2000),
          revokeFailingSince: T0,
          revokeAttempts: 12,
        }),
      }),
    ...((phase === 'ended' || phase === 'failed') && {
      receipt: { sessionsTerminated: 3, userOutcome: 'dropped' as const, at: T0 + 10, reason: long(500) },
    }),
    phase,
    now: T0,
    ...extra,
  };
}

const PHASES: Phase[] = [
  'pending',
  'provisioning',
  'active',
  'revoking',
  'ended',
  'denied',
  'expired',
  'cancelled',
  'failed',
];

const entry = (i: number): DatabaseEntry =>
  ({
    name: `${DB_NAME.slice(0, 58)}-${i}`,
    description: long(1000),
    engine: i % 2 ? 'mysql' : 'postgres',
    levels: new Map(Array.from({ length: 8 }, (_, j) => [`level-${j}-${long(20, 'x')}`, {}])),
    maxDuration: 24 * 3_600_000,
  }) as unknown as DatabaseEntry;
const CATALOG = {
  databases: new Map(Array.from({ length: 150 }, (_, i) => [entry(i).name, entry(i)])),
} as unknown as Catalog;
const creds = (engine: 'postgres' | 'mysql') =>
  buildCredentials(
    { engine, host: `${long(200, 'db-host.')}internal`, port: 65535, database: long(63, 'db_') } as DatabaseEntry,
    'jit_alice_x7k2abcdefgh',
    'Pw0rdXq9Zt3LmN8vB2cRPw0rdXq9Zt3L',
    T0,
  );

type Message = { attachments: Array<{ content: AdaptiveCard }> };

/** An approved bundle with the most members, each in `phases[i % phases.length]`. */
function bundleView(phases: Phase[]): RequestView {
  const members = Array.from({ length: MAX_BUNDLE_MEMBERS }, (_, i) => {
    const m = view(phases[i % phases.length]!, { id: rid(700000 + i), database: `${DB_NAME.slice(0, 58)}-${i}` });
    return m.grant ? { ...m, grant: { ...m.grant, id: gid(800000 + i), requestId: m.request.id } } : m;
  });
  return view(
    'active',
    { level: '' },
    {
      bundle: {
        name: DB_NAME,
        entries: members.map((m) => ({ database: m.request.database, level: m.request.level })),
        members,
      },
    },
  );
}

/** Every card, named. */
function allCards(): Array<[string, AdaptiveCard, Message | undefined]> {
  const out: Array<[string, AdaptiveCard, Message | undefined]> = [];
  const msg = (name: string, m: Message) => out.push([name, m.attachments[0]!.content, m]);
  for (const p of PHASES) {
    msg(`approval ${p}`, approvalMessage(view(p)));
    msg(`approval ${p} (extension)`, approvalMessage(view(p, { extendsGrantId: gid(99) }, { grant: grant() })));
    msg(`request sent ${p}`, requestSentMessage(view(p)));
    msg(`receipt ${p}`, receiptMessage(view(p)));
  }
  msg('approval break-glass', approvalMessage(view('active', { breakGlass: true, reviewBy: T0 })));
  msg('approval auto-approved', approvalMessage(view('active', { decisionNote: `auto-approved: ${long(400)}` })));
  msg('access active', accessActiveMessage(view('active')));
  msg('access active (no credentials button)', accessActiveMessage(view('active'), { showCredentials: false }));
  msg('access ended', accessEndedMessage(view('ended')));
  msg('access ended (password removed)', accessEndedMessage(view('ended'), { passwordRemoved: true }));
  msg('expires soon', expiresSoonMessage(view('active'), 300_000));
  msg('provision failed, retrying', provisionFailedMessage(view('failed'), long(2000), true));
  msg('provision failed', provisionFailedMessage(view('failed'), long(2000), false));
  msg('bundle 1:1 message', bundleDmMessage(bundleView(['provisioning', 'active', 'revoking', 'ended', 'failed'])));
  msg('bundle 1:1 message, all active', bundleDmMessage(bundleView(['active'])));
  msg('bundle 1:1 message, all failed', bundleDmMessage(bundleView(['failed'])));
  for (const engine of ['postgres', 'mysql'] as const) {
    out.push([`credentials dialog ${engine}`, credentialsDialog(view('active'), creds(engine)), undefined]);
    msg(`credentials in chat ${engine}`, credentialsInChatMessage(view('active'), creds(engine)));
  }
  msg('help', helpMessage(CATALOG));
  msg('request form', requestFormMessage(CATALOG));
  msg('list', listMessage([...PHASES.map((p) => view(p)), ...Array.from({ length: 60 }, () => view('active'))]));
  msg('list (empty)', listMessage([]));
  msg('revocation stuck', revocationStuckMessage(view('revoking'), long(2000)));
  msg('escalation', escalationMessage(view('pending'), 3, APPROVERS));
  msg('break-glass', breakGlassMessage(view('active', { breakGlass: true, reviewBy: T0 })));
  msg('break-glass reviewed', breakGlassMessage(view('active', { breakGlass: true, reviewBy: T0, reviewedAt: T0 })));
  msg('review overdue', reviewOverdueMessage(view('active', { breakGlass: true })));
  msg('unreachable', unreachableMessage(view('active')));
  msg('text', textMessage([long(5000), long(5000)], 'summary'));
  return out;
}

function walk(node: unknown, visit: (n: Record<string, unknown>) => void): void {
  if (Array.isArray(node)) return node.forEach((n) => walk(n, visit));
  if (!node || typeof node !== 'object') return;
  visit(node as Record<string, unknown>);
  for (const v of Object.values(node)) walk(v, visit);
}

describe('every Teams card', () => {
  const cards = allCards();

  it('is a valid Adaptive Card 1.5 for the adaptivecards package: no parse or validation event, under maximum-size inputs', () => {
    expect(cards.length).toBeGreaterThan(40);
    const found = cards.map(([name, card]) => [name, problems(card)] as const).filter(([, p]) => p.length);
    expect(found).toEqual([]);
  });

  it('the checker is not blind: an unknown element, a required input without an error message and a too-new version are reported', () => {
    const base = cards[0]![1];
    expect(problems({ ...base, body: [...base.body, { type: 'CodeBlock', codeSnippet: 'x' }] }).join()).toMatch(
      /Unknown element type "CodeBlock"/,
    );
    expect(problems({ ...base, body: [{ type: 'Input.Text', id: 'x', label: 'X', isRequired: true }] }).join()).toMatch(
      /error message/i,
    );
    expect(
      problems({
        ...base,
        body: [{ type: 'TextBlock', text: 'x', wrap: true, style: 'heading', fallback: 'drop' }],
        version: '9.9' as '1.5',
      }).length,
    ).toBeGreaterThan(0);
  });

  it('fits in one Teams activity', () => {
    const sizes = cards.filter(([, , m]) => m).map(([name, , m]) => [name, JSON.stringify(m).length] as const);
    expect(sizes.filter(([, n]) => n > ACTIVITY_MAX)).toEqual([]);
  });

  it('every Action.Execute carries an Action.Submit fallback with the same title and data; every required input an error message', () => {
    let executes = 0;
    let required = 0;
    for (const [name, card] of cards) {
      walk(card, (n) => {
        if (n.type === 'Action.Execute') {
          executes++;
          expect(n.fallback, name).toEqual({
            type: 'Action.Submit',
            title: n.title,
            data: n.data,
            ...(n.style !== undefined && { style: n.style }),
          });
          expect((n.data as { verb?: unknown }).verb, name).toBe(n.verb);
        }
        if (n.isRequired === true) {
          required++;
          expect(typeof n.errorMessage === 'string' && n.errorMessage.length > 0, `${name}: ${String(n.id)}`).toBe(
            true,
          );
        }
      });
    }
    expect(executes).toBeGreaterThan(10);
    expect(required).toBeGreaterThanOrEqual(5);
  });
});
