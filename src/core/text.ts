/**
 * Text people type or a chat profile supplies, made safe to store, audit and show to someone else.
 *
 * Removed, because they change how text *looks* without being visible themselves:
 * - bidi controls (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C): "fix\u202Egnp.exe" reads "fixexe.png";
 * - invisible characters used to disguise a word or split a mention (U+200B–U+200D, U+2060–U+2064, U+FEFF, U+00AD,
 *   U+180E) and Unicode tag characters (U+E0000–U+E007F, invisible "ASCII");
 * - control characters: C0 (NUL included), DEL and C1.
 * Kept or mapped: a newline stays (modal reasons are multi-line); CR LF and a lone CR become a newline, U+2028 and
 * U+2029 too; a tab becomes a space. Lone UTF-16 surrogates become U+FFFD (no store or JSON encoder chokes on them).
 *
 * Everything else is left as typed: escaping for Slack mrkdwn or a card happens where the text is rendered.
 */

const INVISIBLE =
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u00AD\u061C\u180E\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF\u{E0000}-\u{E007F}]/gu;

/** With the `u` flag a surrogate pair is one code point, so this matches only the unpaired halves. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/gu;

/** `s` without bidi controls, invisible characters and control characters other than newline (see above). */
export function cleanText(s: string): string {
  return s
    .replace(LONE_SURROGATE, '\uFFFD')
    .replace(/\r\n?|[\u2028\u2029]/g, '\n')
    .replace(/\t/g, ' ')
    .replace(INVISIBLE, '');
}

/** `cleanText`, on one line: every newline becomes a space. For names, tickets and typed commands. */
export function cleanLine(s: string): string {
  return cleanText(s).replace(/\n/g, ' ');
}
