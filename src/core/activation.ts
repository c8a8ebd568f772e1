/**
 * A grant's clock starts when its user exists. While a grant is `provisioning`, its expiresAt is createdAt plus
 * the granted duration: the latest moment its user may still be made. At activation it becomes activatedAt plus
 * that duration, and the reminder, the revoke job and the target's backstop follow from it.
 */
import type { Grant } from './model.js';

/** The duration a `provisioning` grant was given (its expiry is not yet on the activation clock). */
export function grantedDuration(grant: Pick<Grant, 'createdAt' | 'expiresAt'>): number {
  return grant.expiresAt - grant.createdAt;
}

/**
 * How much later than "now + duration" the backstop is set when the user is created, before the activation moment
 * is known: a tenth of the duration, at most a minute. A user made within it needs no second statement; one made
 * more slowly has its backstop moved to the expiry once it is known, so the backstop never falls before it.
 */
export function backstopSlack(durationMs: number): number {
  return Math.min(60_000, Math.ceil(durationMs / 10));
}
