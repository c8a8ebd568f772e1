/**
 * The demo's Teams journey: people act through Activities POSTed to the broker's real /api/messages (local
 * anonymous mode: TEAMS_ANONYMOUS=true on a loopback HOST), Teams' side is the local Bot Connector double — the
 * TEAMS_SERVICE_URL the bot sends to — and every card a person would see is printed.
 */
import {
  actionActivity,
  cardOf,
  cardText,
  dialogFetchActivity,
  messageActivity,
  postActivity,
  type Where,
} from '../teams/activities.js';
import { teamsUser, type PostedActivity, type TeamsConnectorDouble } from '../teams/connector-double.js';
import type { App } from '../../src/app.js';
import { openSession } from './session.js';
import { utc } from '../../src/cli/format.js';
import type { RequestId } from '../../src/core/model.js';

export const TEAMS_CHANNEL = '19:db-approvals@thread.tacv2';
export const TEAMS_PEOPLE = {
  alice: teamsUser(1, 'alice', { id: '29:alice' }),
  bob: teamsUser(2, 'bob', { id: '29:bob' }),
  mallory: teamsUser(5, 'mallory', { id: '29:mallory' }),
};

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s: string) => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[0m` : s);
const say = (s = '') => console.log(s);
const indent = (text: string) =>
  text
    .split('\n')
    .map((l) => `    │ ${l}`)
    .join('\n');

export function seedTeams(teams: TeamsConnectorDouble): void {
  for (const p of Object.values(TEAMS_PEOPLE)) {
    teams.addUser(p);
    teams.install(p.aadObjectId);
  }
}

export async function teamsScenario(
  app: App,
  teams: TeamsConnectorDouble,
  baseUrl: string,
  database: string,
  duration: string,
): Promise<void> {
  const { alice, bob, mallory } = TEAMS_PEOPLE;
  const where = (conversation: string, replyToId?: string): Where => ({
    serviceUrl: teams.url,
    tenantId: teams.tenantId,
    conversation,
    ...(replyToId && { replyToId }),
  });
  const show = (label: string, card: unknown, note = '') => {
    say(`${bold(label)}${note ? dim(`  ${note}`) : ''}`);
    say(indent(cardText(card)));
  };
  const latest = (m: PostedActivity) => cardOf(teams.message(m.id)!.activity);
  const chat = `a:chat-${alice.aadObjectId}`;

  say();
  say(bold(`━━ Microsoft Teams: ${database} ━━`));
  const text = `db-access ${database} read ${duration} INC-4211 checking stuck orders`;
  say(`${bold('chat with db-access')}  alice: ${text}`);
  await postActivity(baseUrl, messageActivity(alice, where('personal'), text));
  const card = await teams.waitUntil(() => teams.messagesIn(TEAMS_CHANNEL).find((m) => !m.replyToId), {
    timeoutMs: 15_000,
    what: 'the approval card',
  });
  const answer = await teams.waitUntil(() => teams.messagesIn(chat).at(-1), { timeoutMs: 15_000, what: 'the answer' });
  show('chat with db-access', cardOf(answer.activity));
  show('#db-approvals', cardOf(card.activity));
  const requestId = (cardOf(card.activity) as { actions: Array<{ data: { requestId: RequestId } }> }).actions[0]!.data
    .requestId;

  say(dim('mallory clicks Approve'));
  const refused = await postActivity(
    baseUrl,
    actionActivity(mallory, where(TEAMS_CHANNEL, card.id), 'approve', { requestId }),
  );
  say(`${bold('only mallory sees')}\n${indent(String((refused.body as { value: unknown }).value))}`);
  say(dim('bob clicks Approve'));
  await postActivity(baseUrl, actionActivity(bob, where(TEAMS_CHANNEL, card.id), 'approve', { requestId }));
  await teams.waitUntil(() => /Active until/.test(cardText(latest(card))), { timeoutMs: 20_000, what: 'Active' });
  show('#db-approvals', latest(card), '(the same card, replaced in place)');
  const dm = await teams.waitUntil(
    () => teams.messagesIn(chat).find((m) => /is active until/.test(cardText(cardOf(m.activity)))),
    { timeoutMs: 15_000, what: 'the 1:1 message' },
  );
  show('chat with db-access', cardOf(dm.activity));

  const grant = (await app.deps.store.getGrantByRequest(requestId))!;
  say(
    dim('alice clicks Show credentials (a dialog: the password is rotated and shown once, never posted in the chat)'),
  );
  const fetched = await postActivity(
    baseUrl,
    dialogFetchActivity(alice, where('personal'), { kind: 'reveal', grantId: grant.id }),
  );
  const dialog = (fetched.body as { task: { value: { card: { content: unknown } } } }).task.value.card.content;
  show('dialog for alice', dialog);
  const password = /Password: ([A-Za-z0-9]{32})/.exec(cardText(dialog))![1]!;
  const db = app.deps.catalog.databases.get(database)!;
  const login = {
    engine: db.engine,
    host: db.host,
    port: db.port,
    database: db.database,
    username: grant.username,
    password,
  };
  const session = await openSession(login);
  say(`${bold('$')} mysql … -e "SELECT item, status FROM orders WHERE status = 'stuck'"`);
  say(await session.query("SELECT item, status FROM orders WHERE status = 'stuck'"));

  say(dim(`… waiting for expiry at ${utc(grant.expiresAt)}`));
  await teams.waitUntil(
    () =>
      /Expired/.test(cardText(latest(card))) && teams.messagesIn(TEAMS_CHANNEL).some((m) => m.replyToId === card.id),
    { timeoutMs: 60_000, what: 'Expired' },
  );
  show('#db-approvals', latest(card), '(updated at expiry)');
  show(
    '#db-approvals thread',
    cardOf(
      teams
        .messagesIn(TEAMS_CHANNEL)
        .filter((m) => m.replyToId === card.id)
        .at(-1)!.activity,
    ),
  );
  say(
    `the open session: ${await Promise.race([session.ended, new Promise<string>((r) => setTimeout(() => r('STILL OPEN (this would be a bug)'), 5_000))])}`,
  );
  await session.close();
  say(
    await openSession(login).then(
      async (s) => {
        await s.close();
        return 'LOGGED IN (this would be a bug)';
      },
      (err: Error) => `login refused: ${err.message}`,
    ),
  );
  const leaks = teams.calls.filter((c) => JSON.stringify(c.body ?? {}).includes(password)).length;
  say(dim(`Bot Connector calls that carried the password: ${leaks || 'none'} (of ${teams.calls.length} calls)`));
}
