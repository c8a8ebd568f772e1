/**
 * The ApproverDirectory: turns a database's approver sources (emails, Slack users and user groups, PagerDuty
 * schedules and escalation-policy levels, Opsgenie schedules) into people, caching each answer for a short TTL
 * (resolution happens at request time and again on every click). A failing source is reported as unavailable
 * and the others still apply. On-call people are known by email; the chat platform maps them to users.
 *
 * As of when: `at` (ms since the epoch; a chat action's receivedAt) asks the on-call sources who was on call at that
 * moment, to the second, so an action processed late (recovered after a crash, across a shift change) is judged by
 * the rota of when it was received. Without `at`, whoever is on call now. Slack user groups have no history: their
 * membership is always the current one, whatever `at` says; emails and Slack users are fixed by the catalog.
 * Answers are cached per database, tier and moment (the second asked about, or "now"): an answer about one moment
 * is never served for another.
 */
import type { ApprovalScope, ApproverSource, DatabaseEntry, OnCallRef } from '../core/catalog.js';
import type { Actor, ApproverRef } from '../core/model.js';
import type { ApproverDirectory, ApproverResolution, Clock, PeopleDirectory } from '../core/ports.js';
import {
  forgetExpired,
  OnCallError,
  onCallSecond,
  type OnCallPerson,
  type OpsgenieDirectory,
  type PagerDutyDirectory,
} from './sources.js';
import { dedupeApprovers, staticApprovers } from './static.js';

export interface OnCallDirectories {
  pagerduty?: PagerDutyDirectory;
  opsgenie?: OpsgenieDirectory;
}

export function describeSource(source: ApproverSource): string {
  if ('email' in source) return `email ${source.email}`;
  if ('slackUser' in source) return `Slack user ${source.slackUser}`;
  if ('slackUsergroup' in source) return `Slack user group ${source.slackUsergroup}`;
  if ('pagerduty' in source) {
    const p = source.pagerduty;
    return p.schedule
      ? `PagerDuty schedule ${p.schedule}`
      : `PagerDuty escalation policy ${p.escalationPolicy} level ${p.level ?? 1}`;
  }
  return `Opsgenie schedule ${source.opsgenie.schedule}`;
}

export class ApproverResolver implements ApproverDirectory {
  private readonly cache = new Map<string, { at: number; value: ApproverResolution }>();

  constructor(
    private readonly people: PeopleDirectory | undefined,
    private readonly clock: Clock,
    private readonly onCall: OnCallDirectories = {},
    private readonly ttlMs = 30_000,
  ) {}

  async resolve(db: ApprovalScope, tier = 0, asOf?: number): Promise<ApproverResolution> {
    const at = this.past(asOf);
    const parts = [
      await this.cached(`${db.name}#0${momentKey(at)}`, () =>
        this.resolveSources(db.approval.approvers, undefined, at),
      ),
    ];
    for (let t = 1; t <= Math.min(tier, db.approval.escalation.length); t++)
      parts.push(await this.resolveTier(db, t, at));
    return {
      approvers: dedupeApprovers(parts.flatMap((p) => p.approvers)),
      unavailable: parts.flatMap((p) => p.unavailable),
    };
  }

  resolveTier(db: ApprovalScope, tier: number, asOf?: number): Promise<ApproverResolution> {
    const at = this.past(asOf);
    const sources = db.approval.escalation[tier - 1]?.approvers ?? [];
    return this.cached(`${db.name}#${tier}${momentKey(at)}`, () => this.resolveSources(sources, `tier ${tier}`, at));
  }

  async isOnCall(
    db: DatabaseEntry,
    actor: Actor,
    ref: OnCallRef,
    asOf?: number,
  ): Promise<{ onCall: boolean; label: string }> {
    const at = this.past(asOf);
    const sources: ApproverSource[] =
      ref === true
        ? [db.approval.approvers, ...db.approval.escalation.map((t) => t.approvers)]
            .flat()
            .filter((s) => 'pagerduty' in s || 'opsgenie' in s)
        : [ref];
    if (sources.length === 0) return { onCall: false, label: 'no on-call source is configured' };
    const email =
      actor.email?.toLowerCase() ??
      (await this.people?.userInfo(actor.id).catch(() => undefined))?.email?.toLowerCase();
    for (const source of sources) {
      const people = await this.onCallPeople(source, at);
      if (email && people.some((p) => p.email.toLowerCase() === email))
        return { onCall: true, label: describeSource(source) };
    }
    return { onCall: false, label: sources.map(describeSource).join(' or ') };
  }

  async isInGroup(actor: Actor, groupId: string): Promise<boolean> {
    if (!this.people?.groupMembers || actor.platform !== this.people.platform) return false;
    return (await this.people.groupMembers(groupId)).includes(actor.id);
  }

