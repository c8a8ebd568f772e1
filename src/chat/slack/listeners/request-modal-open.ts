/**
 * Opening the request modal: at once (the trigger id is good for 3 s), then, when the incident source can list a
 * person's open incidents, updated with a select of them. Failing soft: a source that is down or slow, a person
 * without an email, or a modal already closed or submitted leaves the modal as it opened (the incident can still
 * be named in the ticket-free inline command). Slack keeps what was typed across the update (same block ids).
 */
import type { WebClient } from '@slack/web-api';
import { requestModal, type RequestModalOptions } from '../blocks/request-modal.js';
import type { SlackContext } from './context.js';

/** How long the modal waits for the incident source before staying as it is. */
const INCIDENTS_WITHIN_MS = 5_000;

export async function openRequestModal(
  ctx: SlackContext,
  client: WebClient,
  triggerId: string,
  userId: string,
  opts: RequestModalOptions,
): Promise<void> {
  const opened = await client.views.open({ trigger_id: triggerId, view: requestModal(ctx.core.catalog, opts) });
  const list = ctx.core.incidents?.openIncidentsOf?.bind(ctx.core.incidents);
  const viewId = opened.view?.id;
  if (!list || !viewId) return;
  try {
    const email = (await ctx.people.actor(userId)).email;
    if (!email) return;
    const { incidents } = await withDeadline(list(email), INCIDENTS_WITHIN_MS);
    if (incidents.length === 0) return;
    await client.views.update({
      view_id: viewId,
      ...(opened.view?.hash && { hash: opened.view.hash }),
      view: requestModal(ctx.core.catalog, { ...opts, incidents }),
    });
  } catch (err) {
    ctx.logger.info(
      { userId, err: err instanceof Error ? err.message : String(err) },
      'request modal: open incidents not offered',
    );
  }
}

function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
