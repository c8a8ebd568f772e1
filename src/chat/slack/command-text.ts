/**
 * Slack sends a slash command's text with `&`, `<` and `>` escaped as `&amp;`, `&lt;` and `&gt;` — whatever the
 * manifest's `should_escape` says (that setting only controls whether mentions and channels arrive as `<@U…>`
 * links). The text is decoded, exactly those three entities and in one pass (so `&amp;lt;` becomes `&lt;`, as
 * typed), before anything parses, stores or shows it.
 */
const ENTITY = /&(amp|lt|gt);/g;
const CHAR: Record<string, string> = { amp: '&', lt: '<', gt: '>' };

export function decodeCommandText(text: string): string {
  return text.replace(ENTITY, (_, name: string) => CHAR[name]!);
}
