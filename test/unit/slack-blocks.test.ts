/**
 * The Slack builders are pure: these tests feed them worst-case views and check what Slack would reject (limits),
 * what people must never see (pings and disguised links from user text, passwords outside the credential builders)
 * and what they must see (the right buttons per phase).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { AccessLevel, Catalog, DatabaseEntry } from '../../src/core/catalog.js';
import { buildCredentials } from '../../src/core/credentials.js';
import { BrokerError, type BrokerErrorCode } from '../../src/core/errors.js';
import type { AccessRequest, Actor, ApproverRef, Grant } from '../../src/core/model.js';
import type { Phase, RequestView } from '../../src/core/view.js';
import { revocationStuckAlert } from '../../src/chat/slack/blocks/alerts.js';
import { approvalMessage } from '../../src/chat/slack/blocks/approval-message.js';
import { credentialsDm, credentialsDmEnded, credentialsModal } from '../../src/chat/slack/blocks/credentials.js';
import { denyModal, parseDenyModal } from '../../src/chat/slack/blocks/deny-modal.js';
import {
  accessActiveDm,
  accessEndedDm,
  expiresSoonDm,
  provisionFailedDm,
  requestDeniedDm,
  requestExpiredDm,
} from '../../src/chat/slack/blocks/dm.js';
import {
  errorText,
  helpText,
  inlineErrorText,
  listText,
  requestSentText,
} from '../../src/chat/slack/blocks/ephemeral.js';
import { extendModal, parseExtendModal } from '../../src/chat/slack/blocks/extend-modal.js';
import { homeView } from '../../src/chat/slack/blocks/home.js';
import { revocationReceipt } from '../../src/chat/slack/blocks/receipt.js';
import {
  parseRequestModal,
  requestModal,
  requestModalChannel,
  type ModalValues,
} from '../../src/chat/slack/blocks/request-modal.js';
import { APPROVE, DENY, INPUT, REVOKE } from '../../src/chat/slack/ids.js';
import * as L from '../../src/chat/slack/limits.js';
import { code, escapeMrkdwn, mention, slackDate } from '../../src/chat/slack/mrkdwn.js';
import { rid, gid } from '../support/ids.js';

const NOW = Date.UTC(2025, 4, 1, 12, 0);
const EVIL = '<!channel> <https://evil.example|click> & <@U0EVIL>';
const ALICE: Actor = { platform: 'slack', id: 'U0ALICE', email: 'alice@example.com', name: 'alice' };
const BOB: Actor = { platform: 'slack', id: 'U0BOB', name: 'bob' };
const PHASES: Phase[] = [
  'pending',
  'denied',
  'expired',
  'cancelled',
  'provisioning',
  'active',
  'revoking',
  'ended',
  'failed',
];

function level(name: string): AccessLevel {
  return { name, roles: [], grants: [], guardRails: { connectionLimit: 5 } };
}
function entry(name: string, over: Partial<DatabaseEntry> = {}): DatabaseEntry {
  return {
    name,
    engine: 'postgres',
    host: 'db.internal',
    port: 5432,
    database: 'orders',
    admin: { user: 'admin', password: 'ADMINPW' },
    levels: new Map([
      ['read', level('read')],
      ['write', level('write')],
    ]),
    maxDuration: 4 * 3_600_000,
    brokerSchema: 'db_access',
    delivery: 'reveal',
    approval: { required: 1, timeoutMs: 3_600_000, approvers: [], escalation: [], autoApprove: [] },
    limits: { activeGrantsPerPerson: 3, pendingRequestsPerPerson: 3 },
    ...over,
  };
}
const CATALOG: Catalog = {
  databases: new Map([
    ['orders-prod', entry('orders-prod', { description: 'Orders, production' })],
    [
      'billing',
      entry('billing', { engine: 'mysql', levels: new Map([['ddl', level('ddl')]]), maxDuration: 3_600_000 }),
    ],
  ]),
};
const CREDS = buildCredentials(entry('orders-prod'), 'jit_alice_x7k2', 'Pw0rdXq9Zt3LmN8vB2cR', NOW + 3_600_000);

/** A RequestView in any phase; `worst` fills every free-text field to its maximum with hostile text. */
function makeView(
  phase: Phase,
  opts: { worst?: boolean; approvers?: number; extension?: boolean; id?: number } = {},
): RequestView {
  const w = opts.worst ?? false;
  const approvers: ApproverRef[] = Array.from({ length: opts.approvers ?? 2 }, (_, i) => ({
    platform: 'slack',
    id: `U0APP${i}`,
    via: 'email',
  }));
  const id = opts.id ?? 42;
  const request: AccessRequest = {
    id: rid(id),
    requester: w ? { ...ALICE, name: EVIL } : ALICE,
    database: 'orders-prod',
    level: 'read',
    durationMs: 3_600_000,
    tier: 0,
    breakGlass: false,
    reason: w ? (EVIL + ' ').repeat(20).slice(0, 500) : 'checking stuck orders',
    ...(w && { ticket: (EVIL + '`').repeat(5).slice(0, 200) }),
    status:
      phase === 'pending'
        ? 'pending'
        : ['denied', 'expired', 'cancelled'].includes(phase)
          ? (phase as 'denied')
          : 'approved',
    requiredApprovals: 2,
    createdAt: NOW - 60_000,
    decidedAt: NOW,
    approvers,
    decideBy: NOW + 3_600_000,
    ...(w && { unavailableSources: [`pagerduty ${EVIL}`] }),
    ...(opts.extension && { extendsGrantId: gid(7) }),
  };
  const grant: Grant = {
    id: gid(7),
    requestId: rid(id),
    requester: ALICE,
    database: 'orders-prod',
    level: 'read',
    username: 'jit_alice_x7k2',
    status:
      phase === 'ended'
        ? 'revoked'
        : phase === 'failed'
          ? 'failed'
          : phase === 'revoking'
            ? 'revoking'
            : phase === 'provisioning'
              ? 'provisioning'
              : 'active',
    createdAt: NOW,
    expiresAt: NOW + 3_600_000,
    provisionAttempts: 1,
    revokeAttempts: 3,
    revokeFailingSince: NOW,
    ...(w && { lastError: `permanent: ${EVIL}`.repeat(10), endReason: `revoked by ${EVIL}` }),
  };
  const hasGrant = ['provisioning', 'active', 'revoking', 'ended', 'failed'].includes(phase);
  return {
    request,
    phase,
    now: NOW,
    database: {
      name: 'orders-prod',
      engine: 'postgres',
      description: w ? EVIL.repeat(10).slice(0, 200) : 'Orders, production',
    },
    approvals:
      phase === 'pending' || hasGrant
        ? [{ requestId: rid(id), approver: w ? { ...BOB, name: EVIL } : BOB, decision: 'approve', at: NOW }]
        : [],
    ...(phase === 'denied' && {
      denial: {
        requestId: rid(id),
        approver: BOB,
        decision: 'deny' as const,
        note: w ? EVIL : 'use the replica',
        at: NOW,
      },
    }),
    ...(hasGrant && { grant }),
    ...((phase === 'ended' || phase === 'failed') && {
      receipt: {
        at: NOW + 3_600_000,
        sessionsTerminated: 1,
        userOutcome: 'dropped' as const,
        reason: w ? `revoked by ${EVIL}` : 'expired',
      },
    }),
  };
}

