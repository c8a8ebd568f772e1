/** What a person sees: a message, ephemeral or view flattened to plain text, and the buttons it offers. */
import type { Renderable, RenderOptions } from './types.js';
import { isObject, str, textOf } from './validate.js';

function unescapeMrkdwn(s: string, opts: RenderOptions): string {
  return s
    .replace(
      /<@([UW][A-Z0-9]+)(?:\|([^>]*))?>/g,
      (_m, id: string, label?: string) => `@${label || opts.userName?.(id) || id}`,
    )
    .replace(/<#([CGD][A-Z0-9]+)(?:\|([^>]*))?>/g, (_m, id: string, label?: string) => `#${label || id}`)
    .replace(/<!subteam\^([A-Z0-9]+)(?:\|([^>]*))?>/g, (_m, id: string, label?: string) => label || `@${id}`)
    .replace(/<!date\^[^|>]*\|([^>]*)>/g, '$1')
    .replace(/<!(here|channel|everyone)(?:\|[^>]*)?>/g, '@$1')
    .replace(/<([^<>|]+)\|([^<>]+)>/g, '$2')
    .replace(/<((?:https?|mailto):[^<>]+)>/g, '$1')
    .replace(/```\n?([\s\S]*?)\n?```/g, '$1')
    .replace(/`([^`\n]+)`/g, '$1')
    .replace(/(^|[\s(])\*([^*\n]+)\*(?=$|[\s.,;:!?)])/gm, '$1$2')
    .replace(/(^|[\s(])_([^_\n]+)_(?=$|[\s.,;:!?)])/gm, '$1$2')
    .replace(/(^|[\s(])~([^~\n]+)~(?=$|[\s.,;:!?)])/gm, '$1$2')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

function renderTextObject(obj: unknown, opts: RenderOptions): string {
  if (typeof obj === 'string') return unescapeMrkdwn(obj, opts);
  if (!isObject(obj)) return '';
  const t = str(obj.text) ?? '';
  return obj.type === 'plain_text' ? t : unescapeMrkdwn(t, opts);
}

function renderRichText(node: unknown, opts: RenderOptions): string {
  if (!isObject(node)) return '';
  switch (node.type) {
    case 'text':
      return str(node.text) ?? '';
    case 'link':
      return str(node.text) ?? str(node.url) ?? '';
    case 'user':
      return `@${opts.userName?.(str(node.user_id) ?? '') ?? str(node.user_id) ?? ''}`;
    case 'channel':
      return `#${str(node.channel_id) ?? ''}`;
    case 'emoji':
      return `:${str(node.name) ?? ''}:`;
    case 'usergroup':
      return `@${str(node.usergroup_id) ?? ''}`;
    case 'broadcast':
      return `@${str(node.range) ?? ''}`;
    default: {
      const children = Array.isArray(node.elements) ? node.elements : [];
      const sep = node.type === 'rich_text_list' ? '\n' : '';
      const prefix = node.type === 'rich_text_list' ? '• ' : '';
      return children.map((c) => prefix + renderRichText(c, opts)).join(sep);
    }
  }
}

function renderElement(el: unknown, opts: RenderOptions): string {
  if (!isObject(el)) return '';
  switch (el.type) {
    case 'button':
      return `[${renderTextObject(el.text, opts)}]`;
    case 'image':
      return `[image: ${str(el.alt_text) ?? ''}]`;
    case 'plain_text':
    case 'mrkdwn':
      return renderTextObject(el, opts);
    case 'overflow':
      return '[…]';
    case 'checkboxes':
    case 'radio_buttons': {
      const options = Array.isArray(el.options) ? el.options : [];
      return options.map((o) => `( ) ${renderTextObject(isObject(o) ? o.text : '', opts)}`).join('\n');
    }
    case 'plain_text_input':
    case 'number_input':
    case 'email_text_input':
    case 'url_text_input': {
      const shown =
        str(el.initial_value) ?? (el.placeholder !== undefined ? renderTextObject(el.placeholder, opts) : '');
      return `[${shown}]`;
    }
    default: {
      // selects, pickers
      const initial = isObject(el.initial_option) ? renderTextObject(el.initial_option.text, opts) : undefined;
      const shown =
        initial ??
        str(el.initial_user) ??
        str(el.initial_channel) ??
        str(el.initial_conversation) ??
        str(el.initial_date) ??
        (el.placeholder !== undefined ? renderTextObject(el.placeholder, opts) : (str(el.type) ?? ''));
      return `[${shown} ▾]`;
    }
  }
}

