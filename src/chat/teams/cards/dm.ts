/**
 * Cards in the requester's 1:1 chat with the bot. `accessActive` is posted when the user exists and later replaced
 * by `accessEnded`. Only `credentialsDialog` (shown in a dialog, never posted) and `credentialsInChat` (databases
 * with `delivery: message`, replaced at expiry) hold a password.
 */
import type { Credentials } from '../../../core/credentials.js';
import { formatDuration } from '../../../core/duration.js';
import type { RequestView } from '../../../core/view.js';
import { describe, title } from '../../describe.js';
import { TeamsText } from '../markup.js';
import { REVEAL_DIALOG, VERBS } from '../verbs.js';
import {
  card,
  cardMessage,
  choices,
  execute,
  facts,
  heading,
  openDialog,
  text,
  type AdaptiveCard,
  type Element,
} from './kit.js';
import type { GrantId } from '../../../core/model.js';

/** Extension lengths offered by the reminder; the catalog's maximum still applies when it is requested. */
export const EXTEND_CHOICES = ['30m', '1h', '2h', '4h'] as const;

const plain = (view: RequestView) => `${view.request.level} on ${view.request.database}`;

export function revealButton(grantId: GrantId): Element {
  return openDialog('Show credentials', { kind: REVEAL_DIALOG, grantId });
}

export function doneButton(grantId: GrantId): Element {
  return execute("I'm done", VERBS.done, { grantId }, 'destructive');
}

export function accessActiveCard(view: RequestView, opts: { showCredentials?: boolean } = {}): AdaptiveCard {
  const t = new TeamsText();
  const d = describe(t);
  const g = view.grant;
  if (!g) return card([text(d.statusLine(view))]);
  return card(
    [
      text(`✅ Your ${d.accessTo(view)} is active until ${t.date(g.expiresAt)}.`),
      ...(view.request.askedBy ? [text(`${t.mention(view.request.askedBy)} asked for it on your behalf.`)] : []),
      text(
        `User ${t.code(g.username)} · grant #${g.id} · ${title(view)}. Showing credentials sets a new password each time; it is shown in a dialog and kept nowhere.`,
        { isSubtle: true },
      ),
    ],
    [...(opts.showCredentials === false ? [] : [revealButton(g.id)]), doneButton(g.id)],
    t.entities(),
  );
}

export function accessActiveMessage(view: RequestView, opts: { showCredentials?: boolean } = {}) {
  return cardMessage(accessActiveCard(view, opts), `Your access is active: ${plain(view)}`);
}

/** The DM once access ended: no buttons, what the revocation did, and (message delivery) that the password is gone. */
export function accessEndedCard(view: RequestView, opts: { passwordRemoved?: boolean } = {}): AdaptiveCard {
  const t = new TeamsText();
  const d = describe(t);
  const detail = d.receiptDetail(view);
  const body = [text(d.statusLine(view)), text(`${d.summary(view)}.`)];
  if (detail) body.push(text(detail, { isSubtle: true }));
  if (opts.passwordRemoved) body.push(text('🗑️ The password was removed from this message.', { isSubtle: true }));
  return card(body, [], t.entities());
}

export function accessEndedMessage(view: RequestView, opts: { passwordRemoved?: boolean } = {}) {
  return cardMessage(accessEndedCard(view, opts), `Your access ended: ${plain(view)}`);
}

export function expiresSoonMessage(view: RequestView, remindBeforeMs: number) {
  const g = view.grant;
  if (!g) return accessEndedMessage(view);
  const t = new TeamsText();
  const d = describe(t);
  const left = formatDuration(Math.max(0, g.expiresAt - view.now) || remindBeforeMs);
  const c = card(
    [
      text(`⏰ Your ${d.accessTo(view)} expires in ${left}, at ${t.date(g.expiresAt)}.`),
      choices(
        'duration',
        'Extend by',
        EXTEND_CHOICES.map((c) => [c, c]),
        'Choose how long to extend by.',
        '1h',
      ),
      text(
        'Within the self-extension policy of this database an extension applies at once; beyond it the approvers are asked.',
        { isSubtle: true },
      ),
    ],
    [execute('Extend', VERBS.extend, { grantId: g.id }, 'positive'), doneButton(g.id)],
    t.entities(),
  );
  return cardMessage(c, `Your access expires in ${left}: ${plain(view)}`);
}

export function provisionFailedCard(view: RequestView, error: string, willRetry: boolean): AdaptiveCard {
  const t = new TeamsText();
  const d = describe(t);
  const next = willRetry
    ? 'This is being retried automatically; you will get a message when the access is ready.'
    : `It will not be retried (${title(view)}). Ask a DBA, or try again with **db-access**.`;
  return card(
    [text(`⚠️ Could not create your user for ${d.summary(view)}: ${t.escape(error)}`), text(next, { isSubtle: true })],
    [],
    t.entities(),
  );
}

export function provisionFailedMessage(view: RequestView, error: string, willRetry: boolean) {
  return cardMessage(
    provisionFailedCard(view, error, willRetry),
    `${title(view)}: provisioning failed. ${willRetry ? 'Retrying.' : 'Not retrying.'}`,
  );
}

function credentialFacts(c: Credentials, t: TeamsText): Element[] {
  const tool = c.engine === 'postgres' ? 'psql' : 'mysql';
  return [
    ...facts([
      ['Host', t.code(c.host)],
      ['Port', t.code(String(c.port))],
      ['Database', t.code(c.database)],
      ['User', t.code(c.username)],
      ['Password', t.code(c.password)],
      ['Expires', t.date(c.expiresAt)],
    ]),
    text(`**${tool}** (the password goes in the environment, out of sight of ${t.code('ps')})`),
    text(t.code(c.command), { weight: 'Bolder' }),
    text('**URL** (includes the password; for tools that take a URL)'),
    text(t.code(c.url)),
  ];
}

/** Shown in the dialog the Show credentials button opens; never posted into a conversation. */
export function credentialsDialog(view: RequestView, c: Credentials): AdaptiveCard {
  const t = new TeamsText();
  const d = describe(t);
  return card([
    heading('Your credentials'),
    text(`${d.summary(view)}, until ${t.date(c.expiresAt)}.`),
    ...credentialFacts(c, t),
    text(
      '🔑 This password was just rotated: any earlier one no longer works. It is stored nowhere, so copy it now; you can show new credentials again while the access lasts. At expiry the user is locked, its sessions ended and it is dropped.',
      { isSubtle: true },
    ),
  ]);
}

/** `delivery: message`: the credentials in the DM itself, replaced by `accessEndedMessage` at expiry. */
export function credentialsInChatMessage(view: RequestView, c: Credentials) {
  const t = new TeamsText();
  const d = describe(t);
  const body = [
    text(`✅ Your access is ready: ${d.summary(view)}, until ${t.date(c.expiresAt)}.`),
    ...credentialFacts(c, t),
    text('🔑 The password is stored nowhere else, and it is removed from this message when the access ends.', {
      isSubtle: true,
    }),
  ];
  const g = view.grant;
  return cardMessage(card(body, g ? [doneButton(g.id)] : [], t.entities()), `Your access is ready: ${plain(view)}`);
}