type Out = { name: string; value: unknown };
/** Every builder's output for one view, except the two that hold a password. */
function outputs(v: RequestView): Out[] {
  const err = (c: BrokerErrorCode) => new BrokerError(c, `unknown thing "${EVIL}"`, { valid: ['a', EVIL] });
  const codes: BrokerErrorCode[] = [
    'INVALID_INPUT',
    'UNKNOWN_DATABASE',
    'UNKNOWN_LEVEL',
    'DURATION_TOO_LONG',
    'NOT_FOUND',
    'ALREADY_DECIDED',
    'FORBIDDEN',
    'SELF_APPROVAL',
    'TARGET_ERROR',
  ];
  return [
    { name: 'approvalMessage', value: approvalMessage(v) },
    { name: 'credentialsDmEnded', value: credentialsDmEnded(v) },
    { name: 'denyModal', value: denyModal(v) },
    { name: 'extendModal', value: extendModal(v, { maxDurationMs: 4 * 3_600_000 }) },
    { name: 'accessActiveDm', value: accessActiveDm(v) },
    { name: 'accessEndedDm', value: accessEndedDm(v) },
    { name: 'expiresSoonDm', value: expiresSoonDm(v, 300_000) },
    { name: 'provisionFailedDm', value: provisionFailedDm(v, `x ${EVIL}`.repeat(200), true) },
    { name: 'requestDeniedDm', value: requestDeniedDm(v) },
    { name: 'requestExpiredDm', value: requestExpiredDm(v) },
    { name: 'revocationReceipt', value: revocationReceipt(v) },
    { name: 'revocationStuckAlert', value: revocationStuckAlert(v, EVIL.repeat(300)) },
    { name: 'home', value: homeView({ userId: 'U0BOB', mine: [v], toApprove: [v], now: NOW }) },
    { name: 'requestSentText', value: { text: requestSentText(v), blocks: [] } },
    { name: 'listText', value: { text: listText([v]), blocks: [] } },
    { name: 'helpText', value: { text: helpText(CATALOG), blocks: [] } },
    { name: 'requestModal', value: requestModal(CATALOG, { channelId: 'C1' }) },
    ...codes.map((c) => ({ name: `errorText ${c}`, value: { text: errorText(err(c), v), blocks: [] } })),
  ];
}

