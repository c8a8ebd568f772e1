/**
 * The Slack double's state: the workspace's identity, its directory (users, user groups, channels; kept by `reset()`)
 * and what the app did to it (messages, ephemerals, views, trigger ids, response URLs; cleared by `reset()`), with the
 * operations the method families share. The server (server.ts) extends it; the methods (auth.ts, chat.ts, views.ts,
 * directory.ts, response-url.ts) act on it.
 */
import { randomBytes } from 'node:crypto';
import { renderText } from './render.js';
import { SLACK_DOUBLE_DEFAULTS, SLACK_LIMITS, type SlackLimits } from './constants.js';
import {
  dmChannelIdFor,
  type AddChannelOptions,
  type AddUserInput,
  type MessageRevision,
  type Renderable,
  type RespondUrlContext,
  type SlackBlock,
  type SlackDoubleOptions,
  type SlackEphemeral,
  type SlackMessage,
  type SlackUser,
  type SlackView,
} from './types.js';
import { ApiError, clone, makeTsFactory, str, type Json, type MessageContent } from './validate.js';

/** Web API methods of one family: parsed args (no `token`) in, the answer's fields out (`ok: true` is added). */
export type SlackMethods = Record<string, (args: Json) => Json>;

export interface ChannelRecord {
  id: string;
  name?: string;
  kind: 'channel' | 'im' | 'mpim';
  members?: Set<string>;
  botIsMember: boolean;
  archived: boolean;
  /** For IMs: the user. */
  userId?: string;
}

export interface MessageRecord {
  channel: string;
  ts: string;
  text: string;
  blocks?: SlackBlock[];
  attachments?: Json[];
  thread_ts?: string;
  parentTs?: string;
  username?: string;
  metadata?: unknown;
  edited?: { user: string; ts: string };
  deleted: boolean;
  history: MessageRevision[];
  postedVia: string;
}

export interface TriggerRecord {
  id: string;
  userId?: string;
  issuedAt: number;
  usedAt?: number;
}

export interface RespondUrlRecord extends RespondUrlContext {
  id: string;
  createdAt: number;
  uses: number;
}

export interface ViewRecord {
  view: SlackView;
}

export class SlackState {
  readonly botToken: string;
  readonly teamId: string;
  readonly enterpriseId: string | undefined;
  readonly enterpriseInstall: boolean;
  readonly teamDomain: string;
  readonly appId: string;
  readonly botId: string;
  readonly botUserId: string;
  readonly botName: string;
  readonly limits: Readonly<SlackLimits>;
  readonly tokens: Set<string>;
  /** `http://127.0.0.1:<port>`, set once the server listens (response URLs live under `/respond/`). */
  baseUrl = '';

  readonly nextTs = makeTsFactory();
  private idCounter = 0;

  // directory (kept by reset)
  readonly users = new Map<string, SlackUser>();
  readonly usergroups = new Map<string, { users: string[]; handle?: string; name?: string }>();
  readonly channels = new Map<string, ChannelRecord>();

  // state (cleared by reset)
  readonly messages = new Map<string, Map<string, MessageRecord>>();
  readonly ephemerals: SlackEphemeral[] = [];
  readonly views = new Map<string, ViewRecord>();
  /** Per user, the ids of the open modals, root first. */
  readonly modalStacks = new Map<string, string[]>();
  /** Per user, the id of the published Home tab. */
  readonly homes = new Map<string, string>();
  readonly triggers = new Map<string, TriggerRecord>();
  readonly respondUrls = new Map<string, RespondUrlRecord>();

  constructor(opts: SlackDoubleOptions) {
    const d = SLACK_DOUBLE_DEFAULTS;
    this.botToken = opts.botToken ?? d.botToken;
    this.tokens = new Set([this.botToken, ...(opts.tokens ?? [])]);
    this.teamId = opts.teamId ?? d.teamId;
    if (opts.enterpriseInstall && !opts.enterpriseId)
      throw new Error('slack double: enterpriseInstall needs enterpriseId');
    this.enterpriseId = opts.enterpriseId;
    this.enterpriseInstall = opts.enterpriseInstall ?? false;
    this.teamDomain = opts.teamDomain ?? d.teamDomain;
    this.appId = opts.appId ?? d.appId;
    this.botId = opts.botId ?? d.botId;
    this.botUserId = opts.botUserId ?? d.botUserId;
    this.botName = opts.botName ?? d.botName;
    this.limits = Object.freeze({ ...SLACK_LIMITS, ...opts.limits });
    this.addUser({ id: this.botUserId, name: this.botName, is_bot: true });
    this.addChannel(d.channelId, { name: d.channelName });
  }

  /** Forget messages, ephemerals, views, triggers and response URLs; keep users, groups and channels. */
  clearState(): void {
    this.messages.clear();
    this.ephemerals.length = 0;
    this.views.clear();
    this.modalStacks.clear();
    this.homes.clear();
    this.triggers.clear();
    this.respondUrls.clear();
  }

  // ----- directory and seeding -----

