/**
 * Block Kit's limits, checked on every message, modal and Home view the product can build, fed the largest input
 * the product accepts: a 500-character reason and a 200-character ticket made of characters that grow when escaped,
 * 40-character database names, 30-character level names, 200-character descriptions, 150 databases, 300 approvers,
 * 200 live grants and 200 requests to approve on the Home tab, a 253-character host.
 *
 * The limits are written here from Slack's reference pages (not imported from src/chat/slack/limits.ts, which the
 * builders use): a checker that shares the product's constants would agree with it by construction.
 *   blocks:          https://docs.slack.dev/reference/block-kit/blocks  (50 per message, 100 per modal / Home tab)
 *   section:         https://docs.slack.dev/reference/block-kit/blocks/section-block  (text 3000, 10 fields × 2000)
 *   header:          https://docs.slack.dev/reference/block-kit/blocks/header-block  (150)
 *   context:         https://docs.slack.dev/reference/block-kit/blocks/context-block  (10 elements)
 *   actions:         https://docs.slack.dev/reference/block-kit/blocks/actions-block  (25 elements, block_id 255)
 *   input:           https://docs.slack.dev/reference/block-kit/blocks/input-block  (label 2000, hint 2000)
 *   button:          https://docs.slack.dev/reference/block-kit/block-elements/button-element  (text 75, value 2000,
 *                    action_id 255, url 3000)
 *   confirm:         https://docs.slack.dev/reference/block-kit/composition-objects/confirmation-dialog-object
 *                    (title 100, text 300, confirm / deny 30)
 *   text object:     https://docs.slack.dev/reference/block-kit/composition-objects/text-object  (1..3000)
 *   option:          https://docs.slack.dev/reference/block-kit/composition-objects/option-object  (text 75,
 *                    description 75; value 150 on that page, 75 in @slack/types: the stricter one is checked)
 *   static_select:   https://docs.slack.dev/reference/block-kit/block-elements/select-menu-element  (100 options,
 *                    placeholder 150)
 *   users_select:    the same page (placeholder 150; a user id, no options)
 *   plain_text_input https://docs.slack.dev/reference/block-kit/block-elements/plain-text-input-element
 *                    (max_length ≤ 3000, placeholder 150)
 *   modal / home:    https://docs.slack.dev/reference/views  (title, submit, close 24; private_metadata 3000;
 *                    callback_id 255)
 *   message text:    https://docs.slack.dev/reference/methods/chat.postMessage  (truncated above 40 000)
 *
 * A block or element type the checker does not know fails the test, so a new kind of block cannot go unchecked.
 */
import { describe, expect, it } from 'vitest';
import type { AccessLevel, Catalog, DatabaseEntry } from '../../src/core/catalog.js';
import { buildCredentials } from '../../src/core/credentials.js';
import { BrokerError, type BrokerErrorCode } from '../../src/core/errors.js';
import type { AccessRequest, Actor, ApproverRef, Grant } from '../../src/core/model.js';
import { MAX_REASON_LENGTH, MAX_TICKET_LENGTH } from '../../src/core/asking.js';
import type { Phase, RequestView } from '../../src/core/view.js';
import { revocationStuckAlert } from '../../src/chat/slack/blocks/alerts.js';
import { approvalMessage } from '../../src/chat/slack/blocks/approval-message.js';
import { credentialsDm, credentialsDmEnded, credentialsModal } from '../../src/chat/slack/blocks/credentials.js';
import { denyModal } from '../../src/chat/slack/blocks/deny-modal.js';
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
import { extendModal } from '../../src/chat/slack/blocks/extend-modal.js';
import { homeView } from '../../src/chat/slack/blocks/home.js';
import {
  breakGlassAlert,
  escalationReply,
  incidentAccessLine,
  reviewOverdueAlert,
} from '../../src/chat/slack/blocks/policy.js';
import { revocationReceipt } from '../../src/chat/slack/blocks/receipt.js';
import { requestModal } from '../../src/chat/slack/blocks/request-modal.js';
import { rid, gid } from '../support/ids.js';

