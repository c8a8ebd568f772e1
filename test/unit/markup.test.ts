/** chat/markup.ts: sentence case for lines that may start with an escaped mark. */
import { describe, expect, it } from 'vitest';
import { capitalize } from '../../src/chat/markup.js';
import { TeamsText } from '../../src/chat/teams/markup.js';

describe('capitalize', () => {
  it('capitalises the first letter', () => {
    expect(capitalize('request #3 is already approved')).toBe('Request #3 is already approved');
    expect(capitalize('')).toBe('');
  });

  it('skips a leading escaped mark and capitalises the letter after it', () => {
    expect(capitalize('\\_scratch is not a database')).toBe('\\_Scratch is not a database');
    expect(capitalize('\\*\\*bold\\*\\* text')).toBe('\\*\\*Bold\\*\\* text');
    expect(capitalize('\\word')).toBe('\\Word');
  });

  it('an error sentence escaped by TeamsText reads capitalised, escapes intact', () => {
    const escaped = new TeamsText().escape('_tmp is not in the catalog');
    expect(escaped.startsWith('\\')).toBe(true);
    expect(capitalize(escaped)).toBe(escaped.replace('_tmp', '_Tmp'));
  });

  it('leaves a sentence starting with a digit or a mark unchanged', () => {
    expect(capitalize('42 is not a request number')).toBe('42 is not a request number');
    expect(capitalize('\\#1 is taken')).toBe('\\#1 is taken');
  });
});
