/**
 * Request and grant ids as people and buttons carry them. Strict: decimal digits only, no sign, no exponent, no
 * hex ("0x2" is not 2), no leading zero, a safe integer; a leading "#" is allowed where people type one.
 */
import { BrokerError } from './errors.js';
import type { GrantId, RequestId } from './model.js';
import { cleanLine } from './text.js';

const DECIMAL_ID = /^#?[1-9]\d{0,15}$/;

/** The id `value` spells, or undefined when it is anything else (the caller explains the refusal). */
export function parseDecimalId(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value > 0 ? value : undefined;
  if (typeof value !== 'string' || !DECIMAL_ID.test(value)) return undefined;
  const id = Number(value.replace(/^#/, ''));
  return Number.isSafeInteger(id) ? id : undefined;
}

/** What an id names, as the refusal says it. */
export type IdKind = 'request' | 'grant';

const SHOWN_MAX = 24;

/**
 * `value` as a refusal quotes it: one line of at most 24 characters, letters, digits, spaces and `#.,+-` kept and anything
 * else shown as `?`, so the quote is inert in Slack mrkdwn, Teams markdown and a terminal whatever was sent.
 */
export function quoteId(value: unknown): string {
  const s = cleanLine(typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value)));
  const safe = s.replace(/[^\p{L}\p{N} #.,+-]/gu, '?');
  return `"${safe.length > SHOWN_MAX ? `${safe.slice(0, SHOWN_MAX - 1)}…` : safe}"`;
}

/** The refusal for a value that is not a `what` id: INVALID_INPUT, field `id`, e.g. `"0x2" is not a request number`. */
export function notAnId(value: unknown, what: IdKind): BrokerError {
  const missing = value === undefined || value === null || value === '';
  return new BrokerError(
    'INVALID_INPUT',
    missing ? `the ${what} number is missing` : `${quoteId(value)} is not a ${what} number`,
    { field: 'id' },
  );
}

/** The id `value` spells, or throws `notAnId(value, what)`. */
function requireDecimalId(value: unknown, what: IdKind): number {
  const id = parseDecimalId(value);
  if (id === undefined) throw notAnId(value, what);
  return id;
}

/** The request id `value` spells, or undefined. */
export function parseRequestId(value: unknown): RequestId | undefined {
  return parseDecimalId(value) as RequestId | undefined;
}

/** The grant id `value` spells, or undefined. */
export function parseGrantId(value: unknown): GrantId | undefined {
  return parseDecimalId(value) as GrantId | undefined;
}

/** The request id `value` spells (a button's value, a typed "#12"), or throws `notAnId(value, 'request')`. */
export function requireRequestId(value: unknown): RequestId {
  return requireDecimalId(value, 'request') as RequestId;
}

/** The grant id `value` spells, or throws `notAnId(value, 'grant')`. */
export function requireGrantId(value: unknown): GrantId {
  return requireDecimalId(value, 'grant') as GrantId;
}