const LIMIT = {
  messageBlocks: 50,
  viewBlocks: 100,
  messageText: 40_000,
  textObject: 3000,
  sectionText: 3000,
  sectionFields: 10,
  fieldText: 2000,
  header: 150,
  contextElements: 10,
  actionsElements: 25,
  inputLabel: 2000,
  inputHint: 2000,
  buttonText: 75,
  buttonValue: 2000,
  url: 3000,
  actionId: 255,
  blockId: 255,
  confirmTitle: 100,
  confirmText: 300,
  confirmButton: 30,
  optionText: 75,
  optionDescription: 75,
  optionValue: 75,
  selectOptions: 100,
  placeholder: 150,
  textInputMaxLength: 3000,
  viewTitle: 24,
  privateMetadata: 3000,
  callbackId: 255,
} as const;

type J = Record<string, any>;

/** Every limit `node` (a block, element or composition object) breaks, with where. */
function checkNode(node: J, path: string, out: string[]): void {
  const len = (v: unknown, max: number, what: string) => {
    if (typeof v === 'string' && v.length > max) out.push(`${path}.${what}: ${v.length} > ${max}`);
  };
  const text = (t: J | undefined, max: number, what: string, required = true) => {
    if (t === undefined || t === null) {
      if (required) out.push(`${path}.${what}: missing`);
      return;
    }
    if (t.type !== 'plain_text' && t.type !== 'mrkdwn') out.push(`${path}.${what}: not a text object`);
    if (typeof t.text !== 'string' || t.text.length === 0) out.push(`${path}.${what}: empty text`);
    len(t.text, Math.min(max, LIMIT.textObject), `${what}.text`);
  };
  len(node.block_id, LIMIT.blockId, 'block_id');
  len(node.action_id, LIMIT.actionId, 'action_id');
  switch (node.type) {
    case 'section':
      if (node.text) text(node.text, LIMIT.sectionText, 'text');
      if (!node.text && !node.fields) out.push(`${path}: a section needs text or fields`);
      if ((node.fields?.length ?? 0) > LIMIT.sectionFields)
        out.push(`${path}.fields: ${node.fields.length} > ${LIMIT.sectionFields}`);
      (node.fields ?? []).forEach((f: J, i: number) => text(f, LIMIT.fieldText, `fields[${i}]`));
      if (node.accessory) checkNode(node.accessory, `${path}.accessory`, out);
      return;
    case 'header':
      text(node.text, LIMIT.header, 'text');
      if (node.text?.type !== 'plain_text') out.push(`${path}: header text must be plain_text`);
      return;
    case 'context':
      if (!node.elements?.length || node.elements.length > LIMIT.contextElements)
        out.push(`${path}.elements: ${node.elements?.length}`);
      (node.elements ?? []).forEach((e: J, i: number) => text(e, LIMIT.textObject, `elements[${i}]`));
      return;
    case 'divider':
      return;
    case 'actions':
      if (!node.elements?.length || node.elements.length > LIMIT.actionsElements)
        out.push(`${path}.elements: ${node.elements?.length}`);
      (node.elements ?? []).forEach((e: J, i: number) => checkNode(e, `${path}.elements[${i}]`, out));
      return;
    case 'input':
      text(node.label, LIMIT.inputLabel, 'label');
      if (node.hint) text(node.hint, LIMIT.inputHint, 'hint');
      checkNode(node.element, `${path}.element`, out);
      return;
    case 'button':
      text(node.text, LIMIT.buttonText, 'text');
      len(node.value, LIMIT.buttonValue, 'value');
      len(node.url, LIMIT.url, 'url');
      if (node.confirm) {
        text(node.confirm.title, LIMIT.confirmTitle, 'confirm.title');
        text(node.confirm.text, LIMIT.confirmText, 'confirm.text');
        text(node.confirm.confirm, LIMIT.confirmButton, 'confirm.confirm');
        text(node.confirm.deny, LIMIT.confirmButton, 'confirm.deny');
      }
      return;
    case 'static_select':
      if (!node.options?.length || node.options.length > LIMIT.selectOptions)
        out.push(`${path}.options: ${node.options?.length}`);
      if (node.placeholder) text(node.placeholder, LIMIT.placeholder, 'placeholder');
      (node.options ?? []).forEach((o: J, i: number) => {
        text(o.text, LIMIT.optionText, `options[${i}].text`);
        if (o.description) text(o.description, LIMIT.optionDescription, `options[${i}].description`);
        len(o.value, LIMIT.optionValue, `options[${i}].value`);
      });
      return;
    case 'users_select':
      if (node.placeholder) text(node.placeholder, LIMIT.placeholder, 'placeholder');
      return;
    case 'plain_text_input':
      if (node.placeholder) text(node.placeholder, LIMIT.placeholder, 'placeholder');
      if ((node.max_length ?? 0) > LIMIT.textInputMaxLength) out.push(`${path}.max_length: ${node.max_length}`);
      len(node.initial_value, node.max_length ?? LIMIT.textInputMaxLength, 'initial_value');
      return;
    default:
      out.push(`${path}: unknown block or element type ${String(node.type)}: teach this checker its limits`);
  }
}

