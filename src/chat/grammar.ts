/**
 * The inline grammar of `/db-access` on Slack and `db-access` on Teams (pure):
 *   (nothing)                                  → the request modal
 *   help | list | revoke <id> | extend <id> <duration> [reason…]
 *   <database> <level> <duration> [TICKET] [pd:INCIDENT] <reason…>
 *   break-glass <database> <level> <duration> <reason…>
 * A TICKET is an issue key (INC-4211, OPS-12) or an http(s) URL; `pd:PABC123` (or a PagerDuty incident URL)
 * scopes the access to that incident; everything after them is the reason.
 */
import { parseDuration } from '../core/duration.js';
import type { RequestInput } from '../core/requests.js';

export type Command =
  | { kind: 'modal' }
  | { kind: 'help' }
  | { kind: 'list' }
  | { kind: 'revoke'; grantId: number }
  | { kind: 'extend'; grantId: number; duration: string; reason?: string }
  | { kind: 'request'; input: RequestInput; breakGlass?: boolean }
  | { kind: 'invalid'; problem: string };

const INCIDENT = /^(?:pd:([A-Z0-9]{5,20})|https?:\/\/[^/\s]+\.pagerduty\.com\/incidents\/([A-Z0-9]{5,20})\S*)$/;
const TICKET = /^(?:[A-Z][A-Z0-9]{1,15}-\d{1,9}|https?:\/\/\S+)$/;

function grantId(token: string | undefined): number | undefined {
  const n = Number((token ?? '').replace(/^#/, ''));
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/** `command` is how the usage hints name the command (Slack: `/db-access`; Teams: `db-access`). */
export function parseCommand(text: string, command = '/db-access'): Command {
  const tokens = text.trim().split(/\s+/).filter(Boolean);
  const [first, ...rest] = tokens;
  if (!first) return { kind: 'modal' };
  switch (first.toLowerCase()) {
    case 'help':
      return { kind: 'help' };
    case 'list':
      return { kind: 'list' };
    case 'revoke': {
      const id = grantId(rest[0]);
      return id ? { kind: 'revoke', grantId: id } : { kind: 'invalid', problem: `Usage: \`${command} revoke <grant id>\`` };
    }
    case 'extend': {
      const id = grantId(rest[0]);
      const duration = rest[1];
      if (!id || !duration || parseDuration(duration) === undefined) {
        return { kind: 'invalid', problem: `Usage: \`${command} extend <grant id> <duration> [reason]\`, e.g. \`${command} extend 42 30m still digging\`` };
      }
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
    if (m && !incident) {
      incident = m[1] ?? m[2];
      tail.shift();
    } else if (!ticket && TICKET.test(tail[0])) ticket = tail.shift();
    else break;
  }
  return {
    kind: 'request',
    input: { database, level, duration, reason: tail.join(' '), ...(ticket && { ticket }), ...(incident && { incident }) },
    ...(breakGlass && { breakGlass }),
  };
}
