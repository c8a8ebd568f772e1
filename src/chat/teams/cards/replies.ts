/** Replies to commands, thread replies under the approval card, and alerts (pure). */
import type { Catalog } from '../../../core/catalog.js';
import { formatDuration } from '../../../core/duration.js';
import type { ApproverRef, SelfExtension } from '../../../core/model.js';
import type { RequestView } from '../../../core/view.js';
import { describe, MENTION_BUDGET, title } from '../../describe.js';
import { mentionList } from '../../markup.js';
import { oneLine, TeamsText } from '../markup.js';
import { VERBS } from '../verbs.js';
import { revealButton } from './dm.js';
import { card, cardMessage, choices, execute, heading, input, text, type Element } from './kit.js';

/** How many databases help lists, how many characters of text that list may take (a card must stay under Teams'
 *  ~28 KB per activity), and entries `list` shows per section. */
const HELP_DATABASES = 30;
const HELP_BUDGET = 6_000;
const LIST_MAX = 25;
/** How much of a database's description a help line or a form choice shows. */
const DESCRIPTION_MAX = 120;

const shortDescription = (d: string) => {
  const one = oneLine(d);
  return one.length <= DESCRIPTION_MAX ? one : `${one.slice(0, DESCRIPTION_MAX - 1)}…`;
};

/** A card of plain sentences: every reply that is not a form. */
export function textMessage(lines: string[], summary: string, t = new TeamsText()) {
  return cardMessage(
    card(
      lines.map((l) => text(l)),
      [],
      t.entities(),
    ),
    summary,
  );
}

export function helpMessage(catalog: Catalog) {
  const t = new TeamsText();
  const dbs = [...catalog.databases.values()].sort((a, b) => a.name.localeCompare(b.name));
  const lines: string[] = [];
  let used = 0;
  for (const d of dbs.slice(0, HELP_DATABASES)) {
    const line = `- ${t.code(d.name)}: ${[...d.levels.keys()].map((l) => t.code(l)).join(', ')} · up to ${formatDuration(d.maxDuration)}${d.description ? ` · ${t.escape(shortDescription(d.description))}` : ''}`;
    if (lines.length && used + line.length > HELP_BUDGET) break;
    lines.push(line);
    used += line.length;
  }
  if (dbs.length > lines.length)
    lines.push(`…and ${dbs.length - lines.length} more (the request form lists them all).`);
  for (const b of [...(catalog.bundles?.values() ?? [])].sort((x, y) => x.name.localeCompare(y.name))) {
    const line = `- bundle ${t.code(b.name)} (${t.escape('db-access <bundle> <duration> <reason…>')}): ${b.members.map((m) => `${t.code(m.level)} on ${t.code(m.database)}`).join(', ')} · up to ${formatDuration(b.maxDuration)}`;
    if (used + line.length > HELP_BUDGET) break;
    lines.push(line);
    used += line.length;
  }
  const c = card([
    heading('Database access'),
    ...[
      '**db-access** opens the request form. Or type it in one go:',
      `**db-access** ${t.escape('<database> <level> <duration> [for @person] [TICKET] <reason…>')}, e.g. ${t.code('db-access orders-prod read 1h INC-4211 checking stuck orders')}`,
      '**list**: your pending and active access',
      `**revoke** ${t.escape('<grant id>')}: end access now`,
      `**extend** ${t.escape('<grant id> <duration> [reason]')}: ask for more time`,
      '**help**: this message',
    ].map((l) => text(l)),
    text('**Databases and levels**'),
    ...lines.map((l, i) => ({ ...text(l), ...(i > 0 && { spacing: 'None' }) })),
  ]);
  return cardMessage(c, 'db-access help');
}

/** `list`: my active grants (with Show credentials) and pending requests. */
export function listMessage(views: readonly RequestView[]) {
  const t = new TeamsText();
  const d = describe(t);
  const active = views.filter((v) => v.phase === 'active' && v.grant).slice(0, LIST_MAX);
  const pending = views.filter((v) => v.phase === 'pending' || v.phase === 'provisioning').slice(0, LIST_MAX);
  if (active.length + pending.length === 0)
    return textMessage(
      ['You have no pending requests and no active access. Say **db-access** to ask for some.'],
      'Nothing active',
    );
  const body: Element[] = [];
  const actions: Element[] = [];
  if (active.length) body.push(text('**Active**'));
  for (const v of active) {
    body.push(
      text(
        `- grant #${v.grant!.id}: ${d.summary(v)}, until ${t.date(v.grant!.expiresAt)} · **revoke ${v.grant!.id}** ends it`,
      ),
    );
    actions.push({ ...revealButton(v.grant!.id), title: `Credentials #${v.grant!.id}` });
  }
  if (pending.length) body.push(text('**Pending**'));
  for (const v of pending) body.push(text(`- ${title(v)}: ${d.summary(v)} · ${d.statusLine(v)}`));
  // Teams shows at most a handful of buttons; the rest are reachable by grant id.
  return cardMessage(
    card(body, actions.slice(0, 5), t.entities()),
    `${active.length} active, ${pending.length} pending`,
  );
}

