/**
 * Who people are on Slack: users.info / users.lookupByEmail / usergroups.users.list, cached briefly. Also turns
 * a clicking user id into the core's Actor (with the email approver lists are matched on). Display names are
 * profile text anyone can set: they are cleaned (core/text.ts, one line) before they are stored or shown.
 */
import type { WebClient } from '@slack/web-api';
import { BrokerError } from '../../core/errors.js';
import type { Actor } from '../../core/model.js';
import type { Clock, PeopleDirectory } from '../../core/ports.js';
import { cleanLine } from '../../core/text.js';

interface Person {
  id: string;
  name?: string;
  email?: string;
}

/** The name Slack shows for a user, cleaned; undefined when nothing visible is left. */
function displayName(...candidates: Array<string | undefined>): string | undefined {
  for (const c of candidates) {
    const name = c === undefined ? '' : cleanLine(c).trim();
    if (name) return name;
  }
  return undefined;
}

export class SlackPeople implements PeopleDirectory {
  readonly platform = 'slack' as const;
  private readonly byId = new Map<string, { at: number; person: Person | undefined }>();
  private readonly byEmail = new Map<string, { at: number; person: Person | undefined }>();

  private organisation: Promise<ReadonlySet<string>> | undefined;

  /** `allowedTeams`: SLACK_ALLOWED_TEAMS, admitted besides the installing team and Grid organisation. */
  constructor(
    private readonly client: WebClient,
    private readonly clock: Clock,
    private readonly ttlMs = 10 * 60_000,
    private readonly allowedTeams: readonly string[] = [],
  ) {}

  /** The team and Enterprise Grid ids whose people this installation serves (`auth.test`, asked once). */
  private ownTeams(): Promise<ReadonlySet<string>> {
    this.organisation ??= this.client.auth.test().then(
      (self) =>
        new Set([
          ...this.allowedTeams,
          ...[self.team_id, self.enterprise_id].filter((t): t is string => typeof t === 'string' && t !== ''),
        ]),
      (err: unknown) => {
        this.organisation = undefined; // asked again next time
        throw err;
      },
    );
    return this.organisation;
  }

  /**
   * The person a request names as who it is for (`for <@U…>`, the form's person picker), read fresh from Slack:
   * a person (not a bot, not deactivated) of this organisation — their own team, or their Grid organisation, is
   * the installing one or in SLACK_ALLOWED_TEAMS. Anyone else is refused (FORBIDDEN), so access is never asked
   * for a Slack Connect guest from another company.
   */
  async person(userId: string): Promise<Actor> {
    if (!/^[UW][A-Z0-9]{2,20}$/.test(userId))
      throw new BrokerError('FORBIDDEN', 'access can only be asked for a Slack user');
    let user;
    try {
      user = (await this.client.users.info({ user: userId })).user;
    } catch (err) {
      if (platformError(err) !== 'user_not_found') throw err;
    }
    if (!user?.id || user.deleted)
      throw new BrokerError('FORBIDDEN', `user ${userId} is not an active Slack user here`);
    const name = displayName(user.profile?.display_name, user.profile?.real_name, user.real_name, user.name);
    const shown = name ?? `user ${userId}`;
    if (user.is_bot || user.id === 'USLACKBOT') throw new BrokerError('FORBIDDEN', `${shown} is a bot, not a person`);
    const ours = await this.ownTeams();
    const theirs = [user.team_id, user.enterprise_user?.enterprise_id, ...(user.enterprise_user?.teams ?? [])];
    if (!theirs.some((t) => t !== undefined && ours.has(t)))
      throw new BrokerError(
        'FORBIDDEN',
        `${shown} is not in this organisation (an external or Slack Connect user): access is only asked for its own people`,
      );
    const email = user.profile?.email?.toLowerCase();
    return { platform: 'slack', id: user.id, ...(email && { email }), ...(name && { name }) };
  }

  private fresh<T>(entry: { at: number; person: T } | undefined): entry is { at: number; person: T } {
    return entry !== undefined && this.clock.now() - entry.at < this.ttlMs;
  }

  async userInfo(id: string): Promise<Person | undefined> {
    const hit = this.byId.get(id);
    if (this.fresh(hit)) return hit.person;
    let person: Person | undefined;
    try {
      const res = await this.client.users.info({ user: id });
      const u = res.user;
      if (u?.id) {
        const name = displayName(u.profile?.display_name, u.profile?.real_name, u.real_name, u.name);
        person = { id: u.id, ...(name && { name }), ...(u.profile?.email && { email: u.profile.email.toLowerCase() }) };
      }
    } catch (err) {
      if (platformError(err) !== 'user_not_found') throw err;
    }
    this.byId.set(id, { at: this.clock.now(), person });
    return person;
  }

  async lookupByEmail(email: string): Promise<Person | undefined> {
    const key = email.toLowerCase();
    const hit = this.byEmail.get(key);
    if (this.fresh(hit)) return hit.person;
    let person: Person | undefined;
    try {
      const res = await this.client.users.lookupByEmail({ email: key });
      const u = res.user;
      if (u?.id) {
        const name = displayName(u.profile?.display_name, u.profile?.real_name, u.real_name, u.name);
        person = { id: u.id, email: key, ...(name && { name }) };
      }
    } catch (err) {
      if (platformError(err) !== 'users_not_found') throw err;
    }
    this.byEmail.set(key, { at: this.clock.now(), person });
    return person;
  }

  async groupMembers(groupId: string): Promise<string[]> {
    const res = await this.client.usergroups.users.list({ usergroup: groupId });
    return res.users ?? [];
  }

  /** The core's identity of a Slack user: immutable id, plus email and name when Slack tells us. */
  async actor(userId: string, fallbackName?: string): Promise<Actor> {
    const p = await this.userInfo(userId).catch(() => undefined);
    const name = p?.name ?? displayName(fallbackName);
    return { platform: 'slack', id: userId, ...(p?.email && { email: p.email }), ...(name && { name }) };
  }
}

/** The `error` of a Slack platform error (`{ ok: false, error }`), if that is what `err` is. */
export function platformError(err: unknown): string | undefined {
  const data = (err as { data?: { error?: unknown } } | undefined)?.data;
  return typeof data?.error === 'string' ? data.error : undefined;
}
