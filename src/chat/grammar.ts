/**
 * The inline grammar of `/db-access` on Slack and `db-access` on Teams (pure):
 *   (nothing)                                  → the request modal
 *   help | list | revoke <id> | extend <id> <duration> [reason…]
 *   <database> <level> <duration> [TICKET] [pd:INCIDENT] <reason…>
 *   break-glass <database> <level> <duration> <reason…>
 * A TICKET is an issue key (INC-4211, OPS-12) or an http(s) URL; `pd:PABC123` (or a PagerDuty incident URL), or
 * `og:<Opsgenie alert id>`, scopes the access to that incident; everything after them is the reason.
 *
 * The whole text is cleaned first (core/text.ts: no bidi, invisible or control characters reach a reason), and a
 * grant id is decimal only (core/ids.ts): "0x2", "1e1", "+3" or "2.0" is refused by name, never read as 2.
 */
import { parseDuration } from '../core/duration.js';
import { parseDecimalId, quoteId } from '../core/ids.js';
import type { RequestInput } from '../core/asking.js';
import { cleanText } from '../core/text.js';

export type Command =
  | { kind: 'modal' }
  | { kind: 'help' }
  | { kind: 'list' }
  | { kind: 'revoke'; grantId: number }
  | { kind: 'extend'; grantId: number; duration: string; reason?: string }
  | { kind: 'request'; input: RequestInput; breakGlass?: boolean }
  | { kind: 'invalid'; problem: string };

const INCIDENT = /^(?:pd:([A-Z0-9]{5,20})|https?:\/\/[^/\s]+\.pagerduty\.com\/incidents\/([A-Z0-9]{5,20})\S*)$/;
/** An Opsgenie alert: `og:<alert id>` (kept with its prefix: that is how the core tells the vendors apart). */
const OPSGENIE_ALERT = /^og:[0-9a-f][0-9a-f-]{7,59}$/;
const TICKET = /^(?:[A-Z][A-Z0-9]{1,15}-\d{1,9}|https?:\/\/\S+)$/;

/** The refusal of a token that was meant as a grant id, with the usage after it. */
function notAGrant(token: string, usage: string): Command {
  return { kind: 'invalid', problem: `${quoteId(token)} is not a grant number. ${usage}` };
}

/** `command` is how the usage hints name the command (Slack: `/db-access`; Teams: `db-access`). */
export function parseCommand(text: string, command = '/db-access'): Command {
  const tokens = cleanText(text).trim().split(/\s+/).filter(Boolean);
  const [first, ...rest] = tokens;
  if (!first) return { kind: 'modal' };
  switch (first.toLowerCase()) {
    case 'help':
      return { kind: 'help' };
    case 'list':
      return { kind: 'list' };
    case 'revoke': {
      const usage = `Usage: \`${command} revoke <grant id>\``;
      const id = parseDecimalId(rest[0]);
      if (id) return { kind: 'revoke', grantId: id };
      return rest[0] ? notAGrant(rest[0], usage) : { kind: 'invalid', problem: usage };
    }
    case 'extend': {
      const usage = `Usage: \`${command} extend <grant id> <duration> [reason]\`, e.g. \`${command} extend 42 30m still digging\``;
      const id = parseDecimalId(rest[0]);
      if (rest[0] && !id) return notAGrant(rest[0], usage);
      const duration = rest[1];
      if (!id || !duration || parseDuration(duration) === undefined) return { kind: 'invalid', problem: usage };
      const reason = rest.slice(2).join(' ');
      return { kind: 'extend', grantId: id, duration, ...(reason && { reason }) };
    }
  }
  const breakGlass = first.toLowerCase() === 'break-glass';
  const [database, level, duration, ...tail] = breakGlass ? rest : tokens;
  if (!database || !level || !duration) {
    return {
      kind: 'invalid',
      problem: breakGlass
        ? `Usage: \`${command} break-glass <database> <level> <duration> <reason…>\``
        : `Usage: \`${command} <database> <level> <duration> [TICKET] [pd:INCIDENT] <reason…>\``,
    };
  }
  let ticket: string | undefined;
  let incident: string | undefined;
  for (let i = 0; i < 2 && tail[0]; i++) {
    const m = INCIDENT.exec(tail[0]);
    const og = OPSGENIE_ALERT.test(tail[0]) ? tail[0] : undefined;
    if ((m || og) && !incident) {
      incident = og ?? m![1] ?? m![2];
      tail.shift();
    } else if (!ticket && TICKET.test(tail[0])) ticket = tail.shift();
    else break;
  }
  return {
    kind: 'request',
    input: {
      database,
      level,
      duration,
      reason: tail.join(' '),
      ...(ticket && { ticket }),
      ...(incident && { incident }),
    },
    ...(breakGlass && { breakGlass }),
  };
}