/** "Request #42 sent to @alice, @bob" — or, when the policy decided at once, what it decided. */
/** `notes`: why no auto-approval rule fitted (core/auto-approve.ts notesOfReturned), told to the requester. */
export function requestSentMessage(view: RequestView, notes: readonly string[] = []) {
  const t = new TeamsText();
  const d = describe(t);
  const r = view.request;
  const kind = r.extendsGrantId !== undefined ? `Extension request #${r.id}` : `Request #${r.id}`;
  if (view.phase !== 'pending')
    return textMessage([`${kind} for ${d.summary(view)}: ${d.statusLine(view)}`], `${kind}: ${view.phase}`, t);
  const who = mentionList(r.approvers, MENTION_BUDGET, t.plainName);
  const need = r.requiredApprovals > 1 ? ` (${r.requiredApprovals} approvals needed)` : '';
  const lines = [`${kind} for ${d.summary(view)} sent to ${who || 'the approvers'}${need}.`];
  if (r.unavailableSources?.length) lines.push(`⚠️ Could not ask: ${t.escape(r.unavailableSources.join('; '))}`);
  if (notes.length) lines.push(`Not approved automatically: ${t.escape(notes.join('; '))}`);
  return textMessage(lines, `${kind} sent`, t);
}

/** Up to this many databases, the form's choices show their descriptions too (past it the card would outgrow Teams' limit). */
const FORM_DESCRIBED = 50;

/** The request form (`db-access` with nothing after it). Submitting runs the same validation as the inline grammar. */
export function requestFormMessage(catalog: Catalog) {
  const dbs = [...catalog.databases.values()].sort((a, b) => a.name.localeCompare(b.name));
  const levels = [...new Set(dbs.flatMap((d) => [...d.levels.keys()]))].sort();
  const bundles = [...(catalog.bundles?.values() ?? [])].sort((a, b) => a.name.localeCompare(b.name));
  const levelChoice = choices(
    'level',
    bundles.length ? 'Level (none for a bundle)' : 'Level',
    levels.map((l) => [l, l]),
    'Choose a level.',
  );
  const c = card(
    [
      heading('Request database access'),
      choices(
        'database',
        'Database',
        [
          ...dbs.map((d): [string, string] => [
            d.description && dbs.length <= FORM_DESCRIBED ? `${d.name} · ${shortDescription(d.description)}` : d.name,
            d.name,
          ]),
          // A bundle has no level of its own: the level may then be left empty.
          ...bundles.map((b): [string, string] => [
            `${b.name} · bundle: ${b.members.map((m) => `${m.level} on ${m.database}`).join(', ')}`,
            b.name,
          ]),
        ],
        'Choose a database.',
      ),
      bundles.length ? { ...levelChoice, isRequired: false } : levelChoice,
      input('duration', 'For how long', {
        placeholder: 'e.g. 30m, 1h, 2h',
        maxLength: 16,
        required: 'Say for how long, e.g. 1h.',
      }),
      input('ticket', 'Ticket or incident (optional)', {
        placeholder: 'INC-4211, a URL, or pd:PABC123',
        maxLength: 200,
      }),
      input('reason', 'Reason', {
        placeholder: 'What you need to look at, and why',
        multiline: true,
        maxLength: 1000,
        required: 'Say why you need the access.',
      }),
    ],
    [execute('Request', VERBS.request, {}, 'positive')],
  );
  return cardMessage(c, 'Request database access');
}

