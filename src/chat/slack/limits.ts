/**
 * Slack limits as named constants, each with where it comes from. Builders truncate to these; the unit tests
 * assert every builder stays inside them for worst-case input.
 */

/** Message `text`: Slack truncates above 40 000 (chat.update `message_truncated` warning) but recommends ≤ 4000;
 *  Teleport's fake Slack enforces 4000. https://docs.slack.dev/reference/methods/chat.postMessage */
export const MESSAGE_TEXT = 4000;
/** Blocks per message. https://docs.slack.dev/reference/block-kit/blocks */
export const MESSAGE_BLOCKS = 50;
/** Blocks per modal or Home tab. @slack/types views.ts */
export const VIEW_BLOCKS = 100;
/** All block text of one message: `msg_blocks_too_long` has been reported near 13 k characters even below the
 *  per-block limits (slackapi/bolt-js#2509). A soft budget our messages stay under. */
export const MESSAGE_BLOCKS_CHARS = 12_000;

/** Section `text`. @slack/types block-kit/blocks.ts SectionBlock */
export const SECTION_TEXT = 3000;
/** Section `fields`: at most 10 items, each ≤ 2000. @slack/types SectionBlock */
export const SECTION_FIELDS = 10;
export const FIELD_TEXT = 2000;
/** Header block text. @slack/types HeaderBlock */
export const HEADER_TEXT = 150;
/** Context block elements (each a text object, ≤ 3000 like any text object). https://docs.slack.dev/reference/block-kit/blocks/context-block */
export const CONTEXT_ELEMENTS = 10;
export const TEXT_OBJECT = 3000;
/** Elements in an actions block. https://docs.slack.dev/reference/block-kit/blocks/actions-block */
export const ACTIONS_ELEMENTS = 25;

/** Button: text 75, value 2000. @slack/types block-kit/block-elements.ts Button */
export const BUTTON_TEXT = 75;
export const BUTTON_VALUE = 2000;
/** `action_id`, `block_id` and a view's `callback_id`. @slack/types extensions.ts, views.ts */
export const ACTION_ID = 255;
export const BLOCK_ID = 255;
export const CALLBACK_ID = 255;
/** Confirmation dialog: title 100, text 300, confirm/deny 30. @slack/types composition-objects.ts Confirm */
export const CONFIRM_TITLE = 100;
export const CONFIRM_TEXT = 300;
export const CONFIRM_BUTTON = 30;

/** Modal title, submit and close texts. @slack/types views.ts */
export const VIEW_TITLE = 24;
/** `private_metadata`. @slack/types views.ts */
export const PRIVATE_METADATA = 3000;
/** Input block label and hint. @slack/types InputBlock */
export const INPUT_LABEL = 2000;
export const INPUT_HINT = 2000;
/** Placeholder text of an input element. https://docs.slack.dev/reference/block-kit/block-elements/plain-text-input-element */
export const PLACEHOLDER = 150;
/** plain_text_input `max_length` / `min_length` ceiling. @slack/types PlainTextInput, ecosystem.md §1.12 */
export const PLAIN_TEXT_INPUT_MAX = 3000;
/** static_select: ≤ 100 options; option text, description and value ≤ 75 (the SDK's stricter figure). @slack/types */
export const SELECT_OPTIONS = 100;
export const OPTION_TEXT = 75;
export const OPTION_DESCRIPTION = 75;
export const OPTION_VALUE = 75;

const ELLIPSIS = '…';
const ENTITY = /^&(?:amp|lt|gt);/;

/**
 * Shortens mrkdwn to at most `max` characters, ending with "…" when it cut. It never cuts inside an escape sequence
 * (`&amp;`, `&lt;`, `&gt;`), a Slack token (`<@U…>`, `<!date^…|…>`) or a surrogate pair: it backs up to their start.
 */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max < ELLIPSIS.length) return '';
  let cut = max - ELLIPSIS.length;
  for (;;) {
    const before = cut;
    const lt = text.lastIndexOf('<', cut - 1);
    if (lt !== -1) {
      const gt = text.indexOf('>', lt);
      if (gt === -1 || gt >= cut) cut = lt;
    }
    const amp = text.lastIndexOf('&', cut - 1);
    if (amp !== -1) {
      const entity = ENTITY.exec(text.slice(amp));
      if (entity && amp + entity[0].length > cut) cut = amp;
    }
    const code = text.charCodeAt(cut - 1);
    if (cut > 0 && code >= 0xd800 && code <= 0xdbff) cut -= 1;
    if (cut === before) break;
  }
  return text.slice(0, cut).trimEnd() + ELLIPSIS;
}
