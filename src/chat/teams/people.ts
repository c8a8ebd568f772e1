/**
 * Who is acting on Teams: the AAD object id (immutable, the core's identity) plus the email Teams knows for them
 * (`TeamsInfo.getMember`, cached), which is what approver sources and on-call schedules are matched on. Names are
 * profile text: they are cleaned (core/text.ts, one line) before they are stored or shown.
 */
import { TeamsInfo, type TurnContext } from 'botbuilder';
import type { Actor } from '../../core/model.js';
import type { Clock, Logger } from '../../core/ports.js';
import { cleanLine } from '../../core/text.js';

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
