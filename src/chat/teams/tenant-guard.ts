/**
 * Only our own organisation, on Teams. An activity is run only when it comes from this installation's tenant:
 * TEAMS_TENANT_ID when set; otherwise the tenant that first installed the app (an `installationUpdate` add, or a
 * `conversationUpdate` adding the bot), pinned in the state DB — the first writer wins, atomically, and the pin never
 * moves. Before anything is pinned only an installation is accepted.
 *
 * A refused activity is answered with an explanation (a reply to a message or a personal install, the invoke
 * response of a click or a dialog), audited (`access.refused`, code FORBIDDEN) and nothing else happens: it never
 * reaches the bot, so not even its conversation address is stored.
 */
import type { TurnContext } from 'botbuilder';
import type { CoreDeps } from '../../core/deps.js';
import type { Actor } from '../../core/model.js';
import type { Logger } from '../../core/ports.js';
import { recordRefusal } from '../../core/refusals.js';
import type { TeamsConversations } from './conversations.js';

/** The tenant ids an activity states (Teams puts it in both places; a mismatch states two). */
export function tenantsOf(activity: TurnContext['activity']): string[] {
  const stated = [
    activity.conversation?.tenantId,
    (activity.channelData as { tenant?: { id?: unknown } } | undefined)?.tenant?.id,
  ];
  return [...new Set(stated.filter((t): t is string => typeof t === 'string' && t !== ''))];
}

/** The app being added: for a person or a team (installationUpdate), or the bot joining a conversation. */
function isInstall(activity: TurnContext['activity']): boolean {
  if (activity.type === 'installationUpdate')
    return typeof activity.action === 'string' && activity.action.startsWith('add');
  if (activity.type === 'conversationUpdate')
    return (activity.membersAdded ?? []).some((m) => m.id === activity.recipient?.id);
  return false;
}

/** What the refused person was doing, for the audit row. */
function actionOf(activity: TurnContext['activity']): string {
  if (activity.type === 'message') return 'command';
  if (activity.type === 'invoke')
    return activity.name === 'adaptiveCard/action' ? 'click' : activity.name === 'task/fetch' ? 'dialog' : 'invoke';
  if (activity.type === 'installationUpdate' || activity.type === 'conversationUpdate') return 'install';
  return activity.type;
}

export class TenantGuard {
  /** Once known, the tenant never changes: configured, or pinned for good. */
  private ours: string | undefined;

  constructor(
    private readonly configured: string | undefined,
    private readonly conversations: TeamsConversations,
    private readonly core: Pick<CoreDeps, 'store' | 'clock' | 'logger'>,
    private readonly logger: Logger,
  ) {
    this.ours = configured;
  }

  /** Runs `next` for an activity of our tenant; refuses anything else. */
  async run(ctx: TurnContext, next: () => Promise<void>): Promise<void> {
    const stated = tenantsOf(ctx.activity);
    const theirs = stated.length === 1 ? stated[0] : undefined;
    this.ours ??= await this.conversations.pinnedTenant();
    if (this.ours === undefined && theirs !== undefined && isInstall(ctx.activity)) {
      this.ours = await this.conversations.pinTenant(theirs);
      if (this.ours === theirs)
        this.logger.info({ tenantId: theirs }, 'teams: serving this tenant from now on (the first to install the app)');
    }
    if (theirs !== undefined && theirs === this.ours) {
      await next();
      return;
    }
    await this.refuse(ctx, stated);
  }

  private async refuse(ctx: TurnContext, stated: string[]): Promise<void> {
    const activity = ctx.activity;
    const from = activity.from ?? { id: 'unknown' };
    const actor: Actor = { platform: 'teams', id: from.aadObjectId ?? from.id, ...(from.name && { name: from.name }) };
    const who = stated.length ? `tenant ${stated.join(' / ')}` : 'an activity stating no tenant';
    const reason = this.ours
      ? `${who} is not this installation's tenant (${this.ours})`
      : `${who}: no tenant installed the app yet and TEAMS_TENANT_ID is unset`;
    this.logger.warn(
      { tenants: stated, activityType: activity.type, name: activity.name },
      'teams: refused an activity from another organisation',
    );
    await recordRefusal(this.core, actor, { action: actionOf(activity) }, 'FORBIDDEN', reason);
    const text = this.ours
      ? 'db-access here serves only the organisation it is installed for, and yours is not it, so nothing was done.'
      : 'db-access is not set up for any organisation yet: an administrator must install the app (or set TEAMS_TENANT_ID) first. Nothing was done.';
    const answer = async () => {
      if (activity.type === 'invoke') {
        const value =
          activity.name === 'adaptiveCard/action'
            ? {
                status: 200,
                body: { statusCode: 200, type: 'application/vnd.microsoft.activity.message', value: text },
              }
            : activity.name === 'task/fetch' || activity.name === 'task/submit'
              ? { status: 200, body: { task: { type: 'message', value: text } } }
              : { status: 403, body: { error: text } };
        await ctx.sendActivity({ type: 'invokeResponse', value });
        return;
      }
      const personalInstall =
        activity.type === 'installationUpdate' && activity.conversation?.conversationType === 'personal';
      if (activity.type === 'message' || personalInstall) await ctx.sendActivity(text);
    };
    await answer().catch((err: unknown) => {
      this.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'teams: could not explain a refusal');
    });
  }
}
