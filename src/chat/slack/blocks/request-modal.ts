/**
 * The `/db-access` modal and its parser. The modal offers choices; the core validates them
 * (database/level pair, duration ≤ maximum) and the listener answers with inline errors keyed by INPUT block ids.
 */
import type { ViewStateValue } from '@slack/bolt';
import type { Catalog } from '../../../core/catalog.js';
import { formatDuration } from '../../../core/duration.js';
import { MAX_REASON_LENGTH, MAX_TICKET_LENGTH } from '../../../core/asking.js';
import { cleanText } from '../../../core/text.js';
import { INPUT, REQUEST_MODAL } from '../ids.js';
import * as L from '../limits.js';
import { plain, type KnownBlock, type ModalView } from './kit.js';

/** `view.state.values`: block id → action id → value. */
export type ModalValues = Record<string, Record<string, ViewStateValue>>;

export interface RequestModalFields {
  database?: string;
  level?: string;
  duration?: string;
  reason?: string;
  ticket?: string;
  /** An incident id chosen from the requester's open incidents. */
  incident?: string;
}

/** An open incident the requester responds to, offered in the modal. */
export interface IncidentChoice {
  id: string;
  title: string;
}

export interface RequestModalOptions {
  /** Where the command was typed: the ephemeral confirmation goes there. */
  channelId: string;
  /** Values to start from (e.g. a partly typed inline command). */
  prefill?: RequestModalFields;
  /** The requester's open incidents (from the on-call source): a select is added when there are any. */
  incidents?: readonly IncidentChoice[];
}

type Option = { text: ReturnType<typeof plain>; value: string; description?: ReturnType<typeof plain> };

function option(value: string, description?: string): Option {
  return {
    text: plain(value, L.OPTION_TEXT),
    value,
    ...(description && { description: plain(description, L.OPTION_DESCRIPTION) }),
  };
}

/** Every database, then every bundle (first 100 by name; a larger catalog needs external_select), and every level
 *  name. */
function choices(catalog: Catalog): { databases: Option[]; levels: Option[]; maxima: string; bundles: boolean } {
  const dbs = [...catalog.databases.values()].sort((a, b) => a.name.localeCompare(b.name));
  const bundles = [...(catalog.bundles?.values() ?? [])].sort((a, b) => a.name.localeCompare(b.name));
  const databases = [
    ...dbs.map((d) => option(d.name, d.description)),
    ...bundles.map((b) => option(b.name, `Bundle: ${b.members.map((m) => `${m.level} on ${m.database}`).join(', ')}`)),
  ].slice(0, L.SELECT_OPTIONS);
  const levelNames = [...new Set(dbs.flatMap((d) => [...d.levels.keys()]))].sort();
  const levels = levelNames.slice(0, L.SELECT_OPTIONS).map((l) => option(l));
  const maxima = [...dbs, ...bundles].map((d) => `${d.name} ${formatDuration(d.maxDuration)}`).join(', ');
  return { databases, levels, maxima, bundles: bundles.length > 0 };
}