  addUser(input: AddUserInput): SlackUser {
    const realName = input.real_name ?? input.name;
    const displayName = input.display_name ?? input.name;
    const user: SlackUser = {
      id: input.id,
      team_id: input.team_id ?? this.teamId,
      name: input.name,
      real_name: realName,
      deleted: input.deleted ?? false,
      is_bot: input.is_bot ?? false,
      is_admin: input.is_admin ?? false,
      tz: input.tz ?? 'Etc/UTC',
      profile: {
        ...(input.email !== undefined && { email: input.email }),
        real_name: realName,
        real_name_normalized: realName,
        display_name: displayName,
        display_name_normalized: displayName,
      },
    };
    this.users.set(user.id, user);
    const dm = dmChannelIdFor(user.id);
    if (!user.is_bot)
      this.channels.set(dm, {
        id: dm,
        kind: 'im',
        userId: user.id,
        members: new Set([user.id]),
        botIsMember: true,
        archived: false,
      });
    return clone(user);
  }

  addUsergroup(id: string, userIds: string[], opts: { handle?: string; name?: string } = {}): void {
    this.usergroups.set(id, { users: [...userIds], ...opts });
  }

  addChannel(id: string, opts: AddChannelOptions = {}): void {
    this.channels.set(id, {
      id,
      kind: 'channel',
      ...(opts.name !== undefined && { name: opts.name.replace(/^#/, '') }),
      ...(opts.members && { members: new Set(opts.members) }),
      botIsMember: opts.botIsMember ?? true,
      archived: opts.archived ?? false,
    });
  }

  issueTriggerId(opts: { userId?: string; ageMs?: number } = {}): string {
    const id = `${Math.floor(Date.now() / 1000)}.${Math.floor(Math.random() * 1e12)}.${randomBytes(16).toString('hex')}`;
    this.registerTriggerId(id, opts);
    return id;
  }

  registerTriggerId(triggerId: string, opts: { userId?: string; ageMs?: number } = {}): void {
    this.triggers.set(triggerId, {
      id: triggerId,
      issuedAt: Date.now() - (opts.ageMs ?? 0),
      ...(opts.userId !== undefined && { userId: opts.userId }),
    });
  }

  respondUrl(id?: string, ctx: RespondUrlContext = {}): string {
    const key = id ?? this.newId('R');
    const existing = this.respondUrls.get(key);
    if (existing) Object.assign(existing, ctx);
    else this.respondUrls.set(key, { id: key, createdAt: Date.now(), uses: 0, ...ctx });
    return `${this.baseUrl}/respond/${encodeURIComponent(key)}`;
  }

  interaction(
    userId: string,
    ctx: { channelId?: string; messageTs?: string } = {},
  ): { triggerId: string; responseUrl: string } {
    return {
      triggerId: this.issueTriggerId({ userId }),
      responseUrl: this.respondUrl(undefined, {
        userId,
        channel: ctx.channelId ?? SLACK_DOUBLE_DEFAULTS.channelId,
        ...(ctx.messageTs !== undefined && { messageTs: ctx.messageTs }),
      }),
    };
  }

  dmChannelId(userId: string): string {
    return dmChannelIdFor(userId);
  }

  // ----- what the app did, as tests read it -----

  messagesIn(channel: string): SlackMessage[] {
    let id: string;
    try {
      id = this.resolveChannel(channel).id;
    } catch {
      id = channel;
    }
    return [...(this.messages.get(id)?.values() ?? [])]
      .filter((m) => !m.deleted && m.parentTs === undefined)
      .map((m) => this.toMessage(m, true));
  }

  messageAt(channel: string, ts: string): SlackMessage | undefined {
    let id: string;
    try {
      id = this.resolveChannel(channel).id;
    } catch {
      id = channel;
    }
    const m = this.messages.get(id)?.get(ts);
    return m && !m.deleted ? this.toMessage(m, m.parentTs === undefined) : undefined;
  }

  dmOf(userId: string): SlackMessage[] {
    return this.messagesIn(dmChannelIdFor(userId));
  }

  ephemeralsFor(userId: string): SlackEphemeral[] {
    return this.ephemerals.filter((e) => e.user === userId).map(clone);
  }

  viewsOpenedBy(userId: string): SlackView[] {
    return [...this.views.values()]
      .map((r) => r.view)
      .filter((v) => v.user_id === userId && v.type === 'modal')
      .map(clone);
  }

  currentModalOf(userId: string): SlackView | undefined {
    const top = this.modalStacks.get(userId)?.at(-1);
    const v = top !== undefined ? this.views.get(top)?.view : undefined;
    return v ? clone(v) : undefined;
  }

  homeOf(userId: string): SlackView | undefined {
    const id = this.homes.get(userId);
    const v = id !== undefined ? this.views.get(id)?.view : undefined;
    return v ? clone(v) : undefined;
  }

  viewById(viewId: string): SlackView | undefined {
    const v = this.views.get(viewId)?.view;
    return v ? clone(v) : undefined;
  }

  closeModals(userId: string): void {
    this.modalStacks.delete(userId);
  }

  renderText(message: Renderable): string {
    return renderText(message, {
      userName: (id) => {
        const u = this.users.get(id);
        return u ? u.profile.display_name || u.name : undefined;
      },
    });
  }

  // ----- shared by the method families -----

  resolveChannel(channel: string): ChannelRecord {
    const direct = this.channels.get(channel);
    if (direct) return direct;
    if (/^[UW]/.test(channel) && this.users.has(channel)) {
      const dm = this.channels.get(dmChannelIdFor(channel));
      if (dm) return dm;
    }
    const name = channel.replace(/^#/, '');
    for (const c of this.channels.values()) if (c.name !== undefined && c.name === name) return c;
    throw new ApiError('channel_not_found');
  }

  channelMessages(channel: string): Map<string, MessageRecord> {
    let m = this.messages.get(channel);
    if (!m) {
      m = new Map();
      this.messages.set(channel, m);
    }
    return m;
  }

  storeMessage(
    channel: string,
    content: MessageContent,
    opts: { via: string; threadTs?: string; username?: string; metadata?: unknown },
  ): MessageRecord {
    const ts = this.nextTs();
    const msgs = this.channelMessages(channel);
    const parent = opts.threadTs !== undefined ? msgs.get(opts.threadTs) : undefined;
    const rec: MessageRecord = {
      channel,
      ts,
      ...clone(content),
      deleted: false,
      history: [{ ...clone(content), by: opts.via, at: Date.now() }],
      postedVia: opts.via,
      ...(opts.threadTs !== undefined && { thread_ts: opts.threadTs }),
      ...(parent && !parent.deleted && { parentTs: parent.parentTs ?? parent.ts }),
      ...(opts.username !== undefined && { username: opts.username }),
      ...(opts.metadata !== undefined && { metadata: opts.metadata }),
    };
    msgs.set(ts, rec);
    return rec;
  }

  applyUpdate(
    rec: MessageRecord,
    content: MessageContent & { textGiven?: boolean },
    via: string,
    opts: { keepMissing: boolean },
  ): void {
    if (!opts.keepMissing || content.textGiven !== false) rec.text = content.text;
    if (content.blocks !== undefined) rec.blocks = clone(content.blocks);
    else if (!opts.keepMissing) delete rec.blocks;
    if (content.attachments !== undefined) rec.attachments = clone(content.attachments);
    else if (!opts.keepMissing) delete rec.attachments;
    rec.edited = { user: this.botUserId, ts: this.nextTs() };
    rec.history.push({
      text: rec.text,
      ...(rec.blocks && { blocks: clone(rec.blocks) }),
      ...(rec.attachments && { attachments: clone(rec.attachments) }),
      by: via,
      at: Date.now(),
    });
  }

  deleteRecord(rec: MessageRecord): void {
    rec.deleted = true;
  }

  findMessageAnywhere(ts: string): MessageRecord | undefined {
    for (const msgs of this.messages.values()) {
      const m = msgs.get(ts);
      if (m && !m.deleted) return m;
    }
    return undefined;
  }

  liveMessage(channel: string, ts: unknown): MessageRecord {
    const t = str(ts);
    if (t === undefined || t === '') throw new ApiError('message_not_found');
    const m = this.messages.get(channel)?.get(t);
    if (!m || m.deleted) throw new ApiError('message_not_found');
    return m;
  }

  toMessage(rec: MessageRecord, withReplies: boolean): SlackMessage {
    const replies = withReplies
      ? [...this.channelMessages(rec.channel).values()]
          .filter((r) => r.parentTs === rec.ts && !r.deleted)
          .map((r) => this.toMessage(r, false))
      : [];
    return clone({
      ...this.messageFields(rec),
      channel: rec.channel,
      replies,
      history: rec.history,
      postedVia: rec.postedVia,
    });
  }

  /** The wire shape of a message in chat.* responses: cloned without the history, which only grows. */
  wireMessage(rec: MessageRecord): Json {
    return clone(this.messageFields(rec)) as unknown as Json;
  }

  /** What Slack returns of a message (shared by toMessage and wireMessage; not a copy). */
  messageFields(rec: MessageRecord) {
    return {
      type: 'message' as const,
      ts: rec.ts,
      text: rec.text,
      ...(rec.blocks && { blocks: rec.blocks }),
      ...(rec.attachments && { attachments: rec.attachments }),
      ...(rec.thread_ts !== undefined && { thread_ts: rec.thread_ts }),
      user: this.botUserId,
      bot_id: this.botId,
      app_id: this.appId,
      team: this.teamId,
      ...(rec.username !== undefined && { username: rec.username }),
      ...(rec.metadata !== undefined && { metadata: rec.metadata }),
      ...(rec.edited && { edited: rec.edited }),
    };
  }

  assertCanPost(ch: ChannelRecord): void {
    if (ch.archived) throw new ApiError('is_archived');
    if (!ch.botIsMember) throw new ApiError('not_in_channel');
  }

  newId(prefix: string): string {
    this.idCounter += 1;
    return `${prefix}${this.idCounter.toString(36).toUpperCase().padStart(8, '0')}`;
  }

  newHash(): string {
    return `${Math.floor(Date.now() / 1000)}.${randomBytes(4).toString('hex')}`;
  }
}
