/**
 * Activities shaped as Teams sends them to a bot (message, Universal Action invoke, dialog fetch, installation),
 * posted to the bot's /api/messages without a token (local anonymous mode, TEAMS_ANONYMOUS=true: the bot then sends
 * to TEAMS_SERVICE_URL whatever `serviceUrl` an activity names); and `cardText`, what a person reads
 * on a card (markdown escapes undone, dates shown in UTC, mentions by name).
 */
import { randomUUID } from 'node:crypto';
import type { TeamsUser } from './connector-double.js';

export interface Where {
  serviceUrl: string;
  tenantId: string;
  /** 'personal' (1:1 chat with the bot) or a channel id `19:…@thread.tacv2`. */
  conversation: 'personal' | string;
  /** The card's message id, for actions clicked on a message. */
  replyToId?: string;
}

export const BOT = { id: '28:db-access-bot', name: 'db-access' };

function base(user: TeamsUser, where: Where): Record<string, unknown> {
  const personal = where.conversation === 'personal';
  const conversationId = personal
    ? `a:chat-${user.aadObjectId}`
    : where.replyToId
      ? `${where.conversation};messageid=${where.replyToId}`
      : where.conversation;
  return {
    id: randomUUID(),
    timestamp: new Date().toISOString(),
    channelId: 'msteams',
    serviceUrl: where.serviceUrl,
    from: { id: user.id, name: user.name, aadObjectId: user.aadObjectId },
    recipient: BOT,
    conversation: personal
      ? { id: conversationId, conversationType: 'personal', tenantId: where.tenantId }
      : { id: conversationId, conversationType: 'channel', isGroup: true, tenantId: where.tenantId },
    channelData: {
      tenant: { id: where.tenantId },
      ...(!personal && { channel: { id: where.conversation }, team: { id: `${where.conversation}-team` } }),
    },
    ...(where.replyToId && { replyToId: where.replyToId }),
  };
}

/**
 * A typed message; in a channel it starts with the bot's mention, as Teams sends it. `mentions`: people picked from
 * the @-mention list, each written `<at>name</at>` in `text`; each gets its `mention` entity (their `29:` id and
 * name), as Teams adds it.
 */
export function messageActivity(
  user: TeamsUser,
  where: Where,
  text: string,
  mentions: readonly TeamsUser[] = [],
): Record<string, unknown> {
  const personal = where.conversation === 'personal';
  const mention = `<at>${BOT.name}</at>`;
  const people = mentions.map((m) => ({
    type: 'mention',
    text: `<at>${m.name}</at>`,
    mentioned: { id: m.id, name: m.name },
  }));
  const entities = [...(personal ? [] : [{ type: 'mention', text: mention, mentioned: BOT }]), ...people];
  return {
    ...base(user, where),
    type: 'message',
    text: personal ? text : `${mention} ${text}`,
    textFormat: 'plain',
    ...(entities.length > 0 && { entities }),
  };
}

/**
 * A click on an Action.Execute button: `data` is the button's data merged with the card's inputs. Teams echoes the
 * action's own fields; our buttons have no `id`, so none is sent.
 */
export function actionActivity(
  user: TeamsUser,
  where: Where,
  verb: string,
  data: Record<string, unknown>,
): Record<string, unknown> {
  return {
    ...base(user, where),
    type: 'invoke',
    name: 'adaptiveCard/action',
    value: { action: { type: 'Action.Execute', verb, data: { verb, ...data } }, trigger: 'manual' },
  };
}

/**
 * A click on a button that opens a dialog (task/fetch): Teams drops the button's `msteams` and adds `type` to the rest
 * of its data. It names the card's message in a channel conversation id only: no `replyToId`.
 */
export function dialogFetchActivity(
  user: TeamsUser,
  where: Where,
  data: Record<string, unknown>,
): Record<string, unknown> {
  const { replyToId: _card, ...activity } = base(user, where);
  return {
    ...activity,
    type: 'invoke',
    name: 'task/fetch',
    value: { data: { type: 'task/fetch', ...data }, context: { theme: 'default' } },
  };
}

/** The app added for a person (personal scope) or to a team (channel). Teams names no `from.name` here. */
export function installActivity(user: TeamsUser, where: Where): Record<string, unknown> {
  return {
    ...base(user, where),
    from: { id: user.id, aadObjectId: user.aadObjectId },
    type: 'installationUpdate',
    action: 'add',
  };
}

export async function postActivity(
  botUrl: string,
  activity: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${botUrl.replace(/\/$/, '')}/api/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(activity),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body };
}

const DATE = /\{\{(DATE|TIME)\((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)(?:, ?\w+)?\)\}\}/g;

/** Markdown as a TextBlock shows it: bold marks gone, backslash escapes undone. */
const shownMarkdown = (md: string) => md.replace(/(?<!\\)\*\*/g, '').replace(/\\([\\*_[\]()#`~>|!])/g, '$1');

/**
 * What a reader sees on a card: texts (a TextBlock's markdown as shown, a RichTextBlock's runs exactly as they are),
 * facts, inputs' labels and buttons, one per line. An action's fallback is not shown: it replaces the action only
 * on clients without it.
 */
export function cardText(card: unknown): string {
  const out: string[] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (!node || typeof node !== 'object') return;
    const n = node as Record<string, unknown>;
    if (n.type === 'TextBlock' && typeof n.text === 'string') out.push(shownMarkdown(n.text));
    if (n.type === 'RichTextBlock' && Array.isArray(n.inlines)) {
      out.push(
        (n.inlines as unknown[])
          .map((r) =>
            typeof r === 'string'
              ? r
              : typeof (r as { text?: unknown }).text === 'string'
                ? (r as { text: string }).text
                : '',
          )
          .join(''),
      );
    }
    if (n.type === 'FactSet' && Array.isArray(n.facts))
      for (const f of n.facts as Array<{ title: string; value: string }>)
        out.push(shownMarkdown(`${f.title}: ${f.value}`));
    if (typeof n.label === 'string') out.push(n.label);
    if (typeof n.type === 'string' && n.type.startsWith('Action.') && typeof n.title === 'string')
      out.push(`[${n.title}]`);
    for (const k of ['body', 'actions', 'items', 'columns', 'content']) if (k in n) visit(n[k]);
  };
  visit(card);
  return out
    .join('\n')
    .replace(DATE, (_m, kind: string, iso: string) =>
      kind === 'DATE' ? iso.slice(0, 10) : `${iso.slice(11, 16)} UTC`,
    );
}

/** The Adaptive Card a message activity carries. */
export function cardOf(activity: Record<string, unknown> | undefined): unknown {
  const atts = activity?.attachments as Array<{ content?: unknown }> | undefined;
  return atts?.[0]?.content;
}
