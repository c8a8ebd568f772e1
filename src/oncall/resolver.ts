/**
 * The ApproverDirectory: turns a database's approver sources into people, caching each database's answer for a
 * short TTL (resolution happens at request time and again on every click). A failing source is reported as
 * unavailable and the others still apply.
 */
import type { DatabaseEntry } from '../core/catalog.js';
import type { ApproverRef } from '../core/model.js';
import type { ApproverDirectory, ApproverResolution, Clock } from '../core/ports.js';
import { dedupeApprovers, staticApprovers } from './static.js';

/** What the chat platform can tell us about people (Slack: users.lookupByEmail, usergroups.users.list, users.info). */
export interface PeopleDirectory {
  readonly platform: 'slack' | 'teams';
  lookupByEmail(email: string): Promise<{ id: string; name?: string; email?: string } | undefined>;
  userInfo(id: string): Promise<{ id: string; name?: string; email?: string } | undefined>;
  /** Slack user-group members; undefined when the platform has no such thing. */
  groupMembers?(groupId: string): Promise<string[]>;
}

export class ApproverResolver implements ApproverDirectory {
  private readonly cache = new Map<string, { at: number; value: ApproverResolution }>();

  constructor(
    private readonly people: PeopleDirectory | undefined,
    private readonly clock: Clock,
    private readonly ttlMs = 30_000,
  ) {}

  async resolve(db: DatabaseEntry): Promise<ApproverResolution> {
    const hit = this.cache.get(db.name);
    if (hit && this.clock.now() - hit.at < this.ttlMs) return hit.value;
    const value = await this.resolveFresh(db);
    this.cache.set(db.name, { at: this.clock.now(), value });
    return value;
  }

  private async resolveFresh(db: DatabaseEntry): Promise<ApproverResolution> {
    const found: ApproverRef[] = [];
    const unavailable: string[] = [];
    const people = this.people;
    await Promise.all(
      db.approval.approvers.map(async (source) => {
        try {
          if ('email' in source || 'slackUser' in source) {
            const [ref] = staticApprovers([source]);
            if (!ref) return;
            found.push(people ? await this.enrich(people, ref) : ref);
          } else if ('slackUsergroup' in source) {
            const label = `Slack user group ${source.slackUsergroup}`;
            if (!people?.groupMembers) {
              unavailable.push(`${label}: Slack is not configured`);
              return;
            }
            const ids = await people.groupMembers(source.slackUsergroup);
            const members = await Promise.all(ids.map((id) => people.userInfo(id).catch(() => undefined).then((u) => u ?? { id })));
            for (const m of members) found.push({ platform: 'slack', id: m.id, via: label, ...(m.email && { email: m.email.toLowerCase() }), ...(m.name && { name: m.name }) });
          } else if ('pagerduty' in source) {
            unavailable.push(`PagerDuty ${source.pagerduty.schedule ?? source.pagerduty.escalationPolicy}: on-call sources are not wired in yet`);
          } else {
            unavailable.push(`Opsgenie ${source.opsgenie.schedule}: on-call sources are not wired in yet`);
          }
        } catch (err) {
          unavailable.push(`${describeSource(source)}: ${err instanceof Error ? err.message : String(err)}`);
        }
      }),
    );
    return { approvers: dedupeApprovers(found), unavailable };
  }

  /** An email becomes a chat user when the platform knows it (so they can be mentioned and matched by id). */
  private async enrich(people: PeopleDirectory, ref: ApproverRef): Promise<ApproverRef> {
    if (ref.platform === 'email' && ref.email) {
      const u = await people.lookupByEmail(ref.email);
      return u ? { platform: people.platform, id: u.id, email: ref.email, via: ref.via, ...(u.name && { name: u.name }) } : ref;
    }
    if (ref.platform === people.platform) {
      const u = await people.userInfo(ref.id);
      return u ? { ...ref, ...(u.email && { email: u.email.toLowerCase() }), ...(u.name && { name: u.name }) } : ref;
    }
    return ref;
  }
}

function describeSource(source: DatabaseEntry['approval']['approvers'][number]): string {
  return Object.entries(source)
    .map(([k, v]) => `${k} ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
}
