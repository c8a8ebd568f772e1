/**
 * On-call directories (PagerDuty, Opsgenie): who is on call now or at a given moment, and an incident's state.
 * Implementations talk to the vendors' REST APIs (PAGERDUTY_API_URL / OPSGENIE_API_URL point them elsewhere), follow
 * pagination, honour 429 Retry-After and retry 5xx a bounded number of times, and cache answers for a short TTL. A
 * failure throws an OnCallError naming the source; the resolver reports it as "unavailable" and the other sources
 * still apply.
 *
 * `at` (ms since the epoch) asks who was on call at that moment, to the second (Opsgenie's documented date format
 * has no fraction; PagerDuty is asked the same way); without it, who is on call when the vendor answers. An answer for one moment is never served for another: caches
 * key on the second asked for, and "now" is a key of its own.
 */

export interface OnCallPerson {
  email: string;
  name?: string;
}

export class OnCallError extends Error {
  override readonly name = 'OnCallError';
  /** The vendor answered that the thing asked about does not exist (HTTP 404), as opposed to not answering. */
  readonly notFound: boolean;
  constructor(
    /** "PagerDuty schedule PABC123" */
    readonly source: string,
    message: string,
    options?: ErrorOptions & { notFound?: boolean },
  ) {
    super(`${source}: ${message}`, options);
    this.notFound = options?.notFound ?? false;
  }
}

export interface PagerDutyIncident {
  id: string;
  status: 'triggered' | 'acknowledged' | 'resolved';
  title: string;
  /** The incident's page for people (html_url). */
  url: string;
  /** The number people call it by (PagerDuty's `incident_number`, Opsgenie's `tinyId`): what `INC-<n>` names. */
  number?: number;
  /** Lower-cased emails of its assignees and acknowledgers (read with the incident). */
  responders?: readonly string[];
  /** A Slack channel id, when the incident's conference bridge URL is a Slack channel link. */
  slackChannel?: string;
}

export interface PagerDutyDirectory {
  /** People on call for a schedule at `at` (now when omitted). */
  scheduleOnCall(scheduleId: string, at?: number): Promise<OnCallPerson[]>;
  /** People on call at one level (1 = first) of an escalation policy at `at` (now when omitted). */
  escalationPolicyOnCall(policyId: string, level: number, at?: number): Promise<OnCallPerson[]>;
  incident(incidentId: string): Promise<PagerDutyIncident>;
  /** Triggered or acknowledged incidents assigned to the user with this email (none when PagerDuty has no such
   *  user). */
  openIncidentsOf(email: string): Promise<PagerDutyIncident[]>;
}

export interface OpsgenieDirectory {
  /** People on call for a schedule at `at` (now when omitted). */
  scheduleOnCall(scheduleIdOrName: string, at?: number): Promise<OnCallPerson[]>;
  /** An alert as an incident (id `og:<alert id>`): open → triggered or acknowledged, closed → resolved; its
   *  responders are its owner, whoever acknowledged it and its user responders, by username (email). */
  alert(alertId: string): Promise<PagerDutyIncident>;
  /** Open alerts owned by the user with this username (email). */
  openAlertsOf(email: string): Promise<PagerDutyIncident[]>;
}

/** The whole second that `at` falls in, which is what the vendors are asked about (their times have no fraction). */
export function onCallSecond(at: number): number {
  return Math.floor(at / 1000) * 1000;
}

/** Cache entries older than `ttlMs` are dropped once the cache holds more than `max`: answers for past moments are
 *  keyed by moment, so without this a long-running process would keep one per recovered action for ever. */
export function forgetExpired(cache: Map<string, { at: number }>, now: number, ttlMs: number, max = 256): void {
  if (cache.size <= max) return;
  for (const [key, entry] of cache) if (now - entry.at >= ttlMs) cache.delete(key);
}