/** Walks a Block Kit payload and returns every limit it breaks. */
function violations(node: unknown, path = '$'): string[] {
  if (Array.isArray(node)) return node.flatMap((n, i) => violations(n, `${path}[${i}]`));
  if (!node || typeof node !== 'object') return [];
  const o = node as Record<string, any>;
  const bad: string[] = [];
  const max = (v: unknown, n: number, what: string) => {
    if (typeof v === 'string' && v.length > n) bad.push(`${path}.${what}: ${v.length} > ${n}`);
  };
  if (
    (o.type === 'plain_text' || o.type === 'mrkdwn') &&
    (typeof o.text !== 'string' || o.text.length === 0 || o.text.length > L.TEXT_OBJECT)
  )
    bad.push(`${path}: text length`);
  if (o.type === 'header') max(o.text?.text, L.HEADER_TEXT, 'header');
  if (o.type === 'section') {
    max(o.text?.text, L.SECTION_TEXT, 'section');
    if ((o.fields?.length ?? 0) > L.SECTION_FIELDS) bad.push(`${path}: fields`);
    for (const f of o.fields ?? []) max(f.text, L.FIELD_TEXT, 'field');
  }
  if (o.type === 'context' && o.elements.length > L.CONTEXT_ELEMENTS) bad.push(`${path}: context elements`);
  if (o.type === 'actions' && o.elements.length > L.ACTIONS_ELEMENTS) bad.push(`${path}: actions`);
  if (o.type === 'button') {
    max(o.text.text, L.BUTTON_TEXT, 'button text');
    if (o.value !== undefined && !/^\d+$/.test(o.value)) bad.push(`${path}: button value ${o.value} is not an id`);
    max(o.confirm?.title?.text, L.CONFIRM_TITLE, 'confirm title');
    max(o.confirm?.text.text, L.CONFIRM_TEXT, 'confirm text');
  }
  if (o.type === 'input') {
    max(o.label.text, L.INPUT_LABEL, 'label');
    max(o.hint?.text, L.INPUT_HINT, 'hint');
  }
  if (o.type === 'static_select') {
    if (o.options.length > L.SELECT_OPTIONS) bad.push(`${path}: options`);
    for (const op of o.options) {
      max(op.text.text, L.OPTION_TEXT, 'option');
      max(op.value, L.OPTION_VALUE, 'option value');
      max(op.description?.text, L.OPTION_DESCRIPTION, 'option description');
    }
  }
  if (o.type === 'plain_text_input' && (o.max_length ?? 0) > L.PLAIN_TEXT_INPUT_MAX) bad.push(`${path}: max_length`);
  max(o.placeholder?.text, L.PLACEHOLDER, 'placeholder');
  max(o.action_id, L.ACTION_ID, 'action_id');
  max(o.block_id, L.BLOCK_ID, 'block_id');
  if (o.type === 'modal' || o.type === 'home') {
    if (o.blocks.length > L.VIEW_BLOCKS) bad.push(`${path}: ${o.blocks.length} blocks`);
    for (const k of ['title', 'submit', 'close']) max(o[k]?.text, L.VIEW_TITLE, k);
    max(o.private_metadata, L.PRIVATE_METADATA, 'private_metadata');
    max(o.callback_id, L.CALLBACK_ID, 'callback_id');
  } else if ('blocks' in o && 'text' in o) {
    max(o.text, L.MESSAGE_TEXT, 'text');
    if (o.blocks.length > L.MESSAGE_BLOCKS) bad.push(`${path}: ${o.blocks.length} blocks`);
    if (JSON.stringify(o.blocks).length > L.MESSAGE_BLOCKS_CHARS) bad.push(`${path}: blocks too long overall`);
  }
  return [...bad, ...Object.entries(o).flatMap(([k, v]) => violations(v, `${path}.${k}`))];
}

