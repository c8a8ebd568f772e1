/** App Home: my access and the requests waiting for me, rebuilt each time the tab opens. */
import type { App } from '@slack/bolt';
import { homeView } from '../blocks/home.js';
import type { SlackContext } from './context.js';

export function registerEvents(app: App, ctx: SlackContext): void {
  app.event('app_home_opened', async ({ event, client }) => {
    if (event.tab && event.tab !== 'home') return;
    const actor = await ctx.people.actor(event.user);
    const [mine, toApprove] = await Promise.all([ctx.viewsOf(actor), ctx.approvableBy(actor)]);
    await client.views.publish({
      user_id: event.user,
      view: homeView({ userId: event.user, mine, toApprove, now: ctx.core.clock.now() }),
    });
  });
}
