/**
 * Terminal sign-in on Teams: `teams:<AAD object id>` names the person (Teams has no lookup by email without Graph).
 * They count only when Teams states their email in their 1:1 chat with the bot, as it does for everyone acting in
 * chat: a person is their email across platforms, and limits and "not your own request" depend on it. The code goes
 * to that chat as plain text (nothing in it is rendered as markdown).
 */
import type { Actor } from '../../core/model.js';
import type { LoginCodeMessage, TerminalChat } from '../../core/terminal-login.js';
import { cleanLine } from '../../core/text.js';
import type { OutgoingActivity } from './send.js';

const TEAMS_ID = /^teams:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;

export type SendToUser = (
  aadObjectId: string,
  activity: OutgoingActivity,
) => Promise<{ conversationId: string; activityId: string } | undefined>;

export type MemberOf = (aadObjectId: string) => Promise<{ email?: string; name?: string } | undefined>;

export class TeamsTerminalChat implements TerminalChat {
  constructor(
    private readonly toUser: SendToUser,
    private readonly memberOf: MemberOf,
  ) {}

  async resolve(as: string): Promise<Actor | undefined> {
    const m = TEAMS_ID.exec(as);
    if (!m) return undefined;
    const id = m[1]!.toLowerCase();
    const member = await this.memberOf(id).catch(() => undefined);
    if (!member?.email) return undefined;
    const name = member.name === undefined ? '' : cleanLine(member.name).trim();
    return { platform: 'teams', id, email: member.email, ...(name && { name }) };
  }

  async sendCode(person: Actor, m: LoginCodeMessage): Promise<boolean> {
    if (person.platform !== 'teams') return false;
    const text =
      `Someone is signing in to db-access from a terminal as you, to request ${m.level} on ${m.database} for ${m.duration}. ` +
      `Your code: ${m.code} (valid until ${new Date(m.expiresAt).toISOString().slice(11, 16)} UTC, one use). ` +
      `From address ${m.client.address} with "${m.client.userAgent}". Not you? Do not type or share this code.`;
    return (await this.toUser(person.id, { type: 'message', textFormat: 'plain', text })) !== undefined;
  }
}
