/**
 * On-call directories (PagerDuty, Opsgenie): who is on call now, and an incident's state. Implementations talk to
 * the vendors' REST APIs (PAGERDUTY_API_URL / OPSGENIE_API_URL point them elsewhere), follow pagination, honour
 * 429 Retry-After and retry 5xx a bounded number of times, and cache answers for a short TTL. A failure throws an
 * OnCallError naming the source; the resolver reports it as "unavailable" and the other sources still apply.
 */

export interface OnCallPerson {
  email: string;
  name?: string;
}

export class OnCallError extends Error {
  override readonly name = 'OnCallError';
  constructor(
    /** "PagerDuty schedule PABC123" */
    readonly source: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(`${source}: ${message}`, options);
  }
}

export interface PagerDutyIncident {
  id: string;
  status: 'triggered' | 'acknowledged' | 'resolved';
  title: string;
  /** The incident's page for people (html_url). */
  url: string;
}

export interface PagerDutyDirectory {
  /** People on call now for a schedule. */
  scheduleOnCall(scheduleId: string): Promise<OnCallPerson[]>;
  /** People on call now at one level (1 = first) of an escalation policy. */
  escalationPolicyOnCall(policyId: string, level: number): Promise<OnCallPerson[]>;
  incident(incidentId: string): Promise<PagerDutyIncident>;
}

export interface OpsgenieDirectory {
  scheduleOnCall(scheduleIdOrName: string): Promise<OnCallPerson[]>;
}