/**
 * Every `<` must open a token we wrote: a mention of a known user or one of our dates. So no `<!channel>`, no
 * `<https://…|…>` and no `<@U0EVIL>` typed by a user survives.
 */
function unsafe(value: unknown): string[] {
  const json = JSON.stringify(value);
  return [...json.matchAll(/<(?!@U0(?:ALICE|BOB|APP\d+)>|!date\^\d+\^)/g)].map((m) =>
    json.slice(Math.max(0, m.index - 20), m.index + 30),
  );
}

const actionIds = (msg: { blocks: any[] }) =>
  msg.blocks.filter((b) => b.type === 'actions').flatMap((b) => b.elements.map((e: any) => e.action_id));

describe('mrkdwn helpers', () => {
  it('escapes exactly &, < and >, which neutralises pings and disguised links', () => {
    expect(escapeMrkdwn(EVIL)).toBe('&lt;!channel&gt; &lt;https://evil.example|click&gt; &amp; &lt;@U0EVIL&gt;');
    expect(escapeMrkdwn(`it's "fine"`)).toBe(`it's "fine"`);
  });
  it('drops bidi, invisible and control characters from text of any source (an old stored reason, an on-call name)', () => {
    expect(escapeMrkdwn('fix\u202Egnp.exe\u0000 \u200Bnow')).toBe('fixgnp.exe now');
    expect(mention({ platform: 'email', id: 'x@example.com', name: 'b\u2067o\u200Db' })).toBe('bob');
    const v = makeView('pending');
    v.request = { ...v.request, reason: 'fix\u202Egnp.exe\u0000' };
    const msg = approvalMessage(v);
    expect(JSON.stringify(msg)).toContain('fixgnp.exe');
    expect(JSON.stringify(msg)).not.toMatch(/\u202e|\\u0000/i);
  });
  it('mentions Slack users by id and names everyone else, escaped', () => {
    expect(mention(ALICE)).toBe('<@U0ALICE>');
    expect(mention({ platform: 'email', id: 'x@example.com', name: '<!here>' })).toBe('&lt;!here&gt;');
    expect(mention({ platform: 'slack', id: '<!channel>' })).toBe('&lt;!channel&gt;');
  });
  it('formats dates for the reader with a UTC fallback, and code that cannot be broken out of', () => {
    expect(slackDate(Date.UTC(2025, 0, 2, 14, 5, 30), '{time}')).toBe('<!date^1735826730^{time}|14:05 UTC>');
    expect(code('a`b` <x>\nc')).toBe('`ab &lt;x&gt; c`');
  });
  it('truncates without splitting an entity, a Slack token or a surrogate pair', () => {
    const text = `${escapeMrkdwn('a<b&c>d')} ${slackDate(NOW)} 😀😀 ${mention(ALICE)} end`;
    for (let max = 1; max <= text.length + 1; max++) {
      const t = L.truncate(text, max);
      expect(t.length).toBeLessThanOrEqual(max);
      expect(t.replace(/&(amp|lt|gt);/g, '')).not.toMatch(/&/);
      expect((t.match(/</g) ?? []).length).toBe((t.match(/>/g) ?? []).length);
      expect(t).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
    }
  });
});

