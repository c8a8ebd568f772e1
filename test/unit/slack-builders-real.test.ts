/**
 * The payload builders the tests and the demo use (dev/slack/sign.ts) against payloads captured from the real
 * Slack (test/fixtures/real/slack): every field a captured payload has, the builder's payload for the same surface
 * has too, with the same JSON type (string, number, boolean, null, object, array). Extra fields in a builder are
 * allowed (Slack adds fields over time; older captures lack them).
 *
 * What is compared is the envelope Slack writes; what the app itself put there is content and is not compared: a
 * message's or view's blocks, the values of the inputs in `state.values`, and a clicked button's own decoration
 * (`confirm`, `style`).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  appHomeOpenedEvent,
  blockActionsPayload,
  eventEnvelope,
  slashCommand,
  viewSubmissionPayload,
} from '../../dev/slack/sign.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/real/slack/', import.meta.url));
type J = Record<string, unknown>;
const load = (name: string): J => JSON.parse(readFileSync(FIXTURES + name, 'utf8')) as J;

/** Paths (with `[]` for any array index) whose contents are the app's, not Slack's. */
const CONTENT = new Set([
  'message.blocks',
  'view.blocks',
  'view.state.values',
  'state.values',
  'actions[].confirm',
  'actions[].style',
  'event.view.blocks',
]);

const typeOf = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/** Every way `built` falls short of `real`: a missing field or one of another type, by path. */
function shortfalls(real: unknown, built: unknown, path = ''): string[] {
  if (CONTENT.has(path)) return [];
  if (typeOf(real) !== typeOf(built))
    return [`${path || '$'}: ${typeOf(real)} in Slack's, ${typeOf(built)} in the builder's`];
  if (Array.isArray(real))
    return real.length && (built as unknown[]).length ? shortfalls(real[0], (built as unknown[])[0], `${path}[]`) : [];
  if (typeOf(real) !== 'object') return [];
  const b = built as J;
  return Object.entries(real as J).flatMap(([k, v]) => {
    const p = path ? `${path}.${k}` : k;
    if (CONTENT.has(p)) return [];
    if (!(k in b)) return [`${p}: missing from the builder's`];
    return shortfalls(v, b[k], p);
  });
}

const view = { id: 'V0HOME', type: 'home', callback_id: '', blocks: [] };

describe('payload builders against captured Slack payloads', () => {
  it.each([
    ['slash-command-docs.json', slashCommand({ userId: 'U0ALICE', text: 'x', enterpriseId: 'E0ORG' })],
    ['slash-command-grid.json', slashCommand({ userId: 'U0ALICE', text: 'x', enterpriseId: 'E0ORG' })],
    [
      'slash-command-org-install.json',
      slashCommand({ userId: 'U0ALICE', text: 'x', enterpriseId: 'E0ORG', enterpriseInstall: true }),
    ],
  ])('%s: the slash command has every field, all strings', (name, built) => {
    const real = Object.fromEntries(new URLSearchParams(load(name).form as string));
    expect(shortfalls(real, built)).toEqual([]);
    expect(Object.values(built).every((v) => typeof v === 'string')).toBe(true);
    expect(built.is_enterprise_install).toBe(real.is_enterprise_install ?? 'false');
  });

  it.each([
    [
      'block-actions-message.json',
      blockActionsPayload({
        userId: 'U0BOB',
        actionId: 'approve',
        value: '1',
        message: { ts: '1.2', text: 't', blocks: [] },
      }),
    ],
    [
      'block-actions-message-current.json',
      blockActionsPayload({
        userId: 'U0BOB',
        actionId: 'approve',
        value: '1',
        message: { ts: '1.2', text: 't', blocks: [] },
      }),
    ],
    [
      'block-actions-message-grid.json',
      blockActionsPayload({
        userId: 'U0BOB',
        actionId: 'approve',
        value: '1',
        messageTs: '1.2',
        enterpriseId: 'E0ORG',
      }),
    ],
    ['block-actions-home.json', blockActionsPayload({ userId: 'U0BOB', actionId: 'home_approve', value: '1', view })],
    [
      'view-submission-grid.json',
      viewSubmissionPayload({ userId: 'U0BOB', callbackId: 'cb', values: { b: { a: 'text' } }, enterpriseId: 'E0ORG' }),
    ],
    [
      'view-submission-inputs.json',
      viewSubmissionPayload({ userId: 'U0BOB', callbackId: 'cb', values: { b: { a: 'text' } } }),
    ],
  ])('%s: the interaction payload has every field, same types', (name, built) => {
    expect(shortfalls(load(name).payload, built)).toEqual([]);
  });

  it.each([
    ['app-home-opened.json', appHomeOpenedEvent('U0ALICE')],
    [
      'app-home-opened-org.json',
      eventEnvelope(
        { type: 'app_home_opened', user: 'U0ALICE', channel: 'D0X', tab: 'messages', event_ts: '1.2' },
        { enterpriseId: 'E0ORG' },
      ),
    ],
  ])('%s: the Events API envelope has every field, same types', (name, built) => {
    const real = load(name).body as J;
    // An org-wide install authorises the organisation, not a workspace: team_id is null there, a string elsewhere.
    const authorizations = (real.authorizations as J[]).map((a) => ({ ...a, team_id: a.team_id ?? 'T' }));
    expect(shortfalls({ ...real, authorizations }, built)).toEqual([]);
  });

  it('app-home-opened-view.json: the event, once a Home view was published, has every field of it', () => {
    const real = load('app-home-opened-view.json').event as J;
    expect(shortfalls(real, appHomeOpenedEvent('U0ALICE', { view }).event)).toEqual([]);
  });

  it('the comparison finds a missing field and a field of another type', () => {
    expect(shortfalls({ a: { b: 'x', c: null } }, { a: { c: {} } })).toEqual([
      "a.b: missing from the builder's",
      "a.c: null in Slack's, object in the builder's",
    ]);
    expect(shortfalls({ actions: [{ value: 'v', confirm: {} }] }, { actions: [{ value: 'v' }] })).toEqual([]);
  });
});