export function requestModal(catalog: Catalog, opts: RequestModalOptions): ModalView {
  const { databases, levels, maxima, bundles } = choices(catalog);
  const pre = opts.prefill ?? {};
  const initial = (list: Option[], value: string | undefined) => list.find((o) => o.value === value);
  const initialDb = initial(databases, pre.database);
  const initialLevel = initial(levels, pre.level);
  const blocks: KnownBlock[] = [
    {
      type: 'input',
      block_id: INPUT.database.block,
      label: plain('Database'),
      element: {
        type: 'static_select',
        action_id: INPUT.database.action,
        placeholder: plain('Choose a database', L.PLACEHOLDER),
        options: databases,
        ...(initialDb && { initial_option: initialDb }),
      },
    },
    {
      type: 'input',
      block_id: INPUT.level.block,
      label: plain('Access level'),
      // A bundle has no level of its own (its members have theirs): the level may then be left empty.
      ...(bundles && { optional: true }),
      hint: plain(
        bundles
          ? 'Leave empty for a bundle. Not every database offers every level; you will be told which ones it has.'
          : 'Not every database offers every level; you will be told which ones it has.',
        L.INPUT_HINT,
      ),
      element: {
        type: 'static_select',
        action_id: INPUT.level.action,
        placeholder: plain('Choose a level', L.PLACEHOLDER),
        options: levels,
        ...(initialLevel && { initial_option: initialLevel }),
      },
    },
    {
      type: 'input',
      block_id: INPUT.duration.block,
      label: plain('Duration'),
      hint: plain(`Such as 30m, 1h or 1h30m. Maximum: ${maxima}`, L.INPUT_HINT),
      element: {
        type: 'plain_text_input',
        action_id: INPUT.duration.action,
        placeholder: plain('1h', L.PLACEHOLDER),
        max_length: 20,
        ...(pre.duration && { initial_value: pre.duration.slice(0, 20) }),
      },
    },
    {
      type: 'input',
      block_id: INPUT.reason.block,
      label: plain('Reason'),
      hint: plain('Shown to the approvers and kept in the audit log.', L.INPUT_HINT),
      element: {
        type: 'plain_text_input',
        action_id: INPUT.reason.action,
        multiline: true,
        max_length: MAX_REASON_LENGTH,
        placeholder: plain('What are you going to do, and why now?', L.PLACEHOLDER),
        ...(pre.reason && { initial_value: pre.reason.slice(0, MAX_REASON_LENGTH) }),
      },
    },
    {
      type: 'input',
      block_id: INPUT.ticket.block,
      optional: true,
      label: plain('Incident or ticket'),
      element: {
        type: 'plain_text_input',
        action_id: INPUT.ticket.action,
        max_length: MAX_TICKET_LENGTH,
        placeholder: plain('INC-4211', L.PLACEHOLDER),
        ...(pre.ticket && { initial_value: pre.ticket.slice(0, MAX_TICKET_LENGTH) }),
      },
    },
    forPersonInput(),
  ];
  if (opts.incidents?.length) blocks.push(incidentBlock(opts.incidents));
  return {
    type: 'modal',
    callback_id: REQUEST_MODAL,
    title: plain('Request database access', L.VIEW_TITLE),
    submit: plain('Request', L.VIEW_TITLE),
    close: plain('Cancel', L.VIEW_TITLE),
    private_metadata: JSON.stringify({ channelId: opts.channelId }).slice(0, L.PRIVATE_METADATA),
    blocks,
  };
}

/** Whom the access is for: a person picked from Slack's directory (an id, never a typed name); empty = yourself. */
function forPersonInput(): KnownBlock {
  return {
    type: 'input',
    block_id: INPUT.for.block,
    optional: true,
    label: plain('For someone else'),
    hint: plain(
      'Leave empty for yourself. They get the access and the credentials; you cannot approve it.',
      L.INPUT_HINT,
    ),
    element: {
      type: 'users_select',
      action_id: INPUT.for.action,
      placeholder: plain('Choose a person', L.PLACEHOLDER),
    },
  };
}

/** "Incident you are responding to": its id as the value, its title (the source's text, cleaned) shown. */
function incidentBlock(incidents: readonly IncidentChoice[]): KnownBlock {
  return {
    type: 'input',
    block_id: INPUT.incident.block,
    optional: true,
    label: plain('Incident you are responding to'),
    hint: plain('The access then ends when the incident resolves.', L.INPUT_HINT),
    element: {
      type: 'static_select',
      action_id: INPUT.incident.action,
      placeholder: plain('Choose one of your open incidents', L.PLACEHOLDER),
      options: incidents.slice(0, L.SELECT_OPTIONS).map((i) => ({
        text: plain(cleanText(`${i.id} · ${i.title}`).replace(/\s+/g, ' ').trim(), L.OPTION_TEXT),
        value: i.id,
      })),
    },
  };
}

/** The person picked in the form's "For someone else", if any (a Slack user id as Slack sent it; checked later). */
export function requestModalFor(values: ModalValues): string | undefined {
  const id = values[INPUT.for.block]?.[INPUT.for.action]?.selected_user;
  return typeof id === 'string' && id !== '' ? id : undefined;
}

/**
 * One input's submitted value: the selected option's value or the text, cleaned (core/text.ts: no bidi, invisible or
 * control characters; newlines kept for multi-line reasons) and trimmed; undefined when nothing is left.
 */
export function inputValue(values: ModalValues, field: Exclude<keyof typeof INPUT, 'for'>): string | undefined {
  const v = values[INPUT[field].block]?.[INPUT[field].action];
  const raw = v?.selected_option?.value ?? v?.value ?? undefined;
  const text = raw === undefined || raw === null ? undefined : cleanText(raw).trim();
  return text ? text : undefined;
}

export function parseRequestModal(values: ModalValues): RequestModalFields {
  const out: RequestModalFields = {};
  for (const field of ['database', 'level', 'duration', 'reason', 'ticket', 'incident'] as const) {
    const v = inputValue(values, field);
    if (v !== undefined) out[field] = v;
  }
  return out;
}

/** The channel the modal was opened from, from `private_metadata`; undefined when it is not ours. */
export function requestModalChannel(privateMetadata: string): string | undefined {
  try {
    const meta = JSON.parse(privateMetadata) as unknown;
    const id = (meta as { channelId?: unknown } | null)?.channelId;
    return typeof id === 'string' && /^[CGD][A-Z0-9]+$/.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}
