/**
 * Who is acting on Teams: the AAD object id (immutable, the core's identity) plus the email Teams knows for them
 * (`TeamsInfo.getMember`, cached), which is what approver sources and on-call schedules are matched on. Names are
 * profile text: they are cleaned (core/text.ts, one line) before they are stored or shown.
 */
import { TeamsInfo, type TurnContext } from 'botbuilder';
import { BrokerError } from '../../core/errors.js';
import type { Actor } from '../../core/model.js';
import type { Clock, Logger } from '../../core/ports.js';
import { cleanLine } from '../../core/text.js';
import { tenantsOf } from './tenant-guard.js';

/** A profile name, cleaned; undefined when nothing visible is left. */
function cleanName(name: string | undefined): string | undefined {
  return name === undefined ? undefined : cleanLine(name).trim() || undefined;
}

interface Known {
  at: number;
  email?: string;
  name?: string;
}

export class TeamsPeople {
  private readonly byAad = new Map<string, Known>();

  constructor(
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly ttlMs = 10 * 60_000,
  ) {}

  /**
   * The person a request names as who it is for (an @mention's `29:` id), read fresh from Teams
   * (`TeamsInfo.getMember`): a person with an AAD object id — their identity here, as when they act themselves — of
   * the tenant this activity came from (the tenant guard admitted only ours). Anyone else, or anyone Teams cannot
   * tell us about, is refused (FORBIDDEN).
   */
  async person(ctx: TurnContext, id: string): Promise<Actor> {
    let member;
    try {
      member = await TeamsInfo.getMember(ctx, id);
    } catch (err) {
      this.logger.warn(
        { err: err instanceof Error ? err.message : String(err) },
        'teams: mentioned member lookup failed',
      );
      throw new BrokerError('FORBIDDEN', 'Teams could not say who the person mentioned is, so nothing was asked for');
    }
    const name = cleanName(member.name);
    const shown = name ?? 'the person mentioned';
    if (!member.aadObjectId) throw new BrokerError('FORBIDDEN', `${shown} is not a person (a bot or an app)`);
    if (!member.tenantId || !tenantsOf(ctx.activity).includes(member.tenantId))
      throw new BrokerError(
        'FORBIDDEN',
        `${shown} is not in this organisation (another tenant): access is only asked for its own people`,
      );
    const email = (member.email ?? member.userPrincipalName)?.toLowerCase();
    return { platform: 'teams', id: member.aadObjectId, ...(email && { email }), ...(name && { name }) };
  }

  async actor(ctx: TurnContext): Promise<Actor> {
    const from = ctx.activity.from;
    const id = from.aadObjectId ?? from.id;
    let known = this.byAad.get(id);
    if (!known || this.clock.now() - known.at >= this.ttlMs) {
      const fromName = cleanName(from.name);
      known = { at: this.clock.now(), ...(fromName && { name: fromName }) };
      try {
        const member = await TeamsInfo.getMember(ctx, from.id);
        const email = (member.email ?? member.userPrincipalName)?.toLowerCase();
        const name = cleanName(member.name);
        known = { ...known, ...(email && { email }), ...(name && { name }) };
      } catch (err) {
        // Without an email the person can still request; approver sources listed by email will not match them.
        this.logger.warn(
          { aadObjectId: id, err: err instanceof Error ? err.message : String(err) },
          'teams: member lookup failed',
        );
        known.at = this.clock.now() - this.ttlMs + 30_000; // asked again in 30 s, not in 10 min
      }
      this.byAad.set(id, known);
    }
    return {
      platform: 'teams',
      id,
      ...(known.email && { email: known.email }),
      ...(known.name && { name: known.name }),
    };
  }
}
