/** The DM that carries a terminal sign-in code: what it is for, where the attempt came from, how long it lives. */
import type { LoginCodeMessage } from '../../../core/terminal-login.js';
import { code, escapeMrkdwn, slackDate } from '../mrkdwn.js';
import { context, section, type SlackMessage } from './kit.js';

export function terminalCodeDm(m: LoginCodeMessage): SlackMessage {
  const what = `${escapeMrkdwn(m.level)} on ${escapeMrkdwn(m.database)} for ${escapeMrkdwn(m.duration)}`;
  return {
    text: `Your db-access terminal code: ${m.code}`,
    blocks: [
      section(
        `Someone is signing in to *db-access from a terminal* as you, to request ${what}.\n` +
          `Your code: ${code(m.code)} (valid until ${slackDate(m.expiresAt, '{time}')}, one use)`,
      ),
      context(
        `From address ${code(m.client.address)} with ${code(m.client.userAgent)}. ` +
          'Not you? Do not type or share this code: nothing happens without it.',
      ),
    ],
  };
}
