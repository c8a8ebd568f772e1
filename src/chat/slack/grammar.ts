/**
 * The inline grammar of `/db-access` (pure):
 *   (nothing)                                  → the request modal
 *   help | list | revoke <id> | extend <id> <duration> [reason…]
 *   <database> <level> <duration> [TICKET] <reason…>
 * A TICKET is an issue key (INC-4211, OPS-12) or an http(s) URL; everything after it is the reason.
 */
import { parseDuration } from '../../core/duration.js';
import type { RequestInput } from '../../core/requests.js';

export type Command =
  | { kind: 'modal' }
  | { kind: 'help' }
  | { kind: 'list' }
  | { kind: 'revoke'; grantId: number }
  | { kind: 'extend'; grantId: number; duration: string; reason?: string }
  | { kind: 'request'; input: RequestInput }
  | { kind: 'invalid'; problem: string };

const TICKET = /^(?:[A-Z][A-Z0-9]{1,15}-\d{1,9}|https?:\/\/\S+)$/;

function grantId(token: string | undefined): number | undefined {
  const n = Number((token ?? '').replace(/^#/, ''));
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

export function parseCommand(text: string): Command {
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
      return id ? { kind: 'revoke', grantId: id } : { kind: 'invalid', problem: 'Usage: `/db-access revoke <grant id>`' };
    }
    case 'extend': {
      const id = grantId(rest[0]);
      const duration = rest[1];
      if (!id || !duration || parseDuration(duration) === undefined) {
        return { kind: 'invalid', problem: 'Usage: `/db-access extend <grant id> <duration> [reason]`, e.g. `/db-access extend 42 30m still digging`' };
      }
      const reason = rest.slice(2).join(' ');
      return { kind: 'extend', grantId: id, duration, ...(reason && { reason }) };
    }
  }
  const [level, duration, ...tail] = rest;
  if (!level || !duration) {
    return { kind: 'invalid', problem: 'Usage: `/db-access <database> <level> <duration> [TICKET] <reason…>`' };
  }
  let ticket: string | undefined;
  if (tail[0] && TICKET.test(tail[0])) ticket = tail.shift();
  return {
    kind: 'request',
    input: { database: first, level, duration, reason: tail.join(' '), ...(ticket && { ticket }) },
  };
}
