/** Who may decide and act on what. Pure. */
import type { Actor, AccessRequest, ApproverRef, Grant } from './model.js';

export function sameActor(a: Pick<Actor, 'platform' | 'id'>, b: Pick<Actor, 'platform' | 'id'>): boolean {
  return a.platform === b.platform && a.id === b.id;
}

/** The approver entry that `actor` is, matched by platform id or (case-insensitively) by email. */
export function matchApprover(actor: Actor, approvers: readonly ApproverRef[]): ApproverRef | undefined {
  const email = actor.email?.toLowerCase();
  return approvers.find(
    (a) =>
      (a.platform === actor.platform && a.id === actor.id) ||
      (email !== undefined &&
        (a.email?.toLowerCase() === email || (a.platform === 'email' && a.id.toLowerCase() === email))),
  );
}

/**
 * Who a person is across Slack and Teams: their verified email, lower-case; platform:id only where the platform
 * gave no email. Approvals count people by this key (and the state DB holds one approval per request and key).
 */
export function personKey(actor: Pick<Actor, 'platform' | 'id' | 'email'>): string {
  const email = actor.email?.trim().toLowerCase();
  return email ? `email:${email}` : `${actor.platform}:${actor.id}`;
}

export function isRequester(
  actor: Actor,
  request: Pick<AccessRequest, 'requester'> | Pick<Grant, 'requester'>,
): boolean {
  if (sameActor(actor, request.requester)) return true;
  const email = actor.email?.toLowerCase();
  return email !== undefined && request.requester.email?.toLowerCase() === email;
}

/** Whether `actor` asked for this request on someone else's behalf (same account, or the same person by key). */
export function isAsker(actor: Actor, request: Pick<AccessRequest, 'askedBy'>): boolean {
  const by = request.askedBy;
  return by !== undefined && (sameActor(actor, by) || personKey(actor) === personKey(by));
}

/** The requester or whoever asked on their behalf: neither may decide the request. */
export function isPartyTo(actor: Actor, request: Pick<AccessRequest, 'requester' | 'askedBy'>): boolean {
  return isRequester(actor, request) || isAsker(actor, request);
}
