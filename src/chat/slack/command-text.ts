/**
 * What Slack sends as a slash command's text, made plain before anything parses, stores or shows it. Slack
 * escapes `&`, `<` and `>` as `&amp;`, `&lt;` and `&gt;` whatever the command's `should_escape` says; with
 * `should_escape: true` (our manifest) it also sends what the person picked from the autocomplete as its escaped
 * form: a person `<@U0123ABC|alice>` (or `<@U0123ABC>`), a channel `<#C0123ABC|general>`, a link
 * `<https://example.com/x|label>` or `<https://example.com/x>` (an email `<mailto:a@example.com|a@example.com>`),
 * a special mention `<!here>`, `<!channel>`, `<!everyone>`, a user group `<!subteam^S0123|@dbas>`, a date
 * `<!date^1392734382^{date}|fallback>`.
 *
 * Decoded in one pass, so what a decoded part contains is never read again (`&amp;lt;` becomes `&lt;`, as typed):
 * - a person becomes `<@U0123ABC>`: the one form the grammar reads as a person (`… for <@U…>`); the label is
 *   only the name shown when it was picked (`readableMentions` puts it back into a reason);
 * - a channel becomes `#general` (`#C0123ABC` without a label); a link its URL (an email its address), so a
 *   ticket link reads as one; a special mention `@here` / `@channel` / `@everyone`, a user group its label
 *   (`@dbas`), anything else of that kind its label or `@name`;
 * - `&amp;`, `&lt;` and `&gt;` (also inside a label or URL) the characters they stand for.
 * A person typed out as text (`&lt;@U…&gt;`) decodes to the same `<@U…>`: it names that account as picking it
 * would, and who it is is then checked with Slack (SlackPeople.person), not taken from the text.
 */
const ESCAPE = /<([^<>]*)>|&(amp|lt|gt);/g;
const ENTITY = /&(amp|lt|gt);/g;
const CHAR: Record<string, string> = { amp: '&', lt: '<', gt: '>' };
const SPECIAL = new Set(['here', 'channel', 'everyone']);

const entities = (s: string): string => s.replace(ENTITY, (_, name: string) => CHAR[name]!);

/** One `<…>` escape, as plain text (see above). */
function plainEscape(inner: string): string {
  const bar = inner.indexOf('|');
  const target = bar < 0 ? inner : inner.slice(0, bar);
  const label = bar < 0 ? undefined : entities(inner.slice(bar + 1));
  switch (target[0]) {
    case '@':
      return `<@${target.slice(1)}>`;
    case '#':
      return `#${label || target.slice(1)}`;
    case '!': {
      const name = target.slice(1).split('^')[0]!;
      if (SPECIAL.has(name)) return `@${name}`;
      return label || `@${name}`;
    }
  }
  const url = entities(target);
  if (url.startsWith('mailto:')) return label || url.slice('mailto:'.length);
  return url;
}

export function decodeCommandText(text: string): string {
  return text.replace(ESCAPE, (_, inner: string | undefined, entity: string | undefined) =>
    inner !== undefined ? plainEscape(inner) : CHAR[entity!]!,
  );
}

/**
 * `text` (a reason, decoded) with each `<@U…>` put back as the name it was picked by in `raw` (the command text as
 * Slack sent it): `@alice`; `@U0123ABC` when Slack sent no name.
 */
export function readableMentions(text: string, raw: string): string {
  const names = new Map<string, string>();
  for (const m of raw.matchAll(/<@([^<>|]+)\|([^<>]*)>/g)) if (m[2]) names.set(m[1]!, entities(m[2]));
  return text.replace(/<@([^<>\s]+)>/g, (_, id: string) => `@${names.get(id) ?? id}`);
}
