/**
 * The demo's Slack journey: people act through signed requests to the broker's real HTTP endpoint, Slack's side is
 * the local Web API double, and every message a person would see is printed as they would see it.
 */
import { APPROVE, REVEAL } from '../../src/chat/slack/ids.js';
import { buttonsIn, type SlackDouble, type SlackMessage } from '../slack/double.js';
import { blockActionsPayload, postInteraction, postSlashCommand, slashCommand } from '../slack/sign.js';
import type { App } from '../../src/app.js';
import { utc } from '../../src/cli/format.js';
import { openSession } from './session.js';
import { requireRequestId } from '../../src/core/ids.js';

export const DEMO_SECRET = 'demo-signing-secret-not-for-production';
export const PEOPLE = {
  alice: { id: 'U0ALICE', email: 'alice@example.com', name: 'alice' },
  bob: { id: 'U0BOB', email: 'bob@example.com', name: 'bob' },
  carol: { id: 'U0CAROL', email: 'carol@example.com', name: 'carol' },
  mallory: { id: 'U0MALLORY', email: 'mallory@example.com', name: 'mallory' },
} as const;
export const APPROVAL_CHANNEL = 'C0APPROVALS';
const INCIDENT_CHANNEL = 'C0INCIDENT';

export const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
export const dim = (s: string) => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[0m` : s);
export const say = (s = '') => console.log(s);
export const indent = (text: string) =>
  text
    .split('\n')
    .map((l) => `    │ ${l}`)
    .join('\n');

/** The demo's way to show a Slack message and to click one of its buttons (a signed interaction). */
export function demoSlackActions(slack: SlackDouble, baseUrl: string) {
  return {
    show(where: string, m: SlackMessage | undefined, note = ''): void {
      if (!m) return;
      say(`${bold(where)}${note ? dim(`  ${note}`) : ''}`);
      say(indent(slack.renderText(m)));
    },
    click: (userId: string, actionId: string, value: string, m: SlackMessage) =>
      postInteraction(
        baseUrl,
        DEMO_SECRET,
        blockActionsPayload({
          userId,
          actionId,
          value,
          channelId: m.channel,
          message: m,
          triggerId: slack.issueTriggerId({ userId }),
        }),
      ),
  };
}

export function seedSlack(slack: SlackDouble): void {
  for (const p of Object.values(PEOPLE)) slack.addUser(p);
  slack.addUsergroup('S0DBAS', [PEOPLE.carol.id]);
  const members = Object.values(PEOPLE).map((p) => p.id);
  slack.addChannel(APPROVAL_CHANNEL, { name: 'db-approvals', members });
  slack.addChannel(INCIDENT_CHANNEL, { name: 'incident-4211', members });
}

export async function slackScenario(
  app: App,
  slack: SlackDouble,
  baseUrl: string,
  database: string,
  duration: string,
): Promise<void> {
  const { alice, bob, mallory } = PEOPLE;
  const { show, click } = demoSlackActions(slack, baseUrl);

  say();
  say(bold(`━━ Slack: ${database} ━━`));
  const text = `${database} read ${duration} INC-4211 checking stuck orders`;
  say(`${bold('#incident-4211')}  alice: /db-access ${text}`);
  const responseUrl = slack.respondUrl(undefined, { userId: alice.id, channel: INCIDENT_CHANNEL });
  await postSlashCommand(
    baseUrl,
    DEMO_SECRET,
    slashCommand({ userId: alice.id, userName: alice.name, text, channelId: INCIDENT_CHANNEL, responseUrl }),
  );
  const answer = await slack.waitUntil(() => slack.ephemeralsFor(alice.id).at(-1), { timeoutMs: 15_000 });
  show('only visible to alice', answer as SlackMessage);

  const approval = await slack.waitUntil(() => slack.messagesIn(APPROVAL_CHANNEL).at(-1), { timeoutMs: 15_000 });
  show('#db-approvals', approval);
  const requestId = buttonsIn(approval).find((b) => b.actionId === APPROVE)!.value!;

  say(dim(`mallory clicks Approve`));
  await click(mallory.id, APPROVE, requestId, approval);
  show(
    'only visible to mallory',
    (await slack.waitUntil(() => slack.ephemeralsFor(mallory.id).at(-1), { timeoutMs: 10_000 })) as SlackMessage,
  );

  say(dim(`bob clicks Approve`));
  await click(bob.id, APPROVE, requestId, approval);
  const active = await slack.waitUntil(
    () => {
      const m = slack.messageAt(APPROVAL_CHANNEL, approval.ts);
      return m && /Active until/.test(slack.renderText(m)) ? m : undefined;
    },
    { timeoutMs: 20_000 },
  );
  show('#db-approvals', active, '(the same message, updated in place)');
  const dm = await slack.waitUntil(
    () => slack.dmOf(alice.id).find((m) => buttonsIn(m).some((b) => b.actionId === REVEAL)),
    { timeoutMs: 15_000 },
  );
  show('DM to alice', dm);

  say(
    dim('alice clicks Show credentials (the password is rotated and shown once, in a modal; it is never in a message)'),
  );
  const before = slack.callsTo('views.open').length;
  await click(alice.id, REVEAL, buttonsIn(dm).find((b) => b.actionId === REVEAL)!.value!, dm);
  const opened = await slack.waitUntil(() => slack.callsTo('views.open')[before], { timeoutMs: 10_000 });
  const modal = opened.args.view as Parameters<SlackDouble['renderText']>[0];
  say(bold('modal for alice'));
  say(indent(slack.renderText(modal)));

  const grant = (await app.deps.store.getGrantByRequest(requireRequestId(requestId)))!;
  const password = /[A-Za-z0-9]{32}/.exec(JSON.stringify(modal).slice(JSON.stringify(modal).indexOf('assword')))![0];
  const db = app.deps.catalog.databases.get(database)!;
  const session = await openSession({
    engine: db.engine,
    host: db.host,
    port: db.port,
    database: db.database,
    username: grant.username,
    password,
  });
  say(`${bold('$')} psql … -c "SELECT item, status FROM orders WHERE status = 'stuck'"`);
  say(await session.query("SELECT item, status FROM orders WHERE status = 'stuck'"));
  say(
    `${bold('$')} psql … -c "BEGIN; SELECT count(*) FROM orders;"   ${dim('# then left idle inside the open transaction')}`,
  );
  await session.query('BEGIN');
  say(await session.query('SELECT count(*) AS n FROM orders'));

  const reminder = await slack.waitUntil(() => slack.dmOf(alice.id).find((m) => /Extend/.test(slack.renderText(m))), {
    timeoutMs: 60_000,
  });
  show('DM to alice', reminder, '(before expiry)');

  // The catalog allows one self-extension on this database: applied at once, no approver needed.
  const extendText = `extend ${grant.id} 6s still digging`;
  say(`${bold('#incident-4211')}  alice: /db-access ${extendText}`);
  const ephemeralsBefore = slack.ephemeralsFor(alice.id).length;
  await postSlashCommand(
    baseUrl,
    DEMO_SECRET,
    slashCommand({
      userId: alice.id,
      userName: alice.name,
      text: extendText,
      channelId: INCIDENT_CHANNEL,
      responseUrl: slack.respondUrl(undefined, { userId: alice.id, channel: INCIDENT_CHANNEL }),
    }),
  );
  show(
    'only visible to alice',
    (await slack.waitUntil(() => slack.ephemeralsFor(alice.id).slice(ephemeralsBefore).at(-1), {
      timeoutMs: 15_000,
    })) as SlackMessage,
  );
  const selfExtended = await slack.waitUntil(
    () =>
      slack.messageAt(APPROVAL_CHANNEL, approval.ts)?.replies.find((r) => /without approval/.test(slack.renderText(r))),
    { timeoutMs: 15_000 },
  );
  show('#db-approvals thread', selfExtended);
  const expiresAt = (await app.deps.store.getGrant(grant.id))!.expiresAt;

  say(dim(`… waiting for expiry at ${utc(expiresAt)}`));
  const ended = await slack.waitUntil(
    () => {
      const m = slack.messageAt(APPROVAL_CHANNEL, approval.ts);
      return m && /Expired/.test(slack.renderText(m)) && m.replies.some((r) => /session/.test(slack.renderText(r)))
        ? m
        : undefined;
    },
    { timeoutMs: 60_000 },
  );
  show('#db-approvals', ended, '(updated at expiry)');
  show('#db-approvals thread', ended.replies.at(-1));
  say(
    `the idle session: ${await Promise.race([session.ended, new Promise<string>((r) => setTimeout(() => r('STILL OPEN (this would be a bug)'), 5_000))])}`,
  );
  await session.close();
  const again = await openSession({
    engine: db.engine,
    host: db.host,
    port: db.port,
    database: db.database,
    username: grant.username,
    password,
  }).then(
    async (s) => {
      await s.close();
      return 'LOGGED IN (this would be a bug)';
    },
    (err: Error) => `login refused: ${err.message}`,
  );
  say(again);
  // The DM is edited beside the channel message: wait for the edit, not just for the channel.
  const edited = await slack.waitUntil(
    () => slack.dmOf(alice.id).find((m) => m.ts === dm.ts && !buttonsIn(m).some((b) => b.actionId === REVEAL)),
    { timeoutMs: 15_000 },
  );
  show('DM to alice', edited, '(edited at expiry)');
  const leaks = slack.calls.filter((c) => JSON.stringify(c.args).includes(password)).map((c) => c.method);
  say(dim(`Slack calls that carried the password: ${leaks.join(', ') || 'none'} (of ${slack.calls.length} calls)`));
}
