/** HTML escaping for server-rendered pages: every piece of text that is not this code's own markup goes through it. */
import { cleanText } from '../core/text.js';

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text (or an attribute value in double quotes) made inert: cleaned (core/text.ts), then & < > " ' escaped. */
export function escapeHtml(text: string | number): string {
  return cleanText(String(text)).replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

/** JSON for a `<script type="application/json">` block: `<` escaped so no `</script>` or `<!--` can end it early. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}
