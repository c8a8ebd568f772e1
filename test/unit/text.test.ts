/** core/text.ts: what is removed from text people type or profiles supply, and what is kept. */
import { describe, expect, it } from 'vitest';
import { cleanLine, cleanText } from '../../src/core/text.js';

const BIDI = [
  '\u202A',
  '\u202B',
  '\u202C',
  '\u202D',
  '\u202E',
  '\u2066',
  '\u2067',
  '\u2068',
  '\u2069',
  '\u200E',
  '\u200F',
  '\u061C',
];
const ZERO_WIDTH = ['\u200B', '\u200C', '\u200D', '\u2060', '\uFEFF'];
const controls = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => String.fromCharCode(from + i));
const C0_BUT_TAB_LF_CR = controls(0x00, 0x1f).filter((c) => !'\t\n\r'.includes(c));
const C1_AND_DEL = controls(0x7f, 0x9f);

describe('cleanText', () => {
  it('removes every bidi control: "fix\\u202Egnp.exe" no longer reads "fixexe.png"', () => {
    expect(cleanText('fix\u202Egnp.exe')).toBe('fixgnp.exe');
    for (const c of BIDI) expect(cleanText(`a${c}b`), c.codePointAt(0)!.toString(16)).toBe('ab');
  });

  it('removes zero-width and other invisible characters used to disguise a word', () => {
    for (const c of [...ZERO_WIDTH, '\u00AD', '\u2061', '\u2064', '\u180E'])
      expect(cleanText(`ad${c}min`), c.codePointAt(0)!.toString(16)).toBe('admin');
    expect(cleanText('a\u{E0041}\u{E0042}b')).toBe('ab'); // Unicode tags: invisible "ASCII"
  });

  it('removes C0 (NUL included), DEL and C1 control characters', () => {
    for (const c of [...C0_BUT_TAB_LF_CR, ...C1_AND_DEL])
      expect(cleanText(`a${c}b`), c.charCodeAt(0).toString(16)).toBe('ab');
  });

  it('keeps newlines (multi-line reasons), maps CR LF, CR, U+2028 and U+2029 to a newline and a tab to a space', () => {
    expect(cleanText('one\ntwo\r\nthree\rfour\u2028five\u2029six\tseven')).toBe(
      'one\ntwo\nthree\nfour\nfive\nsix seven',
    );
  });

  it('replaces a lone surrogate and leaves paired ones, accents, scripts and emoji alone', () => {
    expect(cleanText('a\uD800b\uDC00c')).toBe('a\uFFFDb\uFFFDc');
    const text = 'Zoë naïve — 日本語 עברית العربية 😀 <!channel> *bold* `code`';
    expect(cleanText(text)).toBe(text);
  });

  it('is idempotent', () => {
    const dirty = `x${BIDI.join('')}${ZERO_WIDTH.join('')}${C0_BUT_TAB_LF_CR.join('')}\r\n\ty`;
    expect(cleanText(cleanText(dirty))).toBe(cleanText(dirty));
  });
});

describe('cleanLine', () => {
  it('is cleanText on one line: a name cannot fake a second line', () => {
    expect(cleanLine('alice\nApproved by bob\u202E')).toBe('alice Approved by bob');
    expect(cleanLine('a\r\nb\u2028c')).toBe('a b c');
  });
});
