/**
 * Small Block Kit constructors shared by the builders. Each one truncates to its Slack limit, so no builder can
 * emit an over-long field whatever the input. Text passed to the mrkdwn constructors must already be escaped.
 */
import type { types } from '@slack/bolt';
import * as L from '../limits.js';
import { truncate } from '../limits.js';

export type KnownBlock = types.KnownBlock;
export type Button = types.Button;
export type ModalView = types.ModalView;
export type HomeView = types.HomeView;
export type PlainTextElement = types.PlainTextElement;
export type MrkdwnElement = types.MrkdwnElement;

/**
 * What every message builder returns: `text` is the notification fallback (escaped; never pings). It spreads as is
 * into `chat.postMessage` and `chat.update` arguments (@slack/web-api), so no call site needs a cast.
 */
export interface SlackMessage {
  text: string;
  blocks: KnownBlock[];
}

export function plain(text: string, max: number = L.TEXT_OBJECT): PlainTextElement {
  return { type: 'plain_text', text: truncate(text, max) || ' ', emoji: true };
}

export function md(text: string, max: number = L.TEXT_OBJECT): MrkdwnElement {
  return { type: 'mrkdwn', text: truncate(text, max) || ' ' };
}

export function header(text: string): KnownBlock {
  return { type: 'header', text: plain(text, L.HEADER_TEXT) };
}

export function section(text: string, accessory?: Button): KnownBlock {
  return { type: 'section', text: md(text, L.SECTION_TEXT), ...(accessory && { accessory }) };
}

/** A two-column section; at most 10 fields of ≤ 2000 characters. */
export function fields(items: readonly string[]): KnownBlock {
  return { type: 'section', fields: items.slice(0, L.SECTION_FIELDS).map((t) => md(t, L.FIELD_TEXT)) };
}

export function context(...texts: string[]): KnownBlock {
  return { type: 'context', elements: texts.slice(0, L.CONTEXT_ELEMENTS).map((t) => md(t)) };
}

export function divider(): KnownBlock {
  return { type: 'divider' };
}

export function actions(buttons: readonly Button[], blockId?: string): KnownBlock {
  return {
    type: 'actions',
    elements: buttons.slice(0, L.ACTIONS_ELEMENTS),
    ...(blockId && { block_id: blockId.slice(0, L.BLOCK_ID) }),
  };
}

export interface ButtonSpec {
  text: string;
  actionId: string;
  /** An id only (request or grant), see ids.ts. */
  value?: number;
  style?: 'primary' | 'danger';
  confirm?: { title: string; text: string; confirm: string; deny?: string };
}

export function button(spec: ButtonSpec): Button {
  const b: Button = { type: 'button', text: plain(spec.text, L.BUTTON_TEXT), action_id: spec.actionId };
  if (spec.value !== undefined) b.value = String(spec.value);
  if (spec.style) b.style = spec.style;
  if (spec.confirm) {
    b.confirm = {
      title: plain(spec.confirm.title, L.CONFIRM_TITLE),
      text: md(spec.confirm.text, L.CONFIRM_TEXT),
      confirm: plain(spec.confirm.confirm, L.CONFIRM_BUTTON),
      deny: plain(spec.confirm.deny ?? 'Cancel', L.CONFIRM_BUTTON),
      ...(spec.style === 'danger' && { style: 'danger' as const }),
    };
  }
  return b;
}

/** Keeps a block list within `max` blocks, replacing the tail with a note when it had to cut. */
export function capBlocks(blocks: KnownBlock[], max: number): KnownBlock[] {
  if (blocks.length <= max) return blocks;
  return [...blocks.slice(0, max - 1), context(`…and ${blocks.length - max + 1} more blocks not shown`)];
}

export function message(text: string, blocks: KnownBlock[]): SlackMessage {
  return { text: truncate(text, L.MESSAGE_TEXT), blocks: capBlocks(blocks, L.MESSAGE_BLOCKS) };
}
