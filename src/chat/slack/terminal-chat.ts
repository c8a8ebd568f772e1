/** Terminal sign-in on Slack: who an email or `slack:U…` is, and the DM with their code. */
import type { WebClient } from '@slack/web-api';
import type { Actor } from '../../core/model.js';
import type { LoginCodeMessage, TerminalChat } from '../../core/terminal-login.js';
import { terminalCodeDm } from './blocks/terminal-code.js';
import type { SlackPeople } from './people.js';

const SLACK_ID = /^slack:([UW][A-Z0-9]{2,20})$/;
const EMAIL = /^[^\s@<>:]{1,64}@[^\s@<>]{1,190}$/;

export class SlackTerminalChat implements TerminalChat {
  constructor(
    private readonly client: WebClient,
    private readonly people: SlackPeople,
  ) {}

  async resolve(as: string): Promise<Actor | undefined> {
    const byId = SLACK_ID.exec(as);
    const id = byId
      ? (await this.people.userInfo(byId[1]!))?.id
      : EMAIL.test(as)
        ? (await this.people.lookupByEmail(as))?.id
        : undefined;
    return id ? this.people.actor(id) : undefined;
  }

  async sendCode(person: Actor, message: LoginCodeMessage): Promise<boolean> {
    if (person.platform !== 'slack') return false;
    // Posting to a user id lands in the app's DM with them.
    await this.client.chat.postMessage({ channel: person.id, ...terminalCodeDm(message) });
    return true;
  }
}