function checkBlocks(blocks: J[] | undefined, max: number, out: string[]): void {
  if (!blocks) return;
  if (blocks.length > max) out.push(`blocks: ${blocks.length} > ${max}`);
  blocks.forEach((b, i) => checkNode(b, `blocks[${i}]`, out));
}

/** A message as sent by chat.postMessage / chat.update / a response_url. */
function messageViolations(m: { text: string; blocks?: J[] }): string[] {
  const out: string[] = [];
  if (typeof m.text !== 'string' || m.text.length === 0) out.push('text: missing');
  else if (m.text.length > LIMIT.messageText) out.push(`text: ${m.text.length} > ${LIMIT.messageText}`);
  checkBlocks(m.blocks, LIMIT.messageBlocks, out);
  return out;
}

/** A modal (views.open / push / update) or a Home tab (views.publish). */
function viewViolations(v: J): string[] {
  const out: string[] = [];
  if (v.type === 'modal') text24(v, out);
  else if (v.type !== 'home') out.push(`type ${v.type}`);
  if (typeof v.private_metadata === 'string' && v.private_metadata.length > LIMIT.privateMetadata)
    out.push('private_metadata too long');
  if (typeof v.callback_id === 'string' && v.callback_id.length > LIMIT.callbackId) out.push('callback_id too long');
  checkBlocks(v.blocks, LIMIT.viewBlocks, out);
  return out;
}

