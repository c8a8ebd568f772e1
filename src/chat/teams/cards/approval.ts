/**
 * The approval card in the database's Teams channel, in every phase. Posted once, then replaced in place (for
 * everyone by the notifier, for the clicker by the Action.Execute response) as the request moves on.
 */
import { formatDuration } from '../../../core/duration.js';
import type { RequestView } from '../../../core/view.js';
import { describe, MENTION_BUDGET, title } from '../../describe.js';
import { mentionList } from '../../markup.js';
import { oneLine, TeamsText } from '../markup.js';
import { VERBS } from '../verbs.js';
import { card, cardMessage, execute, facts, heading, input, text, type AdaptiveCard, type Element } from './kit.js';

export function approvalCard(view: RequestView): AdaptiveCard {
  const t = new TeamsText();
  const d = describe(t);
  const r = view.request;
  const body: Element[] = [
    heading(title(view)),
    ...facts(requestFacts(view, t)),
    text(`**Reason:** ${t.escape(r.reason)}`),
  ];
  if (view.phase === 'pending') {
    const who = mentionList(r.approvers, MENTION_BUDGET, t.mention);
    body.push(
      text(who ? `**Can approve:** ${who}` : '**Can approve:** nobody could be resolved; ask an administrator'),
    );
    if (r.unavailableSources?.length)
      body.push(
        text(`⚠️ Could not ask these approver sources: ${t.escape(r.unavailableSources.join('; '))}`, {
          isSubtle: true,
        }),
      );
  }
  if (view.bundle && r.status === 'approved') {
    // A bundle after its decision: who approved, then each member's own grant.
    body.push(text(`✅ Approved by ${d.approvedBy(view) || 'policy'}`, { weight: 'Bolder' }));
    for (const line of d.memberLines(view)) body.push(text(line));
  } else body.push(text(d.statusLine(view), { weight: 'Bolder' }));
  if (r.breakGlass) {
    const review =
      r.reviewedAt !== undefined
        ? `reviewed ${t.date(r.reviewedAt)}`
        : r.reviewBy !== undefined
          ? `review due ${t.date(r.reviewBy)}`
          : '';
    body.push(text(`🧯 Break-glass: granted without approval${review ? ` · ${review}` : ''}`, { isSubtle: true }));
  } else if (r.status === 'approved' && r.decisionNote?.startsWith('auto-approved')) {
    body.push(text(`🤖 ${t.escape(r.decisionNote)}`, { isSubtle: true }));
  }
  const actions: Element[] = [];
  if (view.phase === 'pending') {
    body.push(input('note', 'Reason (needed to deny)', { placeholder: 'Why not?', maxLength: 300 }));
    actions.push(
      execute('Approve', VERBS.approve, { requestId: r.id }, 'positive'),
      execute('Deny', VERBS.deny, { requestId: r.id }, 'destructive'),
    );
  } else if (view.phase === 'active' && view.grant && !view.bundle) {
    actions.push(execute('Revoke now', VERBS.revoke, { grantId: view.grant.id }, 'destructive'));
  }
  body.push(
    text(`Requested ${t.date(r.createdAt)}${view.grant ? ` · grant #${view.grant.id}` : ''}`, { isSubtle: true }),
  );
  return card(body, actions, t.entities());
}

function requestFacts(view: RequestView, t: TeamsText): Array<[string, string]> {
  const r = view.request;
  const db = view.database;
  const out: Array<[string, string]> = [
    // Asked on someone's behalf: approvers see both, and that the access (and the credentials) go to the latter.
    ...(r.askedBy
      ? ([
          ['Requested by', t.mention(r.askedBy)],
          ['For', `${t.mention(r.requester)} (gets the access)`],
        ] as Array<[string, string]>)
      : ([['Requested by', t.mention(r.requester)]] as Array<[string, string]>)),
    ...((view.bundle
      ? [
          [
            'Bundle',
            `${t.code(db.name)}${db.description ? ` · ${t.escape(oneLine(db.description).slice(0, 300))}` : ''}`,
          ],
          ['Members', view.bundle.entries.map((e) => `${t.code(e.database)} ${t.code(e.level)}`).join(', ')],
        ]
      : [
          [
            'Database',
            `${t.code(db.name)} (${db.engine})${db.description ? ` · ${t.escape(oneLine(db.description).slice(0, 300))}` : ''}`,
          ],
          ['Level', t.code(r.level)],
        ]) as Array<[string, string]>),
    [r.extendsGrantId !== undefined ? 'Extend by' : 'Duration', formatDuration(r.durationMs)],
  ];
  if (r.extendsGrantId !== undefined && view.grant && view.phase === 'pending')
    out.push(['Currently expires', t.date(view.grant.expiresAt)]);
  if (r.ticket) out.push(['Ticket', t.code(r.ticket)]);
  if (r.incidentId) {
    const link =
      r.incidentUrl && /^https:\/\/[\w.-]+\/incidents\/\w+$/.test(r.incidentUrl)
        ? `[${t.escape(r.incidentId)}](${r.incidentUrl})`
        : t.code(r.incidentId);
    out.push(['Incident', `${link} (access ends when it resolves)`]);
  }
  return out;
}

const nameOf = (p: { id: string; name?: string; email?: string }): string => oneLine(p.name ?? p.email ?? p.id);

export function approvalMessage(view: RequestView) {
  const r = view.request;
  return cardMessage(
    approvalCard(view),
    `${title(view)}: ${nameOf(r.askedBy ?? r.requester)} asks for ${view.bundle ? `the bundle ${r.database}` : `${r.level} on ${r.database}`}${r.askedBy ? ` for ${nameOf(r.requester)}` : ''}`,
  );
}
