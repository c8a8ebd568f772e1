/**
 * The incidents a grant may be scoped to, from PagerDuty and Opsgenie as one IncidentDirectory. An id `og:<alert id>`
 * is an Opsgenie alert; any other id is a PagerDuty incident. A person's open incidents are both vendors' lists
 * together; one vendor failing leaves the other's list and says so (both failing throws the first failure).
 */
import type { IncidentDirectory, IncidentInfo, OpenIncidents } from '../core/ports.js';
import { OnCallError, type OpsgenieDirectory, type PagerDutyDirectory } from './sources.js';

export const OPSGENIE_PREFIX = 'og:';

export class VendorIncidents implements IncidentDirectory {
  constructor(private readonly vendors: { pagerduty?: PagerDutyDirectory; opsgenie?: OpsgenieDirectory }) {}

  incident(id: string): Promise<IncidentInfo> {
    if (id.startsWith(OPSGENIE_PREFIX)) {
      if (!this.vendors.opsgenie) return Promise.reject(unconfigured(id, 'Opsgenie', 'OPSGENIE_API_KEY'));
      return this.vendors.opsgenie.alert(id.slice(OPSGENIE_PREFIX.length));
    }
    if (!this.vendors.pagerduty) return Promise.reject(unconfigured(id, 'PagerDuty', 'PAGERDUTY_TOKEN'));
    return this.vendors.pagerduty.incident(id);
  }

  async openIncidentsOf(email: string): Promise<OpenIncidents> {
    const asks = [this.vendors.pagerduty?.openIncidentsOf(email), this.vendors.opsgenie?.openAlertsOf(email)].filter(
      (p): p is Promise<IncidentInfo[]> => p !== undefined,
    );
    const answers = await Promise.allSettled(asks);
    const ok = answers.filter((a) => a.status === 'fulfilled');
    if (ok.length === 0 && answers[0]?.status === 'rejected') throw answers[0].reason;
    return {
      incidents: ok.flatMap((a) => a.value),
      unanswered: answers.flatMap((a) =>
        a.status === 'rejected' ? [a.reason instanceof Error ? a.reason.message : String(a.reason)] : [],
      ),
    };
  }
}

/** An incident of a vendor this installation does not use: no source can have it (refused, not retried). */
function unconfigured(id: string, vendor: string, setting: string): OnCallError {
  return new OnCallError(`incident ${id}`, `${vendor} is not configured (${setting})`, { notFound: true });
}
