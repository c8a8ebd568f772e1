/**
 * The demo's bundle journey on Slack: one request for a PostgreSQL and a MariaDB database, one approval, one DM
 * listing both, a login to each, both revoked at expiry with a receipt each in the approval thread.
 */
import { APPROVE, REVEAL } from '../../src/chat/slack/ids.js';
import { buttonsIn, type SlackDouble } from '../slack/double.js';
import { postSlashCommand, slashCommand } from '../slack/sign.js';
import type { App } from '../../src/app.js';
import { requireRequestId } from '../../src/core/ids.js';
import { openSession } from './session.js';
import { APPROVAL_CHANNEL, DEMO_SECRET, PEOPLE, bold, demoSlackActions, dim, say } from './slack.js';

export async function bundleScenario(
  app: App,
  slack: SlackDouble,
  baseUrl: string,
  bundle: string,
  duration: string,
): Promise<void> {
  const { alice, bob } = PEOPLE;
  const { store, catalog } = app.deps;
  const { show, click } = demoSlackActions(slack, baseUrl);

  say();
  say(bold(`━━ Slack: the bundle ${bundle} ━━`));
  const text = `${bundle} ${duration} INC-4212 comparing orders on both servers`;
  say(`${bold('#db-approvals')}  alice: /db-access ${text}`);
  const before = slack.messagesIn(APPROVAL_CHANNEL).length;
  await postSlashCommand(
    baseUrl,
    DEMO_SECRET,
    slashCommand({
      userId: alice.id,
      userName: alice.name,
      text,
      channelId: APPROVAL_CHANNEL,
      responseUrl: slack.respondUrl(undefined, { userId: alice.id, channel: APPROVAL_CHANNEL }),
    }),
  );
  const approval = await slack.waitUntil(() => slack.messagesIn(APPROVAL_CHANNEL)[before], { timeoutMs: 15_000 });
  show('#db-approvals', approval);
  const requestId = buttonsIn(approval).find((b) => b.actionId === APPROVE)!.value!;

  const dmsBefore = slack.dmOf(alice.id).length;
  say(dim('bob clicks Approve'));
  await click(bob.id, APPROVE, requestId, approval);
  const members = await store.listRequests({ partOf: requireRequestId(requestId) });
  const dm = await slack.waitUntil(
    () => {
      const m = slack.dmOf(alice.id)[dmsBefore];
      return m && buttonsIn(m).filter((b) => b.actionId === REVEAL).length === members.length ? m : undefined;
    },
    { timeoutMs: 30_000 },
  );
  show('#db-approvals', slack.messageAt(APPROVAL_CHANNEL, approval.ts), '(the same message, updated in place)');
  show('DM to alice', dm, '(one message for every member)');

  const sessions = [];
  for (const member of members) {
    const grant = (await store.getGrantByRequest(member.id))!;
    const db = catalog.databases.get(member.database)!;
    say(dim(`alice clicks Show credentials for ${member.database}`));
    const opened = slack.callsTo('views.open').length;
    await click(alice.id, REVEAL, String(grant.id), dm);
    const modal = (await slack.waitUntil(() => slack.callsTo('views.open')[opened], { timeoutMs: 10_000 })).args
      .view as Parameters<SlackDouble['renderText']>[0];
    const json = JSON.stringify(modal);
    const password = /[A-Za-z0-9]{32}/.exec(json.slice(json.indexOf('assword')))![0];
    const session = await openSession({
      engine: db.engine,
      host: db.host,
      port: db.port,
      database: db.database,
      username: grant.username,
      password,
    });
    say(`${bold('$')} ${db.engine === 'postgres' ? 'psql' : 'mysql'} … "SELECT count(*) FROM orders"`);
    say(await session.query('SELECT count(*) AS n FROM orders'));
    sessions.push({ grant, session });
  }

  say(dim('… waiting for both to expire'));
  const ended = await slack.waitUntil(
    () => {
      const m = slack.messageAt(APPROVAL_CHANNEL, approval.ts);
      const receipts = m?.replies.filter((r) => /terminated/.test(slack.renderText(r))) ?? [];
      return receipts.length === members.length ? m : undefined;
    },
    { timeoutMs: 60_000 },
  );
  show('#db-approvals', ended, '(updated as each member ended)');
  for (const r of ended!.replies) show('#db-approvals thread', r);
  show('DM to alice', slack.dmOf(alice.id)[dmsBefore], '(edited: nothing left to reveal)');
  for (const { grant, session } of sessions) {
    say(
      `${grant.database}: the session ${await Promise.race([session.ended.then(() => 'was ended'), new Promise<string>((r) => setTimeout(() => r('is STILL OPEN (this would be a bug)'), 5_000))])}`,
    );
    await session.close();
  }
}
