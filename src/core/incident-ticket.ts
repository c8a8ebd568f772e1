/**
 * An incident named by its number: a request whose ticket is `INC-<n>` (any case) names the requester's open
 * incident numbered n — a PagerDuty incident whose `incident_number` is n, or an Opsgenie alert whose tiny id is n —
 * found among the open incidents the IncidentDirectory lists for them (the list the Slack form offers). Only the
 * requester's own open incidents are searched, so a number that is someone else's incident names nothing.
 *
 * Without an incident source that lists a person's incidents, `INC-<n>` is only a ticket, as any other issue key.
 */
import type { CoreDeps } from './deps.js';
import type { Actor } from './model.js';

const INCIDENT_TICKET = /^INC-(\d{1,9})$/i;

/** n of a ticket `INC-<n>` (any case); undefined for any other ticket. */
export function incidentNumberOf(ticket: string | undefined): number | undefined {
  const m = ticket === undefined ? null : INCIDENT_TICKET.exec(ticket.trim());
  return m ? Number(m[1]) : undefined;
}

/**
 * The incident `ticket` names among `requester`'s open incidents: `{ id }` when exactly one of them has its number;
 * `{ unmatched }`, saying why, when none does, several do, or the list could not be read (the request is then
 * scoped to nothing, and no `whenResponding` rule approves it); undefined when the ticket is not `INC-<n>` or no
 * source lists a person's incidents.
 */
export async function incidentOfTicket(
  deps: Pick<CoreDeps, 'incidents'>,
  ticket: string | undefined,
  requester: Actor,
): Promise<{ id: string; unmatched?: undefined } | { id?: undefined; unmatched: string } | undefined> {
  const n = incidentNumberOf(ticket);
  const list = deps.incidents?.openIncidentsOf?.bind(deps.incidents);
  if (n === undefined || !list) return undefined;
  const named = ticket!.trim();
  const email = requester.email?.trim().toLowerCase();
  if (!email)
    return { unmatched: `your email address is not known, so ${named} cannot be matched to your open incidents` };
  let open;
  try {
    open = await list(email);
  } catch (err) {
    return {
      unmatched: `${named} could not be matched to your open incidents (${err instanceof Error ? err.message : String(err)})`,
    };
  }
  const matches = open.incidents.filter((i) => i.number === n);
  // Not found while a source was down: it may be that source's, so say it could not be matched, not that it is not.
  if (matches.length === 0 && open.unanswered.length > 0)
    return { unmatched: `${named} could not be matched to your open incidents (${open.unanswered.join('; ')})` };
  if (matches.length === 0) return { unmatched: `${named} is not the number of any open incident of yours` };
  if (matches.length > 1)
    return {
      unmatched: `${named} is the number of more than one of your open incidents (${matches.map((i) => i.id).join(', ')}); name one as pd:<id> or og:<alert id>`,
    };
  return { id: matches[0]!.id };
}
