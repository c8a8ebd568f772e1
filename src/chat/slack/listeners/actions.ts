/**
 * Buttons. Every handler acks first, then re-checks who clicked against the state DB and the approver sources
 * (a button's value is only an id, never trusted: read with core/ids.ts, decimal only, so "0x2", "02" or "2.0" is
 * refused by name and never acts on request 2). A refusal is an ephemeral sentence to the clicker and changes
 * nothing; success is visible through the messages the notifier updates.
 */
import type { App, BlockButtonAction, SlackActionMiddlewareArgs, AllMiddlewareArgs } from '@slack/bolt';
import { BrokerError } from '../../../core/errors.js';
import { requireGrantId, requireRequestId } from '../../../core/ids.js';
import type { GrantId, RequestId } from '../../../core/model.js';
import { revealCredentials } from '../../../core/lifecycle.js';
import { mayDecide } from '../../../core/deciding.js';
import { loadRequestView } from '../../../core/view.js';
import { credentialsModal } from '../blocks/credentials.js';
import { denyModal } from '../blocks/deny-modal.js';
import { errorText } from '../blocks/ephemeral.js';
import { extendModal } from '../blocks/extend-modal.js';
import {
  BREAK_GLASS_REVIEWED,
  APPROVE,
  DENY,
  DONE,
  EXTEND_OPEN,
  HOME_APPROVE,
  HOME_DENY,
  HOME_REQUEST,
  HOME_REVEAL,
  HOME_REVOKE,
  REVEAL,
  REVOKE,
} from '../ids.js';
import { homeView } from '../blocks/home.js';
import { OOPS } from './inbox-edge.js';
import { openRequestModal } from './request-modal-open.js';
import type { SlackContext } from './context.js';
import type { InboxPayloads } from '../../../core/inbox.js';
import { processSlackAction, recordSlackAction } from './inboxed.js';

type ButtonArgs = SlackActionMiddlewareArgs<BlockButtonAction> & AllMiddlewareArgs;

/** Tells the clicker, and only the clicker, what happened (in the channel, the DM, or — from App Home — a DM). */
async function tell(args: ButtonArgs, text: string): Promise<void> {
  const { body, client, respond } = args;
  if (body.channel?.id && body.message) {
    await client.chat
      .postEphemeral({ channel: body.channel.id, user: body.user.id, text })
      .catch(() => respond({ response_type: 'ephemeral', replace_original: false, text }));
    return;
  }
  await client.chat.postMessage({ channel: body.user.id, text });
}

/** After acting from the App Home tab, show its new state. */
async function refreshHome(ctx: SlackContext, args: ButtonArgs): Promise<void> {
  if (!args.body.view || args.body.view.type !== 'home') return;
  const actor = await ctx.people.actor(args.body.user.id, args.body.user.name);
  const [mine, toApprove] = await Promise.all([ctx.viewsOf(actor), ctx.approvableBy(actor)]);
  await args.client.views.publish({
    user_id: args.body.user.id,
    view: homeView({ userId: args.body.user.id, mine, toApprove, now: ctx.core.clock.now() }),
  });
}

export function registerActions(app: App, ctx: SlackContext): void {
  /** `readId`: what the button's value names (requireRequestId, requireGrantId; noId for a button that carries
   *  none). A malformed value is refused with its explanation before `handle` runs. */
  const on = <I>(
    actionIds: string[],
    readId: (value: unknown) => I,
    handle: (args: ButtonArgs, id: I) => Promise<void>,
  ) => {
    for (const actionId of actionIds)
      app.action<BlockButtonAction>(actionId, async (args) => {
        await args.ack();
        let id: I | undefined;
        try {
          id = readId(args.action.value);
          await handle(args, id);
          await refreshHome(ctx, args).catch(() => undefined);
        } catch (err) {
          if (err instanceof BrokerError) return tell(args, errorText(err));
          ctx.logger.error(
            { actionId, id, err: err instanceof Error ? err.message : String(err) },
            'slack action failed',
          );
          await tell(args, OOPS).catch(() => undefined);
        }
      });
  };
  const noId = (): undefined => undefined;
  const actor = (args: ButtonArgs) => ctx.people.actor(args.body.user.id, args.body.user.name);

  /** A state-changing button: its id is read (a malformed one is refused at once, nothing recorded), then the click
   *  is recorded → acked → processed → answered. */
  const inboxed = (actionIds: string[], kind: 'approve' | 'revoke' | 'review') => {
    for (const actionId of actionIds)
      app.action<BlockButtonAction>(actionId, async (args) => {
        let ids: { requestId: RequestId } | { grantId: GrantId };
        try {
          ids =
            kind === 'revoke'
              ? { grantId: requireGrantId(args.action.value) }
              : { requestId: requireRequestId(args.action.value) };
        } catch (err) {
          await args.ack();
          return tell(args, err instanceof BrokerError ? errorText(err) : OOPS);
        }
        const { body } = args;
        const channelId = body.channel?.id && body.message ? body.channel.id : undefined;
        const action = await recordSlackAction<typeof kind>(ctx, {
          kind,
          userId: body.user.id,
          ...(body.user.name && { userName: body.user.name }),
          ...ids,
          payload: ids as InboxPayloads[typeof kind],
          reply: {
            source: 'button',
            ...(channelId && { channelId }),
            ...(body.response_url && { responseUrl: body.response_url }),
          },
          context: args.context,
          triggerId: body.trigger_id,
        });
        await args.ack();
        if (!action) return;
        await processSlackAction(ctx, args.client, action);
        await refreshHome(ctx, args).catch(() => undefined);
      });
  };

  inboxed([APPROVE, HOME_APPROVE], 'approve');
  inboxed([REVOKE, DONE, HOME_REVOKE], 'revoke');
  inboxed([BREAK_GLASS_REVIEWED], 'review');

  on([DENY, HOME_DENY], requireRequestId, async (args, requestId) => {
    // Check before asking for a reason: a non-approver gets the explanation, not a modal.
    await mayDecide(ctx.core, requestId, await actor(args));
    await args.client.views.open({ trigger_id: args.body.trigger_id, view: denyModal(requestId) });
  });

  on([REVEAL, HOME_REVEAL], requireGrantId, async (args, grantId) => {
    const { credentials, grant } = await revealCredentials(ctx.core, grantId, await actor(args));
    const view = await loadRequestView(ctx.core, grant.requestId);
    await args.client.views.open({ trigger_id: args.body.trigger_id, view: credentialsModal(view, credentials) });
  });

  on([EXTEND_OPEN], requireGrantId, async (args, grantId) => {
    await args.client.views.open({ trigger_id: args.body.trigger_id, view: extendModal(grantId) });
  });

  on([HOME_REQUEST], noId, async (args) => {
    await openRequestModal(ctx, args.client, args.body.trigger_id, args.body.user.id, { channelId: '' });
  });
}
