/**
 * Direct messages to the requester. `accessActiveDm` is posted when the user exists and later
 * edited into `accessEndedDm`; none of these carries a password (see credentials.ts for the ones that do).
 */
import { formatDuration } from '../../../core/duration.js';
import type { RequestView } from '../../../core/view.js';
import { DONE, EXTEND_OPEN, REVEAL } from '../ids.js';
import { code, escapeMrkdwn, mention, slackDate } from '../mrkdwn.js';
import { accessTo, receiptDetail, statusLine, summary, title } from './describe.js';
import { actions, button, context, message, section, type Button, type SlackMessage } from './kit.js';
import type { GrantId } from '../../../core/model.js';

const plainText = (mrkdwn: string) => mrkdwn.replace(/\*/g, '');

function doneButton(grantId: GrantId): Button {
  return button({
    text: "I'm done",
    actionId: DONE,
    value: grantId,
    style: 'danger',
    confirm: {
      title: 'End your access now?',
      text: 'The user is locked, its sessions are ended and it is dropped.',
      confirm: 'End access',
    },
  });
}

/**
 * "Your read access to orders-prod is active until …" with Show credentials (rotates the password and shows it
 * once) and I'm done. `showCredentials: false` for databases whose credentials arrive in the DM itself.
 */
export function accessActiveDm(view: RequestView, opts: { showCredentials?: boolean } = {}): SlackMessage {
  const g = view.grant;
  if (!g) return message(`${title(view)}: ${plainText(summary(view))}`, [section(statusLine(view))]);
  const line = `Your ${accessTo(view)} is active until ${slackDate(g.expiresAt)}.`;
  const askedBy = view.request.askedBy;
  const buttons = [
    ...(opts.showCredentials === false
      ? []
      : [button({ text: 'Show credentials', actionId: REVEAL, value: g.id, style: 'primary' })]),
    doneButton(g.id),
  ];
  return message(plainText(line), [
    section(`:white_check_mark: ${line}${askedBy ? `\n${mention(askedBy)} asked for it on your behalf.` : ''}`),
    actions(buttons, `grant_${g.id}`),
    context(
      `User ${code(g.username)} · grant #${g.id} · ${title(view)}. Showing credentials sets a new password each time.`,
    ),
  ]);
}

/** The active DM edited at the end: no buttons, and what the revocation did. */
export function accessEndedDm(view: RequestView): SlackMessage {
  const detail = receiptDetail(view);
  return message(`Your access ended: ${plainText(summary(view))}.`, [
    section(`${statusLine(view)}\n${summary(view)}.`),
    ...(detail ? [context(detail)] : []),
  ]);
}

/** `remindBefore`: how long before expiry the reminder is sent (ms), as configured. */
export function expiresSoonDm(view: RequestView, remindBefore: number): SlackMessage {
  const g = view.grant;
  if (!g) return accessEndedDm(view);
  const left = formatDuration(Math.max(0, g.expiresAt - view.now) || remindBefore);
  const line = `Your ${accessTo(view)} expires in ${left}, at ${slackDate(g.expiresAt, '{time}')}.`;
  return message(plainText(`Your ${accessTo(view)} expires in ${left}.`), [
    section(`:alarm_clock: ${line}`),
    actions(
      [button({ text: 'Extend', actionId: EXTEND_OPEN, value: g.id, style: 'primary' }), doneButton(g.id)],
      `grant_${g.id}`,
    ),
    context(
      'Within the self-extension policy of this database an extension applies at once; beyond it the approvers are asked.',
    ),
  ]);
}

/** What failed (secret-free: the core's describeError), and whether it will be retried. */
export function provisionFailedDm(view: RequestView, error: string, willRetry: boolean): SlackMessage {
  const what = `Could not create your user for ${summary(view)}: ${escapeMrkdwn(error)}`;
  const next = willRetry
    ? 'This is being retried automatically; you will get a message when the access is ready.'
    : `It will not be retried (${title(view)}). Ask a DBA, or try again with \`/db-access\`.`;
  return message(`${title(view)}: provisioning failed. ${willRetry ? 'Retrying.' : 'Not retrying.'}`, [
    section(`:warning: ${what}`),
    context(next),
  ]);
}

export function requestDeniedDm(view: RequestView): SlackMessage {
  return message(`${title(view)} was denied.`, [section(`${title(view)} for ${summary(view)}:\n${statusLine(view)}`)]);
}

export function requestExpiredDm(view: RequestView): SlackMessage {
  return message(`${title(view)} expired: nobody approved it in time.`, [
    section(`${title(view)} for ${summary(view)}:\n${statusLine(view)}`),
    context('Type `/db-access` to ask again, perhaps with a ticket or incident so approvers see the urgency.'),
  ]);
}