describe('every builder, worst-case input', () => {
  for (const phase of PHASES) {
    for (const extension of [false, true]) {
      it(`${phase}${extension ? ' (extension)' : ''}: stays within Slack limits, escapes user text, never leaks the password`, () => {
        const v = makeView(phase, { worst: true, approvers: 300, extension });
        const all = [
          ...outputs(v),
          { name: 'credentialsModal', value: credentialsModal(v, CREDS) },
          { name: 'credentialsDm', value: credentialsDm(v, CREDS) },
        ];
        for (const { name, value } of all) {
          expect(violations(value), name).toEqual([]);
          expect(unsafe(value), name).toEqual([]);
        }
        for (const { name, value } of outputs(v)) expect(JSON.stringify(value), name).not.toContain(CREDS.password);
        expect(credentialsDm(v, CREDS).text).not.toContain(CREDS.password);
      });
    }
  }

  it('shows a hostile reason literally escaped, in the blocks and in the notification text', () => {
    const v = makeView('pending', { worst: true });
    const msg = approvalMessage(v);
    expect(JSON.stringify(msg.blocks)).toContain('&lt;!channel&gt; &lt;https://evil.example|click&gt;');
    expect(msg.text).toContain('&lt;!channel&gt;');
    expect(msg.text).not.toMatch(/<[@!#]/);
  });

  it('mentions at most what fits of 300 approvers, then "and N more"', () => {
    const v = makeView('pending', { approvers: 300 });
    expect(JSON.stringify(approvalMessage(v).blocks)).toMatch(/<@U0APP0>.* and \d+ more/);
    expect(requestSentText(v)).toMatch(/^Request #42 .*sent to <@U0APP0>.* and \d+ more/);
  });
});

describe('approval message', () => {
  it('offers Approve/Deny only when pending and Revoke only when active, each carrying only an id', () => {
    for (const phase of PHASES) {
      const msg = approvalMessage(makeView(phase));
      const expected = phase === 'pending' ? [APPROVE, DENY] : phase === 'active' ? [REVOKE] : [];
      expect(actionIds(msg), phase).toEqual(expected);
    }
    const [approve] = approvalMessage(makeView('pending'))
      .blocks.filter((b: any) => b.type === 'actions')
      .flatMap((b: any) => b.elements);
    expect(approve.value).toBe('42');
    const revoke = approvalMessage(makeView('active')).blocks.find((b: any) => b.type === 'actions') as any;
    expect(revoke.elements[0]).toMatchObject({ value: '7', style: 'danger', confirm: expect.any(Object) });
  });

  it('says what happened in each phase', () => {
    const text = (p: Phase, extension = false) => JSON.stringify(approvalMessage(makeView(p, { extension })).blocks);
    expect(text('pending')).toContain('1 of 2 approvals: <@U0BOB>');
    expect(text('provisioning')).toContain('Approved by <@U0BOB> · provisioning…');
    // Being created: the duration, not a deadline (the clock starts when the user exists).
    expect(text('provisioning')).toMatch(/the user is being created; its 1h start when it exists/);
    expect(text('active')).toMatch(/Active until <!date\^\d+\^/);
    expect(text('ended')).toMatch(/Expired at <!date/);
    expect(text('denied')).toContain('Denied by <@U0BOB>: use the replica');
    expect(text('expired')).toContain('Expired: nobody approved by <!date');
    expect(text('pending', true)).toContain('Extension request #42 for grant #7');
    expect(JSON.stringify(approvalMessage(makeView('failed', { worst: true })).blocks)).toContain(
      'Provisioning failed: permanent: &lt;!channel&gt;',
    );
  });
});

describe('modals', () => {
  it('request modal round-trips through view.state.values', () => {
    const prefill = { database: 'billing', level: 'ddl', duration: '30m', reason: 'fix <the> index', ticket: 'INC-1' };
    const modal = requestModal(CATALOG, { channelId: 'C0123', prefill });
    const values: ModalValues = {};
    for (const b of modal.blocks as any[]) {
      const e = b.element;
      values[b.block_id] = {
        [e.action_id]:
          e.type === 'static_select'
            ? { type: e.type, selected_option: e.initial_option }
            : { type: e.type, value: e.initial_value },
      };
    }
    expect(parseRequestModal(values)).toEqual(prefill);
    expect(requestModalChannel(modal.private_metadata!)).toBe('C0123');
    expect(requestModalChannel('{"channelId":"<!channel>"}')).toBeUndefined();
    const empty = requestModal(CATALOG, { channelId: 'C0123' });
    expect(JSON.stringify(empty)).toContain('orders-prod 4h, billing 1h'.split(', ').sort().join(', '));
    expect((empty.blocks[1] as any).element.options.map((o: any) => o.value)).toEqual(['ddl', 'read', 'write']);
  });

  const values = (duration: string, reason: string): ModalValues => ({
    [INPUT.duration.block]: { [INPUT.duration.action]: { type: 'plain_text_input', value: duration } },
    [INPUT.reason.block]: { [INPUT.reason.action]: { type: 'plain_text_input', value: reason } },
  });

  it('deny and extend modals carry the id in private_metadata and parse back', () => {
    expect(
      parseDenyModal({
        private_metadata: denyModal(makeView('pending')).private_metadata!,
        state: { values: values('', ' no ') },
      }),
    ).toEqual({ requestId: 42, reason: 'no' });
    expect(
      parseExtendModal({ private_metadata: extendModal(7).private_metadata!, state: { values: values('1h', '') } }),
    ).toEqual({ grantId: 7, duration: '1h' });
    expect(parseDenyModal({ private_metadata: 'x', state: { values: {} } })).toEqual({});
  });

  it("reads a modal's id from private_metadata as decimal and nothing else", () => {
    const submitted = (private_metadata: string) => ({ private_metadata, state: { values: values('1h', 'why') } });
    expect(parseDenyModal(submitted('42'))).toEqual({ requestId: 42, reason: 'why' });
    expect(parseExtendModal(submitted('7'))).toEqual({ grantId: 7, duration: '1h', reason: 'why' });
    for (const v of ['', '0', '-1', '+2', '0x2', '02', '2.0', '4.2', '42 ', ' 42', '1e3', '99999999999999999']) {
      expect(parseDenyModal(submitted(v)).requestId, v).toBeUndefined();
      expect(parseExtendModal(submitted(v)).grantId, v).toBeUndefined();
    }
  });

  it('cleans modal inputs: no bidi, invisible or control characters; a multi-line reason keeps its lines', () => {
    const parsed = parseDenyModal({
      private_metadata: '42',
      state: { values: values('', 'fix\u202Egnp.exe\u0000\r\nsee\u200B INC-1\t!') },
    });
    expect(parsed.reason).toBe('fixgnp.exe\nsee INC-1 !');
  });
});

describe('DMs, home and ephemeral text', () => {
  it('the active DM offers Show credentials and I’m done on the grant id; the ended one offers nothing', () => {
    expect(actionIds(accessActiveDm(makeView('active')))).toEqual(['reveal_credentials', 'done']);
    expect(actionIds(accessActiveDm(makeView('active'), { showCredentials: false }))).toEqual(['done']);
    expect(actionIds(expiresSoonDm(makeView('active'), 300_000))).toEqual(['extend_open', 'done']);
    expect(actionIds(accessEndedDm(makeView('ended')))).toEqual([]);
    expect(JSON.stringify(credentialsDmEnded(makeView('ended')))).toContain(
      '1 session terminated, user `jit_alice_x7k2` dropped',
    );
    expect(
      credentialsDm(makeView('active'), CREDS)
        .blocks.map((b) => JSON.stringify(b))
        .join(),
    ).toContain(CREDS.password);
  });

  it('credentials show host, port, database, user, password, the command and the URL, which is labelled as holding the password', () => {
    for (const shown of [credentialsDm(makeView('active'), CREDS), credentialsModal(makeView('active'), CREDS)]) {
      const blocks = JSON.stringify(shown.blocks);
      for (const s of [CREDS.host, String(CREDS.port), CREDS.database, CREDS.username, CREDS.password])
        expect(blocks).toContain(s);
      expect(blocks).toContain(
        `PGPASSWORD='${CREDS.password}' psql 'host=${CREDS.host} port=${CREDS.port} dbname=${CREDS.database} user=${CREDS.username}'`,
      );
      expect(blocks).toContain(CREDS.url);
      expect(blocks).toMatch(/\*URL\* \(includes the password/);
    }
  });

  it('the receipt says what the revocation did', () => {
    const v = makeView('ended');
    expect(JSON.stringify(revocationReceipt(v).blocks)).toMatch(
      /Revoked at <!date[^>]+> \(expired\): 1 session terminated, user `jit_alice_x7k2` dropped/,
    );
    v.receipt = { ...v.receipt!, userOutcome: 'already_absent', sessionsTerminated: 0 };
    expect(JSON.stringify(revocationReceipt(v).blocks)).toContain(
      '0 sessions terminated, user `jit_alice_x7k2` was already absent',
    );
  });

  it('a request made for someone else names both people, and the asker is offered no approve button', () => {
    const v = makeView('pending');
    v.request.askedBy = { platform: 'slack', id: 'U0BOB', email: 'bob@example.com', name: 'bob' };
    const msg = JSON.stringify(approvalMessage(v).blocks);
    expect(msg).toContain('*Requested by*\\n<@U0BOB>');
    expect(msg).toContain('*For*\\n<@U0ALICE> (gets the access)');
    expect(approvalMessage(v).text).toMatch(/^.*: bob on behalf of .* asks for /);
    for (const userId of ['U0BOB', 'U0ALICE']) {
      const home = JSON.stringify(homeView({ userId, mine: [], toApprove: [v], now: NOW }));
      expect(home).not.toContain('home_approve');
    }
    const carol = JSON.stringify(homeView({ userId: 'U0CAROL', mine: [], toApprove: [v], now: NOW }));
    expect(carol).toContain('home_approve');
    expect(carol).toContain('<@U0BOB> asks for');
    expect(carol).toContain('for <@U0ALICE>');
  });

  it('the home tab caps long lists within 100 blocks, hides your own requests from approval, and has an empty state', () => {
    const many = (p: Phase) => Array.from({ length: 60 }, (_, i) => makeView(p, { worst: true, id: i + 1 }));
    const home = homeView({
      userId: 'U0BOB',
      mine: [...many('active'), ...many('pending')],
      toApprove: many('pending'),
      now: NOW,
    });
    expect(violations(home)).toEqual([]);
    expect(JSON.stringify(home)).toMatch(/and 45 more.*and 50 more.*and 40 more/);
    const own = homeView({ userId: 'U0ALICE', mine: [], toApprove: [makeView('pending')], now: NOW });
    expect(JSON.stringify(own)).not.toContain('home_approve');
    expect(JSON.stringify(homeView({ userId: 'U0BOB', mine: [], toApprove: [], now: NOW }))).toContain(
      'Nothing here yet',
    );
  });

  it('help lists the grammar and every database with its levels; errors are one escaped sentence', () => {
    const help = helpText(CATALOG);
    for (const s of [
      '`orders-prod`: `read`, `write` · up to 4h',
      '`billing`: `ddl` · up to 1h',
      '/db-access <database> <level> <duration> [for @person] [TICKET] <reason…>',
      'list',
      'revoke',
      'extend',
      'help',
    ]) {
      expect(help).toContain(s.replace(/[<>]/g, (c) => (c === '<' ? '&lt;' : '&gt;')));
    }
    expect(errorText(new BrokerError('SELF_APPROVAL', 'x'))).toBe(
      "You can't approve your own request: someone else has to.",
    );
    expect(errorText(new BrokerError('ALREADY_DECIDED', 'x'), makeView('provisioning'))).toBe(
      'Request #42 was already approved by <@U0BOB>.',
    );
    expect(
      errorText(
        new BrokerError('UNKNOWN_DATABASE', `unknown database "${EVIL}"`, { valid: ['orders-prod', 'billing'] }),
      ),
    ).toBe(
      'Unknown database "&lt;!channel&gt; &lt;https://evil.example|click&gt; &amp; &lt;@U0EVIL&gt;". Choose one of: `orders-prod`, `billing`.',
    );
    expect(
      errorText(new BrokerError('DURATION_TOO_LONG', "duration 5h is longer than orders-prod's maximum of 4h")),
    ).toContain('maximum of 4h');
    expect(inlineErrorText(new BrokerError('UNKNOWN_LEVEL', 'unknown level "x" for billing', { valid: ['ddl'] }))).toBe(
      'Unknown level "x" for billing. Valid: ddl.',
    );
    expect(listText([makeView('active'), makeView('pending', { id: 43 })])).toMatch(
      /\*Active\*\n• grant #7: .*\n\*Pending\*\n• Access request #43/,
    );
  });
});

describe('manifest', () => {
  it('points every URL at /slack/events and asks only for the scopes it uses', () => {
    const m = parse(readFileSync(new URL('../../manifests/slack/manifest.yaml', import.meta.url), 'utf8'));
    const urls = [
      m.settings.event_subscriptions.request_url,
      m.settings.interactivity.request_url,
      m.features.slash_commands[0].url,
    ];
    for (const u of urls) expect(u).toBe('https://YOUR_HOST/slack/events');
    expect(m.features.slash_commands[0]).toMatchObject({ command: '/db-access', should_escape: true });
    expect([...m.oauth_config.scopes.bot].sort()).toEqual([
      'chat:write',
      'commands',
      'im:write',
      'usergroups:read',
      'users:read',
      'users:read.email',
    ]);
    expect(m.settings.event_subscriptions.bot_events).toEqual(['app_home_opened']);
    expect(m.settings.socket_mode_enabled).toBe(false);
  });
});