  private async cached(key: string, fn: () => Promise<ApproverResolution>): Promise<ApproverResolution> {
    const hit = this.cache.get(key);
    if (hit && this.clock.now() - hit.at < this.ttlMs) return hit.value;
    const value = await fn();
    forgetExpired(this.cache, this.clock.now(), this.ttlMs);
    this.cache.set(key, { at: this.clock.now(), value });
    return value;
  }

  /** A moment within the cache's TTL of now is asked as "now": a cached "now" answer is that old at most anyway, and
   *  a click processed as it arrives then costs no vendor call of its own. Older moments (a recovered action) are
   *  asked about as such. */
  private past(at: number | undefined): number | undefined {
    return at !== undefined && this.clock.now() - at >= this.ttlMs ? at : undefined;
  }

  private async onCallPeople(source: ApproverSource, at: number | undefined): Promise<OnCallPerson[]> {
    if ('pagerduty' in source) {
      if (!this.onCall.pagerduty) throw new Error('PagerDuty is not configured (PAGERDUTY_TOKEN)');
      const p = source.pagerduty;
      return p.schedule
        ? this.onCall.pagerduty.scheduleOnCall(p.schedule, at)
        : this.onCall.pagerduty.escalationPolicyOnCall(p.escalationPolicy!, p.level ?? 1, at);
    }
    if ('opsgenie' in source) {
      if (!this.onCall.opsgenie) throw new Error('Opsgenie is not configured (OPSGENIE_API_KEY)');
      return this.onCall.opsgenie.scheduleOnCall(source.opsgenie.schedule, at);
    }
    return [];
  }

  private async resolveSources(
    sources: readonly ApproverSource[],
    tierLabel: string | undefined,
    at: number | undefined,
  ): Promise<ApproverResolution> {
    const found: ApproverRef[] = [];
    const unavailable: string[] = [];
    const people = this.people;
    const suffix = tierLabel ? ` (${tierLabel})` : '';
    await Promise.all(
      sources.map(async (source) => {
        const label = describeSource(source) + suffix;
        try {
          if ('email' in source || 'slackUser' in source) {
            const [ref] = staticApprovers([source]);
            if (ref) found.push(people ? await this.enrich(people, ref) : ref);
          } else if ('slackUsergroup' in source) {
            // Current membership whatever `at` is: Slack keeps no history of a group's members.
            if (!people?.groupMembers) {
              unavailable.push(`${label}: Slack is not configured`);
              return;
            }
            const ids = await people.groupMembers(source.slackUsergroup);
            const members = await Promise.all(
              ids.map((id) =>
                people
                  .userInfo(id)
                  .catch(() => undefined)
                  .then((u) => u ?? { id }),
              ),
            );
            for (const m of members)
              found.push({
                platform: 'slack',
                id: m.id,
                via: label,
                ...(m.email && { email: m.email.toLowerCase() }),
                ...(m.name && { name: m.name }),
              });
          } else {
            for (const p of await this.onCallPeople(source, at)) {
              const ref: ApproverRef = {
                platform: 'email',
                id: p.email.toLowerCase(),
                email: p.email.toLowerCase(),
                via: `on call: ${label}`,
                ...(p.name && { name: p.name }),
              };
              found.push(people ? await this.enrich(people, ref) : ref);
            }
          }
        } catch (err) {
          // An OnCallError already names its source; say it once.
          const msg =
            err instanceof OnCallError
              ? err.message.slice(err.source.length + 2)
              : err instanceof Error
                ? err.message
                : String(err);
          unavailable.push(`${label}: ${msg}`);
        }
      }),
    );
    return { approvers: dedupeApprovers(found), unavailable };
  }

  /** An email becomes a chat user when the platform knows it (so they can be mentioned and matched by id). */
  private async enrich(people: PeopleDirectory, ref: ApproverRef): Promise<ApproverRef> {
    if (ref.platform === 'email' && ref.email) {
      const u = await people.lookupByEmail(ref.email).catch(() => undefined);
      return u
        ? {
            platform: people.platform,
            id: u.id,
            email: ref.email,
            via: ref.via,
            ...((u.name ?? ref.name) && { name: u.name ?? ref.name }),
          }
        : ref;
    }
    if (ref.platform === people.platform) {
      const u = await people.userInfo(ref.id).catch(() => undefined);
      return u ? { ...ref, ...(u.email && { email: u.email.toLowerCase() }), ...(u.name && { name: u.name }) } : ref;
    }
    return ref;
  }
}

/** The cache key's moment: the second asked about, or now. */
function momentKey(at: number | undefined): string {
  return at === undefined ? '@now' : `@${onCallSecond(at)}`;
}