function text24(v: J, out: string[]): void {
  for (const k of ['title', 'submit', 'close']) {
    const t = v[k];
    if (t === undefined) {
      if (k === 'title') out.push('title: missing');
      continue;
    }
    if (t.type !== 'plain_text' || !t.text) out.push(`${k}: must be non-empty plain_text`);
    if (typeof t.text === 'string' && t.text.length > LIMIT.viewTitle)
      out.push(`${k}: ${t.text.length} > ${LIMIT.viewTitle}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Maximum-size inputs
// ---------------------------------------------------------------------------------------------------------------

const NOW = Date.UTC(2026, 0, 15, 9, 0);
/** Characters that grow when escaped for mrkdwn (& → &amp; is ×5) and ones that must never become markup. */
const GROWING = '&<>*_~`';
const fill = (n: number) => GROWING.repeat(Math.ceil(n / GROWING.length)).slice(0, n);
const dbName = (i: number) => `${String(i).padStart(3, '0')}-${'d'.repeat(36)}`; // 40 characters, the catalog's maximum
const levelName = (i: number) => `l${String(i).padStart(2, '0')}${'v'.repeat(27)}`; // 30 characters
const LONG_NAME = fill(200);
const PERSON: Actor = { platform: 'slack', id: 'U0REQUESTER', email: 'requester@example.com', name: LONG_NAME };
const APPROVER: Actor = { platform: 'teams', id: `29:${'a'.repeat(120)}`, name: LONG_NAME };

function level(name: string): AccessLevel {
  return { name, roles: [], grants: [], guardRails: { connectionLimit: 5 } };
}

function entry(i: number): DatabaseEntry {
  return {
    name: dbName(i),
    engine: 'postgres',
    host: `${'h'.repeat(60)}.${'o'.repeat(60)}.${'s'.repeat(60)}.${'t'.repeat(60)}.example`, // 253 characters
    port: 65535,
    database: 'd'.repeat(63),
    admin: { user: 'admin', password: 'x' },
    description: fill(200),
    levels: new Map(Array.from({ length: 10 }, (_, l) => [levelName(l), level(levelName(l))])),
    maxDuration: 7 * 24 * 3_600_000 + 59 * 60_000,
    brokerSchema: 'db_access',
    delivery: 'reveal',
    approval: { required: 5, timeoutMs: 3_600_000, approvers: [], escalation: [], autoApprove: [] },
    limits: { activeGrantsPerPerson: 50, pendingRequestsPerPerson: 50 },
  };
}

const CATALOG: Catalog = { databases: new Map(Array.from({ length: 150 }, (_, i) => [dbName(i), entry(i)])) };
const BIG = entry(0);
const CREDENTIALS = buildCredentials(BIG, `jit_${'u'.repeat(40)}_x7k2q9`, 'P'.repeat(64), NOW + 3_600_000);

function view(phase: Phase, id: number, opts: { extension?: boolean; breakGlass?: boolean } = {}): RequestView {
  const approvers: ApproverRef[] = Array.from({ length: 300 }, (_, i) => ({
    platform: 'slack',
    id: `U0APPROVER${i}`,
    via: 'email',
  }));
  const request: AccessRequest = {
    id: rid(id),
    requester: PERSON,
    // Asked on their behalf: the approval message names both people (its largest form).
    askedBy: PERSON,
    database: BIG.name,
    level: levelName(9),
    durationMs: BIG.maxDuration,
    tier: 3,
    breakGlass: opts.breakGlass ?? false,
    reason: fill(MAX_REASON_LENGTH),
    ticket: fill(MAX_TICKET_LENGTH),
    status:
      phase === 'pending'
        ? 'pending'
        : ['denied', 'expired', 'cancelled'].includes(phase)
          ? (phase as 'denied')
          : 'approved',
    requiredApprovals: 5,
    createdAt: NOW - 60_000,
    decidedAt: NOW,
    approvers,
    decideBy: NOW + 3_600_000,
    unavailableSources: Array.from({ length: 5 }, (_, i) => `opsgenie schedule ${i} ${fill(200)}`),
    ...(opts.extension && { extendsGrantId: gid(999_999_999) }),
  };
  const grant: Grant = {
    id: gid(999_999_999),
    requestId: rid(id),
    requester: PERSON,
    database: BIG.name,
    level: levelName(9),
    username: CREDENTIALS.username,
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
    expiresAt: NOW + BIG.maxDuration,
    provisionAttempts: 99,
    revokeAttempts: 99,
    revokeFailingSince: NOW - 3_600_000,
    lastError: `permanent: ${fill(3000)}`,
    endReason: `revoked by ${fill(500)}`,
  };
  const hasGrant = ['provisioning', 'active', 'revoking', 'ended', 'failed'].includes(phase);
  return {
    request,
    phase,
    now: NOW,
    database: { name: BIG.name, engine: 'postgres', description: fill(200) },
    approvals: Array.from({ length: 4 }, (_, i) => ({
      requestId: rid(id),
      approver: { ...APPROVER, id: `${APPROVER.id}${i}` },
      decision: 'approve' as const,
      note: fill(500),
      at: NOW,
    })),
    ...(phase === 'denied' && {
      denial: {
        requestId: rid(id),
        approver: APPROVER,
        decision: 'deny' as const,
        note: fill(MAX_REASON_LENGTH),
        at: NOW,
      },
    }),
    ...(hasGrant && { grant }),
    ...((phase === 'ended' || phase === 'failed') && {
      receipt: { at: NOW + 3_600_000, sessionsTerminated: 999, userOutcome: 'dropped' as const, reason: fill(500) },
    }),
  };
}

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
const ERROR_CODES: BrokerErrorCode[] = [
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
const bigError = (c: BrokerErrorCode) =>
  new BrokerError(c, `unknown thing "${fill(2000)}"`, {
    valid: Array.from({ length: 200 }, (_, i) => dbName(i)),
    field: 'reason',
  });

type Built = { name: string; kind: 'message' | 'view'; value: J };

function everything(): Built[] {
  const out: Built[] = [];
  const msg = (name: string, value: J) => out.push({ name, kind: 'message', value });
  const vw = (name: string, value: J) => out.push({ name, kind: 'view', value });
  for (const phase of PHASES) {
    for (const variant of [{}, { extension: true }, { breakGlass: true }]) {
      const v = view(phase, 2_147_483_647, variant);
      const tag = `${phase}${'extension' in variant ? ' extension' : ''}${'breakGlass' in variant ? ' break-glass' : ''}`;
      msg(`approvalMessage ${tag}`, approvalMessage(v));
      msg(`credentialsDm ${tag}`, credentialsDm(v, CREDENTIALS));
      msg(`credentialsDmEnded ${tag}`, credentialsDmEnded(v));
      msg(`accessActiveDm ${tag}`, accessActiveDm(v, { showCredentials: true }));
      msg(`accessEndedDm ${tag}`, accessEndedDm(v));
      msg(`expiresSoonDm ${tag}`, expiresSoonDm(v, 3_600_000));
      msg(`provisionFailedDm ${tag}`, provisionFailedDm(v, fill(5000), true));
      msg(`requestDeniedDm ${tag}`, requestDeniedDm(v));
      msg(`requestExpiredDm ${tag}`, requestExpiredDm(v));
      msg(`revocationReceipt ${tag}`, revocationReceipt(v));
      msg(`revocationStuckAlert ${tag}`, revocationStuckAlert(v, fill(5000)));
      msg(`escalationReply ${tag}`, escalationReply(v, 99, v.request.approvers));
      msg(`breakGlassAlert ${tag}`, breakGlassAlert(v));
      msg(`reviewOverdueAlert ${tag}`, reviewOverdueAlert(v));
      msg(`incidentAccessLine ${tag}`, incidentAccessLine({ ...v, request: { ...v.request, incidentId: fill(20) } }));
      msg(`requestSentText ${tag}`, { text: requestSentText(v) });
      msg(`requestSentText with notes ${tag}`, { text: requestSentText(v, [fill(5000), fill(5000)]) });
      for (const c of ERROR_CODES) msg(`errorText ${c} ${tag}`, { text: errorText(bigError(c), v) });
      vw(`credentialsModal ${tag}`, credentialsModal(v, CREDENTIALS));
      vw(`denyModal ${tag}`, denyModal(v));
      vw(`extendModal ${tag}`, extendModal(v, { maxDurationMs: BIG.maxDuration }));
    }
  }
  const many = (phase: Phase, n: number) => Array.from({ length: n }, (_, i) => view(phase, 2_000_000_000 + i));
  const mine = [...many('active', 100), ...many('pending', 50), ...many('provisioning', 50)];
  vw(
    'homeView, 200 of mine and 200 to approve',
    homeView({ userId: 'U0REQUESTER', mine, toApprove: many('pending', 200), now: NOW }),
  );
  vw('homeView, empty', homeView({ userId: 'U0REQUESTER', mine: [], toApprove: [], now: NOW }));
  vw('requestModal, 150 databases', requestModal(CATALOG, { channelId: `C${'0'.repeat(20)}` }));
  vw(
    'requestModal, prefilled to the maximum',
    requestModal(CATALOG, {
      channelId: 'C0INCIDENT',
      prefill: {
        database: dbName(0),
        level: levelName(9),
        duration: fill(100),
        reason: fill(MAX_REASON_LENGTH),
        ticket: fill(MAX_TICKET_LENGTH),
      },
    }),
  );
  vw(
    'requestModal, 150 open incidents with long titles',
    requestModal(CATALOG, {
      channelId: 'C0INCIDENT',
      incidents: Array.from({ length: 150 }, (_, i) => ({
        id: `PINC${String(i).padStart(6, '0')}`,
        title: fill(1000),
      })),
    }),
  );
  vw('denyModal by id', denyModal(2_147_483_647));
  vw('extendModal by id', extendModal(2_147_483_647));
  msg('helpText, 150 databases', { text: helpText(CATALOG) });
  msg('listText, 200 views', { text: listText(mine) });
  for (const c of ERROR_CODES) msg(`errorText ${c}`, { text: errorText(bigError(c)) });
  for (const c of ERROR_CODES) msg(`inlineErrorText ${c}`, { text: inlineErrorText(bigError(c)) });
  return out;
}

describe('Block Kit limits, for everything the product builds, under maximum-size input', () => {
  const built = everything();

  it.each(built.map((b) => [b.name, b] as const))('%s', (_name, b) => {
    expect(
      b.kind === 'view' ? viewViolations(b.value) : messageViolations(b.value as { text: string; blocks?: J[] }),
    ).toEqual([]);
  });

  it('the inputs really are at the maximum: the reason and ticket fill what the product accepts', () => {
    const v = view('pending', 1);
    expect(v.request.reason).toHaveLength(MAX_REASON_LENGTH);
    expect(v.request.ticket).toHaveLength(MAX_TICKET_LENGTH);
    expect(dbName(149)).toMatch(/^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/);
  });
});

describe('the checker itself', () => {
  it('catches each kind of excess', () => {
    const long = (n: number) => 'x'.repeat(n);
    const button = (over: J) => ({ type: 'button', text: { type: 'plain_text', text: 'ok' }, action_id: 'a', ...over });
    expect(messageViolations({ text: long(40_001) })).toHaveLength(1);
    expect(
      messageViolations({ text: 't', blocks: Array.from({ length: 51 }, () => ({ type: 'divider' })) }),
    ).toHaveLength(1);
    expect(
      viewViolations({ type: 'home', blocks: Array.from({ length: 101 }, () => ({ type: 'divider' })) }),
    ).toHaveLength(1);
    expect(
      messageViolations({ text: 't', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: long(3001) } }] }),
    ).toHaveLength(1);
    expect(
      messageViolations({ text: 't', blocks: [{ type: 'header', text: { type: 'plain_text', text: long(151) } }] }),
    ).toHaveLength(1);
    expect(
      messageViolations({
        text: 't',
        blocks: [{ type: 'actions', elements: [button({ text: { type: 'plain_text', text: long(76) } })] }],
      }),
    ).toHaveLength(1);
    expect(
      messageViolations({ text: 't', blocks: [{ type: 'actions', elements: [button({ value: long(2001) })] }] }),
    ).toHaveLength(1);
    expect(
      messageViolations({
        text: 't',
        blocks: [{ type: 'actions', block_id: long(256), elements: [button({ action_id: long(256) })] }],
      }),
    ).toHaveLength(2);
    expect(
      messageViolations({
        text: 't',
        blocks: [{ type: 'context', elements: Array.from({ length: 11 }, () => ({ type: 'mrkdwn', text: 'x' })) }],
      }),
    ).toHaveLength(1);
    expect(
      viewViolations({
        type: 'modal',
        title: { type: 'plain_text', text: long(25) },
        submit: { type: 'plain_text', text: long(25) },
        close: { type: 'plain_text', text: long(25) },
        blocks: [],
      }),
    ).toHaveLength(3);
    const select = (options: J[]) => ({
      type: 'input',
      label: { type: 'plain_text', text: 'l' },
      element: { type: 'static_select', action_id: 's', options },
    });
    const option = (text: string, value = 'v') => ({ text: { type: 'plain_text', text }, value });
    expect(viewViolations({ type: 'home', blocks: [select([option(long(76))])] })).toHaveLength(1);
    expect(viewViolations({ type: 'home', blocks: [select([option('o', long(76))])] })).toHaveLength(1);
    expect(
      viewViolations({ type: 'home', blocks: [select(Array.from({ length: 101 }, () => option('o')))] }),
    ).toHaveLength(1);
    expect(
      viewViolations({
        type: 'home',
        blocks: [
          {
            type: 'input',
            label: { type: 'plain_text', text: 'l' },
            element: { type: 'plain_text_input', action_id: 'i', max_length: 3001 },
          },
        ],
      }),
    ).toHaveLength(1);
    expect(
      messageViolations({
        text: 't',
        blocks: [{ type: 'image', image_url: 'https://example.com/x.png', alt_text: 'x' }],
      }),
    ).toHaveLength(1);
  });
});
