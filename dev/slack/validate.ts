/**
 * What the double checks of a request: argument helpers, the error a method answers with, and the message and view
 * validation that turns Slack's documented limits into `msg_too_long`, `invalid_blocks`, `invalid_arguments`…
 */
import type { SlackLimits } from './constants.js';
import type { SlackBlock } from './types.js';

export type Json = Record<string, unknown>;
export type ApiResult = Json & { ok: boolean; error?: string };

/** Thrown by a method to answer `{ ok: false, error: code, response_metadata: { messages } }`. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    readonly messages: string[] = [],
    readonly extra: Json = {},
  ) {
    super(code);
  }
}

/** Object arguments the WebClient sends as JSON strings inside a form body. */
export const JSON_ARGS = ['blocks', 'attachments', 'view', 'metadata'];

export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
export const str = (v: unknown): string | undefined =>
  typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
export const clone = <T>(v: T): T => structuredClone(v);

export function textOf(obj: unknown): string | undefined {
  return isObject(obj) ? str(obj.text) : undefined;
}

/** Monotonic Slack timestamps: "<seconds>.<6 digits>", strictly increasing. */
export function makeTsFactory(): () => string {
  let last = 0;
  return () => {
    let micros = Date.now() * 1000;
    if (micros <= last) micros = last + 1;
    last = micros;
    return `${Math.floor(micros / 1_000_000)}.${String(micros % 1_000_000).padStart(6, '0')}`;
  };
}

// ----- validation -----------------------------------------------------------------------------------------------

function tooLong(ptr: string, max: number): string {
  return `[ERROR] must be less than ${max + 1} characters [json-pointer:${ptr}]`;
}
function tooMany(ptr: string, max: number): string {
  return `[ERROR] must be less than ${max + 1} items [json-pointer:${ptr}]`;
}

function checkText(out: string[], obj: unknown, ptr: string, max: number): void {
  const t = textOf(obj);
  if (t !== undefined && t.length > max) out.push(tooLong(`${ptr}/text`, max));
}

function validateElement(el: unknown, ptr: string, L: SlackLimits, out: string[]): void {
  if (!isObject(el) || typeof el.type !== 'string') {
    out.push(`[ERROR] missing required field: type [json-pointer:${ptr}]`);
    return;
  }
  const actionId = str(el.action_id);
  if (actionId !== undefined && actionId.length > L.actionIdChars)
    out.push(tooLong(`${ptr}/action_id`, L.actionIdChars));
  if (el.type === 'button') {
    checkText(out, el.text, `${ptr}/text`, L.buttonTextChars);
    const value = str(el.value);
    if (value !== undefined && value.length > L.buttonValueChars) out.push(tooLong(`${ptr}/value`, L.buttonValueChars));
    const url = str(el.url);
    if (url !== undefined && url.length > L.buttonUrlChars) out.push(tooLong(`${ptr}/url`, L.buttonUrlChars));
  }
  for (const key of ['options', 'option_groups'] as const) {
    const list = el[key];
    if (Array.isArray(list) && list.length > L.selectOptions) out.push(tooMany(`${ptr}/${key}`, L.selectOptions));
  }
}

function validateBlocks(blocks: unknown[], ptr: string, L: SlackLimits, out: string[]): void {
  blocks.forEach((b, i) => {
    const bp = `${ptr}/${i}`;
    if (!isObject(b) || typeof b.type !== 'string') {
      out.push(`[ERROR] missing required field: type [json-pointer:${bp}]`);
      return;
    }
    const blockId = str(b.block_id);
    if (blockId !== undefined && blockId.length > L.blockIdChars) out.push(tooLong(`${bp}/block_id`, L.blockIdChars));
    switch (b.type) {
      case 'section': {
        checkText(out, b.text, `${bp}/text`, L.sectionTextChars);
        if (Array.isArray(b.fields)) {
          if (b.fields.length > L.sectionFields) out.push(tooMany(`${bp}/fields`, L.sectionFields));
          b.fields.forEach((f, j) => checkText(out, f, `${bp}/fields/${j}`, L.sectionFieldChars));
        }
        if (b.accessory !== undefined) validateElement(b.accessory, `${bp}/accessory`, L, out);
        break;
      }
      case 'header':
        checkText(out, b.text, `${bp}/text`, L.headerTextChars);
        break;
      case 'actions':
        if (Array.isArray(b.elements)) {
          if (b.elements.length > L.actionsElements) out.push(tooMany(`${bp}/elements`, L.actionsElements));
          b.elements.forEach((e, j) => validateElement(e, `${bp}/elements/${j}`, L, out));
        }
        break;
      case 'context':
        if (Array.isArray(b.elements) && b.elements.length > L.contextElements) {
          out.push(tooMany(`${bp}/elements`, L.contextElements));
        }
        break;
      case 'input':
        if (b.element !== undefined) validateElement(b.element, `${bp}/element`, L, out);
        break;
      default:
        break;
    }
  });
}

