/**
 * One friendly sentence per BrokerError code, for every chat platform (bound to its markup and to how the
 * command is typed there). The core's messages can quote user input ("unknown database …"), so they are escaped
 * like any user text. `view`, when the caller has it, lets ALREADY_DECIDED say who decided.
 */
import type { BrokerError } from '../core/errors.js';
import type { RequestView } from '../core/view.js';
import { describe, MENTION_BUDGET } from './describe.js';
import { capitalize, mentionList, type Markup } from './markup.js';

export function errorSentences(m: Markup, command: string): (err: BrokerError, view?: RequestView) => string {
  const { statusLine } = describe(m);

  /** The core's message as the end of a sentence: escaped, with a full stop. */
  const told = (err: BrokerError): string => {
    const s = m.escape(err.message.trim());
    return /[.!?]$/.test(s) ? s : `${s}.`;
  };

  const alreadyDecided = (view: RequestView): string => {
    const who =
      view.request.extendsGrantId !== undefined
        ? `Extension request #${view.request.id}`
        : `Request #${view.request.id}`;
    switch (view.phase) {
      case 'provisioning':
      case 'active':
        return `${who} was already approved by ${
          mentionList(
            view.approvals.map((a) => a.approver),
            MENTION_BUDGET,
            m.mention,
          ) || 'policy'
        }.`;
      case 'denied':
        return `${who} was already denied${view.denial ? ` by ${m.mention(view.denial.approver)}` : ''}.`;
      case 'pending':
        return `You have already decided ${who.charAt(0).toLowerCase()}${who.slice(1)}; it still needs ${Math.max(1, view.request.requiredApprovals - view.approvals.length)} more approval(s).`;
      default:
        return `${who} is no longer open: ${statusLine(view)}`;
    }
  };

  return (err, view) => {
    const valid = err.details.valid?.length ? err.details.valid.map((v) => m.code(v)).join(', ') : '';
    switch (err.code) {
      case 'INVALID_INPUT':
        if (err.details.field === 'duration')
          return `${capitalize(told(err))} Use a duration such as 30m, 1h or 1h30m.`;
        return capitalize(told(err));
      case 'UNKNOWN_DATABASE':
        return `${capitalize(told(err))}${valid ? ` Choose one of: ${valid}.` : ''}`;
      case 'UNKNOWN_LEVEL':
        return `${capitalize(told(err))}${valid ? ` Levels there: ${valid}.` : ''}`;
      case 'DURATION_TOO_LONG':
        return `That is too long: ${told(err)} Ask for less; you can extend later.`;
      case 'NOT_FOUND':
        return `${capitalize(told(err))} Check the number with ${m.code(`${command} list`)}.`;
      case 'ALREADY_DECIDED':
        return view ? alreadyDecided(view) : `Too late: ${told(err)}`;
      case 'FORBIDDEN':
        return /^you can't/i.test(err.message) ? capitalize(told(err)) : `You can't do that: ${told(err)}`;
      case 'SELF_APPROVAL':
        return /someone else/.test(err.message)
          ? "You can't approve a request you made for someone else: another approver has to."
          : "You can't approve your own request: someone else has to.";
      case 'RATE_LIMITED':
        return `Slow down: ${told(err)}`;
      case 'TARGET_ERROR':
        return `The database server refused: ${told(err)} Try again in a minute; if it keeps failing, tell a DBA.`;
    }
  };
}
