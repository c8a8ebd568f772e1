/**
 * Ephemeral replies to the person who typed `/db-access` or clicked a button: plain mrkdwn strings (Slack sends
 * them as `text`), escaped, within the message text limit. Mentions here notify nobody (ephemeral messages).
 */
import type { Catalog } from '../../../core/catalog.js';
import { formatDuration } from '../../../core/duration.js';
import type { BrokerError } from '../../../core/errors.js';
import type { RequestView } from '../../../core/view.js';
import * as L from '../limits.js';
import { errorSentences } from '../../error-text.js';
import { capitalize, code, escapeMrkdwn, mentionList, slackDate, slackMarkup } from '../mrkdwn.js';
import { MENTION_BUDGET, statusLine, summary, title } from './describe.js';

/** How many databases help lists before "and N more". */
const HELP_DATABASES = 30;
/** How many entries `list` shows per section. */
const LIST_MAX = 25;

/** "Request #42 sent to @alice, @bob" — or, when the policy approved it at once, that it was. */
/** `notes`: why no auto-approval rule fitted (core/auto-approve.ts notesOfReturned), told to the requester. */
export function requestSentText(view: RequestView, notes: readonly string[] = []): string {
  const r = view.request;
  const kind = r.extendsGrantId !== undefined ? `Extension request #${r.id}` : `Request #${r.id}`;
  if (view.phase !== 'pending') return L.truncate(`${kind} for ${summary(view)}: ${statusLine(view)}`, L.MESSAGE_TEXT);
  const who = mentionList(r.approvers, MENTION_BUDGET);
  const missing = r.unavailableSources?.length
    ? `\n:warning: Could not ask: ${escapeMrkdwn(r.unavailableSources.join('; '))}`
    : '';
  const need = r.requiredApprovals > 1 ? ` (${r.requiredApprovals} approvals needed)` : '';
  const why = notes.length ? `\nNot approved automatically: ${escapeMrkdwn(notes.join('; '))}` : '';
  return L.truncate(
    `${kind} for ${summary(view)} sent to ${who || 'the approvers'}${need}.${missing}${why}`,
    L.MESSAGE_TEXT,
  );
}

export function helpText(catalog: Catalog): string {
  const dbs = [...catalog.databases.values()].sort((a, b) => a.name.localeCompare(b.name));
  const lines = dbs
    .slice(0, HELP_DATABASES)
    .map(
      (d) =>
        `• ${code(d.name)}: ${[...d.levels.keys()].map(code).join(', ')} · up to ${formatDuration(d.maxDuration)}${d.description ? ` · ${escapeMrkdwn(d.description)}` : ''}`,
    );
  if (dbs.length > HELP_DATABASES)
    lines.push(`…and ${dbs.length - HELP_DATABASES} more (the request form lists them all).`);
  // The grammar's placeholders are written with < >: escaped, or Slack would parse them as links.
  const grammar = escapeMrkdwn(
    [
      '*Database access*',
      '`/db-access` opens the request form. Or type it in one go:',
      '`/db-access <database> <level> <duration> [for @person] [TICKET] <reason…>`  e.g. `/db-access orders-prod read 1h INC-4211 checking stuck orders`',
      '`/db-access list`: your pending and active access',
      '`/db-access revoke <grant id>`: end access now',
      '`/db-access extend <grant id> <duration> [reason]`: ask for more time',
      '`/db-access help`: this message',
    ].join('\n'),
  );
  const bundles = [...(catalog.bundles?.values() ?? [])].sort((a, b) => a.name.localeCompare(b.name));
  const bundleLines = bundles.length
    ? [
        '',
        `*Bundles* (${escapeMrkdwn('`/db-access <bundle> <duration> [for @person] [TICKET] <reason…>`')}: one approval, access to each)`,
        ...bundles
          .slice(0, HELP_DATABASES)
          .map(
            (b) =>
              `• ${code(b.name)}: ${b.members.map((m) => `${code(m.level)} on ${code(m.database)}`).join(', ')} · up to ${formatDuration(b.maxDuration)}`,
          ),
      ]
    : [];
  return L.truncate([grammar, '', '*Databases and levels*', ...lines, ...bundleLines].join('\n'), L.MESSAGE_TEXT);
}

/** `/db-access list`: the person's pending requests and active grants. */
export function listText(views: readonly RequestView[]): string {
  const active = views.filter((v) => v.phase === 'active' && v.grant);
  const pending = views.filter((v) => v.phase === 'pending' || v.phase === 'provisioning');
  if (active.length + pending.length === 0)
    return 'You have no pending requests and no active access. `/db-access` to ask for some.';
  const section = (heading: string, items: RequestView[], line: (v: RequestView) => string) =>
    items.length === 0
      ? []
      : [
          heading,
          ...items.slice(0, LIST_MAX).map(line),
          ...(items.length > LIST_MAX ? [`…and ${items.length - LIST_MAX} more`] : []),
        ];
  const out = [
    ...section(
      '*Active*',
      active,
      (v) =>
        `• grant #${v.grant!.id}: ${summary(v)}, until ${slackDate(v.grant!.expiresAt)} · ${code(`/db-access revoke ${v.grant!.id}`)}`,
    ),
    ...section('*Pending*', pending, (v) => `• ${title(v)}: ${summary(v)} · ${statusLine(v)}`),
  ];
  return L.truncate(out.join('\n'), L.MESSAGE_TEXT);
}

const sentences = errorSentences(slackMarkup, '/db-access');

/** One friendly sentence per error code (see chat/error-text.ts), within Slack's text limit. */
export function errorText(err: BrokerError, view?: RequestView): string {
  return L.truncate(sentences(err, view), L.MESSAGE_TEXT);
}

/** Inline modal errors (`response_action: 'errors'`) are shown as plain text: no markup, no escaping. */
export const INLINE_ERROR = 300;

/** The same sentence as `errorText`, for an input's inline error: valid choices listed plainly, ≤ 300 characters. */
export function inlineErrorText(err: BrokerError): string {
  const valid = err.details.valid?.length ? ` Valid: ${err.details.valid.join(', ')}.` : '';
  const m = err.message.trim();
  const text =
    err.code === 'SELF_APPROVAL'
      ? "You can't approve your own request."
      : `${capitalize(m)}${/[.!?]$/.test(m) ? '' : '.'}${valid}`;
  return text.length <= INLINE_ERROR ? text : `${text.slice(0, INLINE_ERROR - 1)}…`;
}