export interface MessageContent {
  text: string;
  blocks?: SlackBlock[];
  attachments?: Json[];
}

/** Validate a message body (chat.* / response_url); `partial` = chat.update (omitted fields are kept). */
export function validateMessage(args: Json, L: SlackLimits, opts: { requireContent: boolean }): MessageContent {
  const text = args.text === undefined || args.text === null ? '' : String(args.text);
  if (text.length > L.messageTextChars) throw new ApiError('msg_too_long');
  let blocks: SlackBlock[] | undefined;
  if (args.blocks !== undefined && args.blocks !== null && args.blocks !== '') {
    if (!Array.isArray(args.blocks))
      throw new ApiError('invalid_blocks_format', ['[ERROR] blocks must be a JSON array']);
    const issues: string[] = [];
    if (args.blocks.length > L.messageBlocks) issues.push(tooMany('/blocks', L.messageBlocks));
    validateBlocks(args.blocks, '/blocks', L, issues);
    if (issues.length > 0) throw new ApiError('invalid_blocks', issues);
    blocks = args.blocks as SlackBlock[];
  }
  let attachments: Json[] | undefined;
  if (args.attachments !== undefined && args.attachments !== null && args.attachments !== '') {
    if (!Array.isArray(args.attachments)) throw new ApiError('invalid_attachments');
    if (args.attachments.length > L.attachments) throw new ApiError('too_many_attachments');
    const issues: string[] = [];
    args.attachments.forEach((a, i) => {
      if (isObject(a) && Array.isArray(a.blocks)) validateBlocks(a.blocks, `/attachments/${i}/blocks`, L, issues);
    });
    if (issues.length > 0) throw new ApiError('invalid_blocks', issues);
    attachments = args.attachments as Json[];
  }
  if (
    opts.requireContent &&
    text === '' &&
    (blocks === undefined || blocks.length === 0) &&
    attachments === undefined
  ) {
    throw new ApiError('no_text');
  }
  return { text, ...(blocks && { blocks }), ...(attachments && { attachments }) };
}

export function validateView(raw: unknown, L: SlackLimits): Json {
  if (typeof raw === 'string')
    throw new ApiError('invalid_arguments', ['[ERROR] view must be a JSON object [json-pointer:/view]']);
  if (!isObject(raw)) throw new ApiError('invalid_arguments', ['[ERROR] missing required field: view']);
  if (Buffer.byteLength(JSON.stringify(raw)) > L.viewBytes) throw new ApiError('view_too_large');
  const issues: string[] = [];
  if (raw.type !== 'modal' && raw.type !== 'home')
    issues.push('[ERROR] failed to match all allowed schemas [json-pointer:/view/type]');
  if (raw.type === 'modal' && raw.title === undefined)
    issues.push('[ERROR] missing required field: title [json-pointer:/view]');
  for (const key of ['title', 'submit', 'close'] as const) {
    checkText(issues, raw[key], `/view/${key}`, L.viewTitleChars);
  }
  const meta = str(raw.private_metadata);
  if (meta !== undefined && meta.length > L.privateMetadataChars)
    issues.push(tooLong('/view/private_metadata', L.privateMetadataChars));
  const cb = str(raw.callback_id);
  if (cb !== undefined && cb.length > L.callbackIdChars) issues.push(tooLong('/view/callback_id', L.callbackIdChars));
  const ext = str(raw.external_id);
  if (ext !== undefined && ext.length > L.externalIdChars) issues.push(tooLong('/view/external_id', L.externalIdChars));
  if (!Array.isArray(raw.blocks)) {
    issues.push('[ERROR] missing required field: blocks [json-pointer:/view]');
  } else {
    if (raw.blocks.length > L.viewBlocks) issues.push(tooMany('/view/blocks', L.viewBlocks));
    validateBlocks(raw.blocks, '/view/blocks', L, issues);
  }
  if (issues.length > 0) throw new ApiError('invalid_arguments', issues);
  return raw;
}
