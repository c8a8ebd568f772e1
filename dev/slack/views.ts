/**
 * `views.open` / `views.push` (need a trigger id the double issued or the test registered, unused and younger than
 * `limits.triggerIdTtlMs`; at most `limits.viewStackDepth` stacked modals), `views.update` (by `view_id` or
 * `external_id`, `hash` checked) and `views.publish` (the Home tab).
 */
import type { SlackTextObject, SlackBlock, SlackView } from './types.js';
import type { SlackMethods, SlackState, TriggerRecord } from './state.js';
import { ApiError, clone, isObject, str, validateView, type Json } from './validate.js';

function exchangeTrigger(s: SlackState, triggerId: unknown): TriggerRecord {
  const id = str(triggerId);
  if (id === undefined || id === '')
    throw new ApiError('invalid_arguments', ['[ERROR] missing required field: trigger_id']);
  const t = s.triggers.get(id);
  if (!t) throw new ApiError('invalid_trigger_id');
  if (t.usedAt !== undefined) throw new ApiError('exchanged_trigger_id');
  if (Date.now() - t.issuedAt > s.limits.triggerIdTtlMs) throw new ApiError('expired_trigger_id');
  t.usedAt = Date.now();
  return t;
}

function buildView(s: SlackState, raw: Json, userId: string, via: string, existing?: SlackView): SlackView {
  const id = existing?.id ?? s.newId('V');
  const view: SlackView = {
    id,
    team_id: s.teamId,
    type: str(raw.type) ?? 'modal',
    user_id: userId,
    ...(isObject(raw.title) && { title: clone(raw.title) as unknown as SlackTextObject }),
    submit: isObject(raw.submit) ? (clone(raw.submit) as unknown as SlackTextObject) : null,
    close: isObject(raw.close) ? (clone(raw.close) as unknown as SlackTextObject) : null,
    blocks: clone(raw.blocks as SlackBlock[]),
    private_metadata: str(raw.private_metadata) ?? '',
    callback_id: str(raw.callback_id) ?? '',
    external_id: str(raw.external_id) ?? '',
    state: { values: {} },
    hash: s.newHash(),
    clear_on_close: raw.clear_on_close === true,
    notify_on_close: raw.notify_on_close === true,
    root_view_id: existing?.root_view_id ?? id,
    previous_view_id: existing?.previous_view_id ?? null,
    app_id: s.appId,
    app_installed_team_id: s.teamId,
    bot_id: s.botId,
    openedVia: existing?.openedVia ?? via,
    history: [...(existing?.history ?? []), { by: via, at: Date.now(), view: clone(raw) }],
  };
  if (view.external_id !== '') {
    for (const { view: other } of s.views.values()) {
      if (other.id !== id && other.external_id === view.external_id) throw new ApiError('duplicate_external_id');
    }
  }
  s.views.set(id, { view });
  return view;
}

function wireView(v: SlackView): Json {
  const { user_id: _u, openedVia: _o, history: _h, ...rest } = clone(v);
  return rest;
}

export function viewsMethods(s: SlackState): SlackMethods {
  return {
    'views.open': (args) => {
      const raw = validateView(args.view, s.limits);
      if (raw.type !== 'modal')
        throw new ApiError('invalid_arguments', ['[ERROR] views.open only opens modals [json-pointer:/view/type]']);
      const trigger = exchangeTrigger(s, args.trigger_id ?? args.interactivity_pointer);
      const user = trigger.userId ?? '';
      const view = buildView(s, raw, user, 'views.open');
      s.modalStacks.set(user, [view.id]);
      return { view: wireView(view) };
    },

    'views.push': (args) => {
      const raw = validateView(args.view, s.limits);
      const trigger = exchangeTrigger(s, args.trigger_id ?? args.interactivity_pointer);
      const user = trigger.userId ?? '';
      const stack = s.modalStacks.get(user) ?? [];
      if (stack.length >= s.limits.viewStackDepth) throw new ApiError('push_limit_reached');
      const top = stack.at(-1);
      const view = buildView(s, raw, user, 'views.push');
      if (top !== undefined) {
        view.root_view_id = stack[0]!;
        view.previous_view_id = top;
      }
      s.modalStacks.set(user, [...stack, view.id]);
      return { view: wireView(view) };
    },

    'views.update': (args) => {
      const raw = validateView(args.view, s.limits);
      const viewId = str(args.view_id);
      const externalId = str(args.external_id);
      if (!viewId && !externalId)
        throw new ApiError('invalid_arguments', ['[ERROR] either view_id or external_id is required']);
      const existing = [...s.views.values()]
        .map((r) => r.view)
        .find((v) => (viewId ? v.id === viewId : v.external_id === externalId));
      if (!existing) throw new ApiError('not_found');
      const hash = str(args.hash);
      if (hash !== undefined && hash !== '' && hash !== existing.hash) throw new ApiError('hash_conflict');
      const view = buildView(s, raw, existing.user_id, 'views.update', existing);
      return { view: wireView(view) };
    },

    'views.publish': (args) => {
      const raw = validateView(args.view, s.limits);
      const userId = str(args.user_id) ?? '';
      if (!s.users.has(userId)) throw new ApiError('invalid_arguments', ['invalid `user_id`']);
      if (raw.type !== 'home')
        throw new ApiError('invalid_arguments', [
          '[ERROR] views.publish only publishes home views [json-pointer:/view/type]',
        ]);
      const existingId = s.homes.get(userId);
      const existing = existingId !== undefined ? s.views.get(existingId)?.view : undefined;
      const hash = str(args.hash);
      if (existing && hash !== undefined && hash !== '' && hash !== existing.hash) throw new ApiError('hash_conflict');
      const view = buildView(s, raw, userId, 'views.publish', existing);
      s.homes.set(userId, view.id);
      return { view: wireView(view) };
    },
  };
}
