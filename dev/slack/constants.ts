/**
 * The Slack double's limits (Slack's documented values; see the SDK's packages/types block-kit/*.ts, views.ts and the
 * method docs; override per double with `opts.limits`) and the identity of its fake workspace and bot.
 */
/** `text` of a message. Slack recommends ≤ 4000 and truncates above 40 000; the double (like Teleport's) rejects > 4000. */
export const MAX_MESSAGE_TEXT_CHARS = 4000;
/** Blocks per message. */
export const MAX_MESSAGE_BLOCKS = 50;
/** Blocks per modal / Home tab. */
export const MAX_VIEW_BLOCKS = 100;
/** Legacy attachments per message (`too_many_attachments`). */
export const MAX_ATTACHMENTS = 100;
export const MAX_BLOCK_ID_CHARS = 255;
export const MAX_ACTION_ID_CHARS = 255;
export const MAX_BUTTON_TEXT_CHARS = 75;
export const MAX_BUTTON_VALUE_CHARS = 2000;
export const MAX_BUTTON_URL_CHARS = 3000;
export const MAX_SECTION_TEXT_CHARS = 3000;
export const MAX_SECTION_FIELDS = 10;
export const MAX_SECTION_FIELD_CHARS = 2000;
export const MAX_HEADER_TEXT_CHARS = 150;
export const MAX_ACTIONS_ELEMENTS = 25;
export const MAX_CONTEXT_ELEMENTS = 10;
export const MAX_SELECT_OPTIONS = 100;
/** Modal `title`, `submit` and `close` text. */
export const MAX_VIEW_TITLE_CHARS = 24;
export const MAX_PRIVATE_METADATA_CHARS = 3000;
export const MAX_CALLBACK_ID_CHARS = 255;
export const MAX_EXTERNAL_ID_CHARS = 255;
/** views.* reject a view whose JSON is larger than 250 kB (`view_too_large`). */
export const MAX_VIEW_BYTES = 250_000;
/** A root modal plus two pushed views. */
export const MAX_VIEW_STACK_DEPTH = 3;
/** A trigger_id must be exchanged within 3 s. */
export const TRIGGER_ID_TTL_MS = 3000;
/** response_url: at most 5 uses within 30 minutes (secondary sources; Slack's own docs are silent) [U]. */
export const RESPONSE_URL_MAX_USES = 5;
export const RESPONSE_URL_TTL_MS = 30 * 60 * 1000;

export interface SlackLimits {
  messageTextChars: number;
  messageBlocks: number;
  viewBlocks: number;
  attachments: number;
  blockIdChars: number;
  actionIdChars: number;
  buttonTextChars: number;
  buttonValueChars: number;
  buttonUrlChars: number;
  sectionTextChars: number;
  sectionFields: number;
  sectionFieldChars: number;
  headerTextChars: number;
  actionsElements: number;
  contextElements: number;
  selectOptions: number;
  viewTitleChars: number;
  privateMetadataChars: number;
  callbackIdChars: number;
  externalIdChars: number;
  viewBytes: number;
  viewStackDepth: number;
  triggerIdTtlMs: number;
  responseUrlMaxUses: number;
  responseUrlTtlMs: number;
}

export const SLACK_LIMITS: Readonly<SlackLimits> = Object.freeze({
  messageTextChars: MAX_MESSAGE_TEXT_CHARS,
  messageBlocks: MAX_MESSAGE_BLOCKS,
  viewBlocks: MAX_VIEW_BLOCKS,
  attachments: MAX_ATTACHMENTS,
  blockIdChars: MAX_BLOCK_ID_CHARS,
  actionIdChars: MAX_ACTION_ID_CHARS,
  buttonTextChars: MAX_BUTTON_TEXT_CHARS,
  buttonValueChars: MAX_BUTTON_VALUE_CHARS,
  buttonUrlChars: MAX_BUTTON_URL_CHARS,
  sectionTextChars: MAX_SECTION_TEXT_CHARS,
  sectionFields: MAX_SECTION_FIELDS,
  sectionFieldChars: MAX_SECTION_FIELD_CHARS,
  headerTextChars: MAX_HEADER_TEXT_CHARS,
  actionsElements: MAX_ACTIONS_ELEMENTS,
  contextElements: MAX_CONTEXT_ELEMENTS,
  selectOptions: MAX_SELECT_OPTIONS,
  viewTitleChars: MAX_VIEW_TITLE_CHARS,
  privateMetadataChars: MAX_PRIVATE_METADATA_CHARS,
  callbackIdChars: MAX_CALLBACK_ID_CHARS,
  externalIdChars: MAX_EXTERNAL_ID_CHARS,
  viewBytes: MAX_VIEW_BYTES,
  viewStackDepth: MAX_VIEW_STACK_DEPTH,
  triggerIdTtlMs: TRIGGER_ID_TTL_MS,
  responseUrlMaxUses: RESPONSE_URL_MAX_USES,
  responseUrlTtlMs: RESPONSE_URL_TTL_MS,
});

/** Identity of the fake workspace and bot; also used by the payload builders in sign.ts. */
export const SLACK_DOUBLE_DEFAULTS = Object.freeze({
  botToken: 'xoxb-slack-double-token',
  teamId: 'T0DBACCESS',
  teamDomain: 'db-access-test',
  teamName: 'db-access test',
  appId: 'A0DBACCESS',
  botId: 'B0DBACCESS',
  botUserId: 'U0DBBOT',
  botName: 'db-access',
  /** Seeded by every double (`#general`), and the default channel of the payload builders. */
  channelId: 'C0GENERAL',
  channelName: 'general',
});

/** Method name under which POSTs to a response_url are recorded. */
export const RESPONSE_URL_METHOD = 'response_url';
