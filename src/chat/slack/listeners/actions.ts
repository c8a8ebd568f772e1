/**
 * Buttons. Every handler acks first, then re-checks who clicked against the state DB and the approver sources
 * (a button's value is only an id, never trusted). A refusal is an ephemeral sentence to the clicker and changes
 * nothing; success is visible through the messages the notifier updates.
 */
import type { App, BlockButtonAction, SlackActionMiddlewareArgs, AllMiddlewareArgs } from '@slack/bolt';
import { BrokerError } from '../../../core/errors.js';
import { revealCredentials, revokeAsUser } from '../../../core/lifecycle.js';
import { approve, mayDecide, reviewBreakGlass } from '../../../core/requests.js';
import { loadRequestView } from '../../../core/view.js';
import { credentialsModal } from '../blocks/credentials.js';
import { denyModal } from '../blocks/deny-modal.js';
import { errorText } from '../blocks/ephemeral.js';
import { extendModal } from '../blocks/extend-modal.js';
import { BREAK_GLASS_REVIEWED, APPROVE, DENY, DONE, EXTEND_OPEN, HOME_APPROVE, HOME_DENY, HOME_REQUEST, HOME_REVEAL, HOME_REVOKE, REVEAL, REVOKE } from '../ids.js';
import { homeView } from '../blocks/home.js';
import { requestModal } from '../blocks/request-modal.js';
import type { SlackContext } from './context.js';

type ButtonArgs = SlackActionMiddlewareArgs<BlockButtonAction> & AllMiddlewareArgs;

/** Tells the clicker, and only the clicker, what happened (in the channel, the DM, or — from App Home — a DM). */
async function tell(args: ButtonArgs, text: string): Promise<void> {
  const { body, client, respond } = args;
  if (body.channel?.id && body.message) {
    await client.chat.postEphemeral({ channel: body.channel.id, user: body.user.id, text }).catch(() => respond({ response_type: 'ephemeral', replace_original: false, text }));
    return;
  }
  await client.chat.postMessage({ channel: body.user.id, text });
}

/** After acting from the App Home tab, show its new state. */
async function refreshHome(ctx: SlackContext, args: ButtonArgs): Promise<void> {
  if (!args.body.view || args.body.view.type !== 'home') return;
  const actor = await ctx.people.actor(args.body.user.id, args.body.user.name);
  const [mine, toApprove] = await Promise.all([ctx.viewsOf(actor), ctx.approvableBy(actor)]);
  await args.client.views.publish({ user_id: args.body.user.id, view: homeView({ userId: args.body.user.id, mine, toApprove, now: ctx.core.clock.now() }) });
}

function idOf(args: ButtonArgs): number | undefined {
  const n = Number(args.action.value);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

export function registerActions(app: App, ctx: SlackContext): void {
  const on = (actionIds: string[], handle: (args: ButtonArgs, id: number) => Promise<void>, needsId = true) => {
    for (const actionId of actionIds) app.action<BlockButtonAction>(actionId, async (args) => {
      await args.ack();
      const id = idOf(args);
      if (id === undefined && needsId) return;
      try {
        await handle(args, id ?? 0);
        await refreshHome(ctx, args).catch(() => undefined);
      } catch (err) {
        if (err instanceof BrokerError) return tell(args, errorText(err));
        ctx.logger.error({ actionId, id, err: err instanceof Error ? err.message : String(err) }, 'slack action failed');
        await tell(args, 'Something went wrong on our side; nothing was changed.').catch(() => undefined);
      }
    });
  };

  on([APPROVE, HOME_APPROVE], async (args, requestId) => {
    await approve(ctx.core, requestId, await ctx.people.actor(args.body.user.id, args.body.user.name));
  });

  on([DENY, HOME_DENY], async (args, requestId) => {
    // Check before asking for a reason: a non-approver gets the explanation, not a modal.
    await mayDecide(ctx.core, requestId, await ctx.people.actor(args.body.user.id, args.body.user.name));
    await args.client.views.open({ trigger_id: args.body.trigger_id, view: denyModal(requestId) });
  });

  const revokeNow = async (args: ButtonArgs, grantId: number) => {
    const res = await revokeAsUser(ctx.core, grantId, await ctx.people.actor(args.body.user.id, args.body.user.name));
    if (!res.receipt) await tell(args, `Grant #${grantId} had already ended.`);
  };
  on([REVOKE, DONE, HOME_REVOKE], revokeNow);

  on([REVEAL, HOME_REVEAL], async (args, grantId) => {
    const actor = await ctx.people.actor(args.body.user.id, args.body.user.name);
    const credentials = await revealCredentials(ctx.core, grantId, actor);
    const grant = await ctx.core.store.getGrant(grantId);
    const view = await loadRequestView(ctx.core, grant!.requestId);
    await args.client.views.open({ trigger_id: args.body.trigger_id, view: credentialsModal(view, credentials) });
  });

  on([BREAK_GLASS_REVIEWED], async (args, requestId) => {
    await reviewBreakGlass(ctx.core, requestId, await ctx.people.actor(args.body.user.id, args.body.user.name));
    const view = await loadRequestView(ctx.core, requestId);
    await ctx.notifier?.breakGlassReviewed(view);
  });

  on([EXTEND_OPEN], async (args, grantId) => {
    await args.client.views.open({ trigger_id: args.body.trigger_id, view: extendModal(grantId) });
  });

  on(
    [HOME_REQUEST],
    async (args) => {
      await args.client.views.open({ trigger_id: args.body.trigger_id, view: requestModal(ctx.core.catalog, { channelId: '' }) });
    },
    false,
  );
}