/** The thread reply under the approval card when a grant ends: what the revocation did on the target. */
export function receiptMessage(view: RequestView) {
  const t = new TeamsText();
  const d = describe(t);
  const rc = view.receipt;
  const at = rc?.at ?? view.grant?.revokedAt;
  const reason = t.escape(rc?.reason ?? view.grant?.endReason ?? 'ended');
  const verb = view.phase === 'failed' ? 'Cleaned up' : 'Revoked';
  return textMessage(
    [
      `🔒 ${verb}${at !== undefined ? ` at ${t.date(at)}` : ''} (${reason}): ${d.receiptDetail(view) || 'no details were recorded'}`,
    ],
    `${title(view)}: ${verb.toLowerCase()}`,
    t,
  );
}

export function revocationStuckMessage(view: RequestView, error: string) {
  const t = new TeamsText();
  const g = view.grant;
  const grant = g
    ? `grant #${g.id} (user ${t.code(g.username)} on ${t.code(g.database)})`
    : `the grant of ${title(view)}`;
  const since = g?.revokeFailingSince !== undefined ? ` since ${t.date(g.revokeFailingSince)}` : '';
  const attempts = g ? ` after ${g.revokeAttempts} attempt${g.revokeAttempts === 1 ? '' : 's'}` : '';
  const cli = g ? ` Run **db-access revoke ${g.id}** (the CLI) once the cause is fixed, or drop the user by hand.` : '';
  return textMessage(
    [
      '🚨 **Revocation is failing**',
      `Revoking ${grant} has been failing${since}${attempts}. The user may still be able to log in.`,
      `**Last error:** ${t.escape(error)}`,
      `Retries continue with backoff.${cli}`,
    ],
    `Revocation is failing for ${title(view)}`,
    t,
  );
}

export function escalationMessage(view: RequestView, tier: number, asked: readonly ApproverRef[]) {
  const t = new TeamsText();
  const who = mentionList(asked, MENTION_BUDGET, t.mention) || 'nobody could be resolved for this tier';
  return textMessage(
    [`🚨 Nobody decided yet, so escalation tier ${tier} is asked too: ${who}`],
    `${title(view)}: escalated to tier ${tier}`,
    t,
  );
}

/** The alert for break-glass access: who, what, why, and a Reviewed button for approvers. */
export function breakGlassMessage(view: RequestView) {
  const t = new TeamsText();
  const d = describe(t);
  const r = view.request;
  const due = r.reviewBy !== undefined ? ` An approver must review it by ${t.date(r.reviewBy)}.` : '';
  const reviewed = r.reviewedAt !== undefined;
  const body = [
    text(`🧯 **Break-glass:** ${t.mention(r.requester)} took ${d.summary(view)} without approval.`),
    text(`**Reason:** ${t.escape(r.reason)}${reviewed ? '' : due}`),
  ];
  if (reviewed) body.push(text(`✅ Reviewed ${t.date(r.reviewedAt!)}`));
  const actions = reviewed ? [] : [execute('Reviewed', VERBS.reviewed, { requestId: r.id }, 'positive')];
  return cardMessage(card(body, actions, t.entities()), `Break-glass access: ${title(view)}`);
}

export function reviewOverdueMessage(view: RequestView) {
  const t = new TeamsText();
  const d = describe(t);
  const r = view.request;
  const who = mentionList(r.approvers, MENTION_BUDGET, t.mention);
  const c = card(
    [
      text(
        `⚠️ Nobody has reviewed ${t.mention(r.requester)}'s break-glass access (${d.summary(view)}) since ${t.date(r.createdAt)}. ${who ? `${who}: please review it.` : ''}`,
      ),
    ],
    [execute('Reviewed', VERBS.reviewed, { requestId: r.id }, 'positive')],
    t.entities(),
  );
  return cardMessage(c, `Break-glass review overdue: ${title(view)}`);
}

/** In the approval thread, when the bot cannot open a 1:1 chat with the requester (the app is not installed for them). */
export function unreachableMessage(view: RequestView) {
  const t = new TeamsText();
  const who = t.mention(view.request.requester);
  return textMessage(
    [
      `${who}: your access for ${title(view)} is ready, but I can't message you yet. Open **db-access** under Apps in Teams, start a chat with it and say **list**: your credentials are there.`,
    ],
    `${title(view)}: open a chat with db-access to get your credentials`,
    t,
  );
}

/** The line under the approval card when the holder extended the grant without approval. */
export function selfExtensionMessage(view: RequestView, ext: SelfExtension) {
  const t = new TeamsText();
  return textMessage([describe(t).selfExtendedLine(ext)], `${title(view)}: extended by its holder`, t);
}