function renderBlock(b: unknown, opts: RenderOptions): string[] {
  if (!isObject(b)) return [];
  switch (b.type) {
    case 'header':
    case 'markdown':
      return [b.type === 'markdown' ? unescapeMrkdwn(str(b.text) ?? '', opts) : renderTextObject(b.text, opts)];
    case 'section': {
      const lines: string[] = [];
      if (b.text !== undefined) lines.push(renderTextObject(b.text, opts));
      if (Array.isArray(b.fields)) for (const f of b.fields) lines.push(renderTextObject(f, opts));
      if (b.accessory !== undefined) lines.push(renderElement(b.accessory, opts));
      return lines;
    }
    case 'context':
      return [(Array.isArray(b.elements) ? b.elements : []).map((e) => renderElement(e, opts)).join(' · ')];
    case 'actions':
      return [(Array.isArray(b.elements) ? b.elements : []).map((e) => renderElement(e, opts)).join(' ')];
    case 'divider':
      return ['---'];
    case 'image':
      return [`[image: ${str(b.alt_text) ?? ''}]`];
    case 'input':
      return [`${renderTextObject(b.label, opts)}: ${renderElement(b.element, opts)}`];
    case 'rich_text':
      return [renderRichText({ type: 'rich_text_section', elements: b.elements }, opts)];
    default:
      return b.text !== undefined ? [renderTextObject(b.text, opts)] : [];
  }
}

/**
 * Flatten what a person sees into plain text: a message's blocks (header, section text/fields/accessory, context
 * elements, actions as `[Button] [Other]`, inputs as `Label: [value]`, dividers as `---`) or, with no blocks, its
 * `text`; legacy attachments (pretext/title/text/fields/blocks); for a view, the title first and the submit/close
 * buttons last. mrkdwn is reduced to plain text (links → label, `<@U…>` → `@name`, `*bold*` → `bold`, entities).
 */
export function renderText(message: Renderable, opts: RenderOptions = {}): string {
  const lines: string[] = [];
  if (message.title !== undefined) lines.push(renderTextObject(message.title, opts));
  const blocks = Array.isArray(message.blocks) ? message.blocks : [];
  const text = str(message.text);
  if (text && (blocks.length === 0 || opts.includeFallbackText)) lines.push(unescapeMrkdwn(text, opts));
  for (const b of blocks) lines.push(...renderBlock(b, opts));
  if (Array.isArray(message.attachments)) {
    for (const a of message.attachments) {
      if (!isObject(a)) continue;
      for (const key of ['pretext', 'title', 'text'] as const) {
        const v = str(a[key]);
        if (v) lines.push(unescapeMrkdwn(v, opts));
      }
      if (Array.isArray(a.fields)) {
        for (const f of a.fields)
          if (isObject(f)) lines.push(`${str(f.title) ?? ''}: ${unescapeMrkdwn(str(f.value) ?? '', opts)}`);
      }
      if (Array.isArray(a.blocks)) for (const b of a.blocks) lines.push(...renderBlock(b, opts));
      const footer = str(a.footer);
      if (footer) lines.push(unescapeMrkdwn(footer, opts));
    }
  }
  const buttons = [message.submit, message.close]
    .filter((x) => isObject(x))
    .map((x) => `[${renderTextObject(x, opts)}]`);
  if (buttons.length > 0) lines.push(buttons.join(' '));
  return lines.filter((l) => l !== '').join('\n');
}

/** A button found in a message or view, with where it lives (to build a `block_actions` payload). */
export interface FoundButton {
  actionId: string;
  blockId?: string;
  value?: string;
  text: string;
  style?: string;
  url?: string;
}

/** All buttons of a message/view (actions blocks, section accessories, attachments' blocks), in order. */
export function buttonsIn(message: Renderable): FoundButton[] {
  const out: FoundButton[] = [];
  const visit = (el: unknown, blockId: string | undefined): void => {
    if (!isObject(el) || el.type !== 'button') return;
    const b: FoundButton = { actionId: str(el.action_id) ?? '', text: textOf(el.text) ?? '' };
    if (blockId !== undefined) b.blockId = blockId;
    if (str(el.value) !== undefined) b.value = str(el.value)!;
    if (str(el.style) !== undefined) b.style = str(el.style)!;
    if (str(el.url) !== undefined) b.url = str(el.url)!;
    out.push(b);
  };
  const walk = (blocks: unknown): void => {
    if (!Array.isArray(blocks)) return;
    for (const blk of blocks) {
      if (!isObject(blk)) continue;
      const id = str(blk.block_id);
      if (Array.isArray(blk.elements)) for (const e of blk.elements) visit(e, id);
      visit(blk.accessory, id);
    }
  };
  walk(message.blocks);
  if (Array.isArray(message.attachments)) for (const a of message.attachments) if (isObject(a)) walk(a.blocks);
  return out;
}
