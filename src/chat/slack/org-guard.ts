/**
 * Only our own organisation. Commands, clicks, view submissions and events are accepted only from people of the
 * team or Enterprise Grid organisation that installed the app (`auth.test`, read at start) or of a team listed in
 * SLACK_ALLOWED_TEAMS. A Slack Connect (external) user in a shared channel is refused as a requester and as an
 * approver unless their own team is allowed. A Bolt global middleware, so HTTP and Socket Mode are both covered; it
 * runs before every listener.
 *
 * A refusal is acknowledged, explained to the person alone, audited (`access.refused`, code FORBIDDEN) and changes
 * nothing else: no listener runs, so no request, approval, grant or conversation is written.
 */
import type { AnyMiddlewareArgs, Middleware, RespondFn } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import { recordRefusal } from '../../core/refusals.js';
import type { Actor } from '../../core/model.js';
import { section, plain, type HomeView, type ModalView } from './blocks/kit.js';
import type { SlackContext } from './listeners/context.js';
import { escapeMrkdwn } from './mrkdwn.js';

type Kind = 'command' | 'click' | 'submit' | 'options' | 'shortcut' | 'event';

/** Who sent a payload, and the team / organisation ids Slack states for *them* (not for the channel). */
export interface Sender {
  kind: Kind;
  userId?: string;
  userName?: string;
  teams: string[];
}

type Body = Record<string, unknown>;
const obj = (v: unknown): Body | undefined => (v && typeof v === 'object' ? (v as Body) : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const ids = (...v: unknown[]): string[] => v.map(str).filter((s): s is string => s !== undefined);

function kindOf(body: Body): Kind | undefined {
  if (str(body.command)) return 'command';
  switch (body.type) {
    case 'block_actions':
    case 'interactive_message':
      return 'click';
    case 'view_submission':
    case 'view_closed':
      return 'submit';
    case 'block_suggestion':
    case 'dialog_suggestion':
      return 'options';
    case 'shortcut':
    case 'message_action':
      return 'shortcut';
    case 'event_callback':
      return 'event';
    default:
      return undefined;
  }
}

/**
 * The sender's own ids. Slash commands carry `team_id` / `enterprise_id` of the invoking user's workspace.
 * Interaction payloads carry `user.team_id` — the user's home team, or their Enterprise Grid organisation id — while
 * `team` and `enterprise` describe where the click happened (in a Slack Connect channel that is the host, not the
 * clicker), so they count only when `user.team_id` is absent. Events carry the user's team in `event.user_team`
 * (or `event.user.team_id`); otherwise the envelope's team, unless the event comes from a channel shared with
 * another organisation (`is_ext_shared_channel`), where the envelope says nothing about the user.
 */
export function senderOf(body: Body): Sender | undefined {
  const kind = kindOf(body);
  if (!kind) return undefined;
  if (kind === 'command')
    return { kind, ...user(str(body.user_id), str(body.user_name)), teams: ids(body.team_id, body.enterprise_id) };
  if (kind === 'event') {
    const event = obj(body.event) ?? {};
    const u = obj(event.user);
    const own = ids(event.user_team, u?.team_id);
    const teams = own.length ? own : body.is_ext_shared_channel === true ? [] : ids(body.team_id, body.enterprise_id);
    return { kind, ...user(str(event.user) ?? str(u?.id)), teams };
  }
  const u = obj(body.user);
  const team = obj(body.team);
  const own = ids(u?.team_id);
  const teams = own.length ? own : ids(team?.id, team?.enterprise_id, obj(body.enterprise)?.id);
  return { kind, ...user(str(u?.id), str(u?.name) ?? str(u?.username)), teams };
}

const user = (userId: string | undefined, userName?: string) => ({
  ...(userId && { userId }),
  ...(userName && { userName }),
});

export function refusalText(sender: Sender): string {
  const team = sender.teams[0];
  return `db-access here serves only the people of the Slack organisation it is installed in, and your team${team ? ` (${escapeMrkdwn(team)})` : ''} is not one of them, so nothing was done. An administrator can allow your team with SLACK_ALLOWED_TEAMS.`;
}

function refusalModal(text: string): ModalView {
  return { type: 'modal', title: plain('db-access', 24), close: plain('Close', 24), blocks: [section(text)] };
}

function refusalHome(text: string): HomeView {
  return { type: 'home', blocks: [section(text)] };
}

/** Tells the refused person, and only them, in the way the payload allows. */
async function explain(args: AnyMiddlewareArgs & { client: WebClient }, sender: Sender, text: string): Promise<void> {
  const body = args.body as Body;
  const { ack, respond } = args as { ack?: (r?: unknown) => Promise<void>; respond?: RespondFn };
  switch (sender.kind) {
    case 'command':
      await ack?.();
      await respond?.({ response_type: 'ephemeral', text });
      return;
    case 'click': {
      await ack?.();
      const channel = str(obj(body.channel)?.id);
      if (channel && body.message && sender.userId) {
        const ok = await args.client.chat.postEphemeral({ channel, user: sender.userId, text }).then(
          () => true,
          () => false,
        );
        if (ok) return;
      }
      if (respond && str(body.response_url))
        await respond({ response_type: 'ephemeral', replace_original: false, text });
      return;
    }
    case 'submit':
      if (body.type === 'view_submission') await ack?.({ response_action: 'update', view: refusalModal(text) });
      else await ack?.();
      return;
    case 'options':
      await ack?.({ options: [] });
      return;
    case 'shortcut':
      await ack?.();
      return;
    case 'event':
      if (obj(body.event)?.type === 'app_home_opened' && sender.userId)
        await args.client.views.publish({ user_id: sender.userId, view: refusalHome(text) });
      return;
  }
}

/** `allowed()` is read per payload: the installing team is only known once `auth.test` has answered at start. */
export function orgGuard(
  ctx: Pick<SlackContext, 'core' | 'logger'>,
  allowed: () => ReadonlySet<string>,
): Middleware<AnyMiddlewareArgs> {
  return async (args) => {
    const sender = senderOf(args.body as Body);
    const ours = allowed();
    if (!sender || sender.teams.some((t) => ours.has(t))) {
      await args.next();
      return;
    }
    const actor: Actor = {
      platform: 'slack',
      id: sender.userId ?? 'unknown',
      ...(sender.userName && { name: sender.userName }),
    };
    const reason = `Slack team ${sender.teams.join(' / ') || '(not stated)'} is not this installation's organisation (${[...ours].join(', ')}) nor in SLACK_ALLOWED_TEAMS`;
    ctx.logger.warn(
      { kind: sender.kind, userId: sender.userId, teams: sender.teams },
      'slack: refused a person from another organisation',
    );
    await recordRefusal(ctx.core, actor, { action: sender.kind }, 'FORBIDDEN', reason);
    await explain(args, sender, refusalText(sender)).catch((err: unknown) => {
      ctx.logger.warn(
        { err: err instanceof Error ? err.message : String(err), kind: sender.kind },
        'slack: could not explain a refusal',
      );
    });
  };
}
