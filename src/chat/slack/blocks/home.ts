/**
 * The App Home tab: my active access, my pending requests, and requests waiting for my approval. Lists are capped
 * so the view stays within 100 blocks (the rest is summarised as "and N more"); `/db-access list` shows all.
 */
import { formatDuration } from '../../../core/duration.js';
import type { RequestView } from '../../../core/view.js';
import { HOME_APPROVE, HOME_DENY, HOME_REQUEST, HOME_REVEAL, HOME_REVOKE } from '../ids.js';
import * as L from '../limits.js';
import { code, escapeMrkdwn, mention, slackDate } from '../mrkdwn.js';
import { accessTo, approvalProgress, statusLine, summary, title } from './describe.js';
import {
  actions,
  button,
  capBlocks,
  context,
  divider,
  header,
  section,
  type HomeView,
  type KnownBlock,
} from './kit.js';

/** Items shown per list; with the fixed blocks the worst case is 2 + (2 + 2·15 + 1) + (2 + 10 + 1) + (2 + 2·20 + 1) + 1 = 92 ≤ 100. */
const MAX_ACTIVE = 15;
const MAX_PENDING = 10;
const MAX_TO_APPROVE = 20;
/** The reason as shown to approvers on the Home tab (the channel message has it in full). */
const REASON_PREVIEW = 300;

export interface HomeInput {
  userId: string;
  /** The user's own requests; active ones (and those being approved or provisioned) are shown. */
  mine: readonly RequestView[];
  /** Pending requests this user may decide. */
  toApprove: readonly RequestView[];
  now: number;
}

function list(
  heading: string,
  views: readonly RequestView[],
  max: number,
  render: (v: RequestView) => KnownBlock[],
  empty: string,
): KnownBlock[] {
  const blocks: KnownBlock[] = [divider(), section(`*${heading}*`)];
  if (views.length === 0) return [...blocks, context(empty)];
  for (const v of views.slice(0, max)) blocks.push(...render(v));
  if (views.length > max)
    blocks.push(context(`…and ${views.length - max} more. Type \`/db-access list\` to see them all.`));
  return blocks;
}

function activeItem(v: RequestView, now: number): KnownBlock[] {
  const g = v.grant!;
  return [
    section(
      `${accessTo(v)} until ${slackDate(g.expiresAt)} (${formatDuration(Math.max(0, g.expiresAt - now))} left) · user ${code(g.username)} · grant #${g.id}`,
    ),
    actions([
      button({ text: 'Show credentials', actionId: HOME_REVEAL, value: g.id, style: 'primary' }),
      button({
        text: "I'm done",
        actionId: HOME_REVOKE,
        value: g.id,
        style: 'danger',
        confirm: {
          title: 'End your access now?',
          text: 'The user is locked, its sessions are ended and it is dropped.',
          confirm: 'End access',
        },
      }),
    ]),
  ];
}

function pendingItem(v: RequestView): KnownBlock[] {
  return [section(`*${title(v)}*: ${summary(v)}\n${statusLine(v)}`)];
}

function toApproveItem(v: RequestView): KnownBlock[] {
  const r = v.request;
  const reason = L.truncate(escapeMrkdwn(r.reason.replace(/\s+/g, ' ')), REASON_PREVIEW);
  const ticket = r.ticket ? ` · ${code(r.ticket.slice(0, 100))}` : '';
  return [
    section(
      `*${title(v)}*: ${mention(r.askedBy ?? r.requester)} asks for ${summary(v)}${r.askedBy ? ` for ${mention(r.requester)}` : ''}${ticket}\n>${reason}\n${approvalProgress(v)}`,
    ),
    actions([
      button({ text: 'Approve', actionId: HOME_APPROVE, value: r.id, style: 'primary' }),
      button({ text: 'Deny', actionId: HOME_DENY, value: r.id, style: 'danger' }),
    ]),
  ];
}

export function homeView(input: HomeInput): HomeView {
  const active = input.mine.filter((v) => v.phase === 'active' && v.grant && v.request.extendsGrantId === undefined);
  const pending = input.mine.filter((v) => v.phase === 'pending' || v.phase === 'provisioning');
  // Nobody may decide their own request, nor one they asked for someone else: never offer the buttons.
  const mine = (p: { platform: string; id: string } | undefined) => p?.platform === 'slack' && p.id === input.userId;
  const toApprove = input.toApprove.filter(
    (v) => v.phase === 'pending' && !mine(v.request.requester) && !mine(v.request.askedBy),
  );
  const intro: KnownBlock[] = [
    header('Database access'),
    section(
      'Ask for short-lived access to a database; an approver says yes in the channel and you get credentials here.',
      button({ text: 'Request access', actionId: HOME_REQUEST, style: 'primary' }),
    ),
  ];
  if (active.length + pending.length + toApprove.length === 0) {
    return {
      type: 'home',
      blocks: [
        ...intro,
        divider(),
        section(
          'Nothing here yet: no access, no pending requests, nothing waiting for your approval.\nType `/db-access` in any channel, or press *Request access*.',
        ),
      ],
    };
  }
  const blocks: KnownBlock[] = [
    ...intro,
    ...list('Your active access', active, MAX_ACTIVE, (v) => activeItem(v, input.now), 'No active access.'),
    ...list('Your pending requests', pending, MAX_PENDING, pendingItem, 'Nothing pending.'),
    ...list('Waiting for your approval', toApprove, MAX_TO_APPROVE, toApproveItem, 'Nothing waiting for you.'),
    context(`Updated ${slackDate(input.now)} · \`/db-access help\` for the commands.`),
  ];
  return { type: 'home', blocks: capBlocks(blocks, L.VIEW_BLOCKS) };
}
