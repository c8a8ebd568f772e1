/**
 * The only builders that ever hold a password. `credentialsModal` shows freshly rotated credentials once (reveal
 * delivery); `credentialsDm` puts them in the DM (message delivery), and `credentialsDmEnded` is that same DM edited
 * at expiry with the password gone. The notification `text` never carries the password (lock screens show it).
 */
import type { Credentials } from '../../../core/credentials.js';
import type { RequestView } from '../../../core/view.js';
import { CREDENTIALS_MODAL } from '../ids.js';
import * as L from '../limits.js';
import { code, codeBlock, slackDate } from '../mrkdwn.js';
import { receiptDetail, statusLine, summary } from './describe.js';
import { context, fields, message, plain, section, type KnownBlock, type ModalView, type SlackMessage } from './kit.js';

function credentialBlocks(c: Credentials): KnownBlock[] {
  const tool = c.engine === 'postgres' ? 'psql' : 'mysql';
  return [
    fields([
      `*Host*\n${code(c.host)}`,
      `*Port*\n${code(String(c.port))}`,
      `*Database*\n${code(c.database)}`,
      `*User*\n${code(c.username)}`,
      `*Password*\n${code(c.password)}`,
      `*Expires*\n${slackDate(c.expiresAt)}`,
    ]),
    section(`*${tool}* (the password goes in the environment, out of sight of \`ps\`)\n${codeBlock(c.command)}`),
    section(`*URL* (includes the password; for tools that take a URL)\n${codeBlock(c.url)}`),
  ];
}

export function credentialsModal(view: RequestView, c: Credentials): ModalView {
  return {
    type: 'modal',
    callback_id: CREDENTIALS_MODAL,
    title: plain('Your credentials', L.VIEW_TITLE),
    close: plain('Done', L.VIEW_TITLE),
    blocks: [
      section(`${summary(view)}, until ${slackDate(c.expiresAt)}.`),
      ...credentialBlocks(c),
      context(
        ':key: This password was just rotated: any earlier one no longer works. It is stored nowhere, so copy it now; ' +
          'you can show new credentials again while the access lasts. At expiry the user is locked, its sessions ended and it is dropped.',
      ),
    ],
  };
}

export function credentialsDm(view: RequestView, c: Credentials): SlackMessage {
  return message(`Your access is ready: ${summary(view).replace(/\*/g, '')}, until ${slackDate(c.expiresAt)}.`, [
    section(`:white_check_mark: Your access is ready: ${summary(view)}, until ${slackDate(c.expiresAt)}.`),
    ...credentialBlocks(c),
    context(':key: The password is stored nowhere else, and it is removed from this message when the access ends.'),
  ]);
}

/** The credentials DM after the grant ended: the password is gone, the receipt says what happened. */
export function credentialsDmEnded(view: RequestView): SlackMessage {
  const detail = receiptDetail(view);
  const user = view.grant ? ` User ${code(view.grant.username)}.` : '';
  return message(`Your access ended: ${summary(view).replace(/\*/g, '')}.`, [
    section(`${statusLine(view)}\n${summary(view)}.${user}`),
    ...(detail ? [context(detail)] : []),
    context(':wastebasket: The password was removed from this message.'),
  ]);
}
