/**
 * The inline grammar of `/db-access` on Slack and `db-access` on Teams (pure):
 *   (nothing)                                  → the request modal
 *   help | list | revoke <id> | extend <id> <duration> [reason…]
 *   <database> <level> <duration> [for <@person>] [TICKET] [pd:INCIDENT] <reason…>
 *   <bundle> <duration> [for <@person>] [TICKET] <reason…>     (level '': the bundle's members have theirs)
 *   break-glass <database> <level> <duration> <reason…>
 * A TICKET is an issue key (INC-4211, OPS-12) or an http(s) URL; `pd:PABC123` (or a PagerDuty incident URL), or
 * `og:<Opsgenie alert id>`, scopes the access to that incident; everything after them is the reason. A ticket
 * `INC-<n>` (any case) also names the requester's open incident numbered n, when no incident is named otherwise
 * (core/incident-ticket.ts).
 *
 * `for <@id>` asks for someone else. The platforms turn a mention picked from their autocomplete into `<@id>`
 * (Slack: slack/command-text.ts; Teams: the mention's entity) before the grammar runs; only that form names a
 * person. `for` followed by anything that looks like a name (`@alice`, `@here`, `#channel`) is refused: a typed
 * name could be several people. `for @me` (or `for me`) is the asker. Any other word after `for` is the reason
 * ("1h for the migration").
 *
 * The whole text is cleaned first (core/text.ts: no bidi, invisible or control characters reach a reason), and a
 * grant id is decimal only (core/ids.ts): "0x2", "1e1", "+3" or "2.0" is refused by name, never read as 2.
 */
import { parseDuration } from '../core/duration.js';
import { parseGrantId, quoteId } from '../core/ids.js';
import { incidentNumberOf } from '../core/incident-ticket.js';
import type { RequestInput } from '../core/asking.js';
import { cleanText } from '../core/text.js';
import type { GrantId } from '../core/model.js';

export type Command =
  | { kind: 'modal' }
  | { kind: 'help' }
  | { kind: 'list' }
  | { kind: 'revoke'; grantId: GrantId }
  | { kind: 'extend'; grantId: GrantId; duration: string; reason?: string }
  /** `forWhom`: the platform id of the person the access is for, as `for <@id>` named them. */
  | { kind: 'request'; input: RequestInput; breakGlass?: boolean; forWhom?: string }
  | { kind: 'invalid'; problem: string };

const INCIDENT = /^(?:pd:([A-Z0-9]{5,20})|https?:\/\/[^/\s]+\.pagerduty\.com\/incidents\/([A-Z0-9]{5,20})\S*)$/;
/** An Opsgenie alert: `og:<alert id>` (kept with its prefix: that is how the core tells the vendors apart). */
const OPSGENIE_ALERT = /^og:[0-9a-f][0-9a-f-]{7,59}$/;
const TICKET = /^(?:[A-Z][A-Z0-9]{1,15}-\d{1,9}|https?:\/\/\S+)$/;
/** A person, as the platforms write a mention picked from their autocomplete. */
const PERSON = /^<@([^<>@\s|]{1,255})>$/;
/** What is not a person but reads as someone: a typed name, a special mention, a channel. */
const NOT_A_PERSON = /^[@#<]/;
const EVERYONE = new Set(['@here', '@channel', '@everyone']);
const SELF = new Set(['me', '@me']);

/** `for <@id>` at the head of `tail` (taken off it): the id; undefined when there is no `for` clause. */
function forClause(tail: string[]): { forWhom?: string } | { problem: string } {
  if (tail[0]?.toLowerCase() !== 'for' || tail[1] === undefined) return {};
  const who = tail[1];
  const person = PERSON.exec(who);
  if (person) {
    tail.splice(0, 2);
    return { forWhom: person[1]! };
  }
  if (SELF.has(who.toLowerCase())) {
    tail.splice(0, 2);
    return {};
  }
  if (!NOT_A_PERSON.test(who)) return {};
  const named = `\`${who.replace(/[^\p{L}\p{N}@#._-]/gu, '?').slice(0, 40)}\``;
  if (EVERYONE.has(who.toLowerCase()))
    return { problem: `${named} notifies everyone in a channel; access is asked for one person.` };
  if (who.startsWith('#')) return { problem: `${named} is a channel, not a person.` };
  return {
    problem: `${named} could be more than one person. Pick them from the @-mention list as you type, so the command carries who they are.`,
  };
}

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
      const id = parseGrantId(rest[0]);
      if (id) return { kind: 'revoke', grantId: id };
      return rest[0] ? notAGrant(rest[0], usage) : { kind: 'invalid', problem: usage };
    }
    case 'extend': {
      const usage = `Usage: \`${command} extend <grant id> <duration> [reason]\`, e.g. \`${command} extend 42 30m still digging\``;
      const id = parseGrantId(rest[0]);
      if (rest[0] && !id) return notAGrant(rest[0], usage);
      const duration = rest[1];
      if (!id || !duration || parseDuration(duration) === undefined) return { kind: 'invalid', problem: usage };
      const reason = rest.slice(2).join(' ');
      return { kind: 'extend', grantId: id, duration, ...(reason && { reason }) };
    }
  }
  const breakGlass = first.toLowerCase() === 'break-glass';
  // A bundle takes no level: its second word is a duration, which no level name can be (levels start with a letter).
  const bundle = !breakGlass && tokens[1] !== undefined && parseDuration(tokens[1]) !== undefined;
  const [database, level, duration, ...tail] = breakGlass ? rest : bundle ? [first, '', ...rest] : tokens;
  if (!database || (!level && !bundle) || !duration) {
    return {
      kind: 'invalid',
      problem: breakGlass
        ? `Usage: \`${command} break-glass <database> <level> <duration> <reason…>\``
        : `Usage: \`${command} <database> <level> <duration> [for @person] [TICKET] [pd:INCIDENT] <reason…>\``,
    };
  }
  const forWhom = forClause(tail);
  if ('problem' in forWhom) return { kind: 'invalid', problem: `${forWhom.problem} Nothing was asked for.` };
  if (breakGlass && forWhom.forWhom)
    return { kind: 'invalid', problem: 'Break-glass access is only ever for yourself. Nothing was asked for.' };
  let ticket: string | undefined;
  let incident: string | undefined;
  for (let i = 0; i < 2 && tail[0]; i++) {
    const m = INCIDENT.exec(tail[0]);
    const og = OPSGENIE_ALERT.test(tail[0]) ? tail[0] : undefined;
    if ((m || og) && !incident) {
      incident = og ?? m![1] ?? m![2];
      tail.shift();
    } else if (!ticket && (TICKET.test(tail[0]) || incidentNumberOf(tail[0]) !== undefined)) ticket = tail.shift();
    else break;
  }
  return {
    kind: 'request',
    input: {
      database,
      level: level ?? '',
      duration,
      reason: tail.join(' '),
      ...(ticket && { ticket }),
      ...(incident && { incident }),
    },
    ...(breakGlass && { breakGlass }),
    ...forWhom,
  };
}
