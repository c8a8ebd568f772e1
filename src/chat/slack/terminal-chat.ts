/**
 * Terminal sign-in on Slack: who an email or `slack:U…` is, and the DM with their code. The org rule of chat applies
 * here too: only a person of the installing team / Grid organisation or of SLACK_ALLOWED_TEAMS, not deleted, not a
 * bot, can be named; anyone else is "nobody".
 */
import type { WebClient } from '@slack/web-api';
import type { Actor } from '../../core/model.js';
import type { LoginCodeMessage, TerminalChat } from '../../core/terminal-login.js';
import { terminalCodeDm } from './blocks/terminal-code.js';
import { platformError, type SlackPeople } from './people.js';

const SLACK_ID = /^slack:([UW][A-Z0-9]{2,20})$/;
const EMAIL = /^[^\s@<>:]{1,64}@[^\s@<>]{1,190}$/;

export class SlackTerminalChat implements TerminalChat {
  private allowed: Promise<ReadonlySet<string>> | undefined;

  constructor(
    private readonly client: WebClient,
    private readonly people: SlackPeople,
    private readonly allowedTeams: readonly string[] = [],
  ) {}

  /** SLACK_ALLOWED_TEAMS plus the installing team and organisation (auth.test), as the org guard allows. */
  private teams(): Promise<ReadonlySet<string>> {
    this.allowed ??= this.client.auth.test().then(
      (self) =>
        new Set([
          ...this.allowedTeams,
          ...[self.team_id, self.enterprise_id].filter((t): t is string => typeof t === 'string' && t !== ''),
        ]),
      (err: unknown) => {
        this.allowed = undefined; // asked again next time
        throw err;
      },
    );
    return this.allowed;
  }

  async resolve(as: string): Promise<Actor | undefined> {
    const byId = SLACK_ID.exec(as);
    const id = byId ? byId[1]! : EMAIL.test(as) ? (await this.people.lookupByEmail(as))?.id : undefined;
    if (!id) return undefined;
    let user;
    try {
      user = (await this.client.users.info({ user: id })).user;
    } catch (err) {
      if (platformError(err) === 'user_not_found') return undefined;
      throw err;
    }
    const own = [user?.team_id, user?.enterprise_user?.enterprise_id].filter((t): t is string => !!t);
    const allowed = await this.teams();
    if (!user?.id || user.deleted || user.is_bot || !own.some((t) => allowed.has(t))) return undefined;
    return this.people.actor(user.id);
  }

  async sendCode(person: Actor, message: LoginCodeMessage): Promise<boolean> {
    if (person.platform !== 'slack') return false;
    // Posting to a user id lands in the app's DM with them.
    await this.client.chat.postMessage({ channel: person.id, ...terminalCodeDm(message) });
    return true;
  }
}
