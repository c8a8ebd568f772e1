/** core/ids.ts: the one strict reading of request and grant ids, and how a refusal quotes what was sent. */
import { describe, expect, it } from 'vitest';
import { BrokerError } from '../../src/core/errors.js';
import {
  notAnId,
  parseDecimalId,
  parseGrantId,
  quoteId,
  requireGrantId,
  requireRequestId,
} from '../../src/core/ids.js';

describe('request and grant ids', () => {
  it('reads decimal ids, with an optional "#", and numbers that are positive safe integers', () => {
    expect(parseDecimalId('42')).toBe(42);
    expect(parseDecimalId('#42')).toBe(42);
    expect(parseDecimalId(7)).toBe(7);
    expect(parseDecimalId('9007199254740991')).toBe(9007199254740991);
  });

  // Number() reads most of these as 2 (or another positive integer): parseDecimalId reads none of them.
  it.each([
    '0x2',
    '0X2',
    '0b10',
    '0o2',
    '02',
    '2.0',
    '2.',
    '1e1',
    '+2',
    ' 2',
    '2 ',
    '\u200B2',
    '２',
    '-2',
    '0',
    '',
    '#',
    '##2',
    '9007199254740993',
    '99999999999999999',
  ])('refuses %j', (v) => {
    expect(parseDecimalId(v)).toBeUndefined();
    expect(parseGrantId(v)).toBeUndefined();
    expect(() => requireRequestId(v)).toThrow(BrokerError);
    expect(() => requireGrantId(v)).toThrow(BrokerError);
  });

  it.each([2.5, -1, 0, Number.NaN, Infinity, 2 ** 53, null, undefined, true, {}, ['2']])(
    'refuses the non-string %j',
    (v) => {
      expect(parseDecimalId(v)).toBeUndefined();
    },
  );

  it('names the kind it reads in its refusal', () => {
    expect(() => requireRequestId('x')).toThrow('"x" is not a request number');
    expect(() => requireGrantId('x')).toThrow('"x" is not a grant number');
    expect(requireGrantId('#42')).toBe(42);
  });

  it('refuses by name: INVALID_INPUT on field id, saying what the value is not', () => {
    const err = notAnId('0x2', 'request');
    expect(err).toMatchObject({
      code: 'INVALID_INPUT',
      message: '"0x2" is not a request number',
      details: { field: 'id' },
    });
    expect(notAnId('+3', 'grant').message).toBe('"+3" is not a grant number');
    expect(notAnId(undefined, 'grant').message).toBe('the grant number is missing');
    expect(notAnId('', 'request').message).toBe('the request number is missing');
    expect(notAnId(2.5, 'request').message).toBe('"2.5" is not a request number');
  });

  it('quotes what was sent inertly, on one line, at most 24 characters', () => {
    expect(quoteId('<!channel> *x* <https://evil.example|y>')).toBe('"??channel? ?x? ?https??…"');
    expect(quoteId('a\u202Eb\nc')).toBe('"ab c"');
    expect(quoteId({ requestId: 2 })).toBe('"??requestId??2?"');
  });
});
