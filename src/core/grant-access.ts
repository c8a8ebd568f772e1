/** Loading a grant, and running one lifecycle step of a grant at a time in this process. */
import type { CoreDeps } from './deps.js';
import { BrokerError } from './errors.js';
import type { Grant, GrantId } from './model.js';

const inFlight = new Map<GrantId, Promise<unknown>>();

/** One revocation or provisioning of a grant at a time in this process (the sweeper and a job may race). */
export async function exclusive<T>(grantId: GrantId, fn: () => Promise<T>): Promise<T> {
  while (inFlight.has(grantId)) await inFlight.get(grantId)!.catch(() => undefined);
  const p = fn();
  inFlight.set(grantId, p);
  try {
    return await p;
  } finally {
    inFlight.delete(grantId);
  }
}

export async function getGrant(deps: CoreDeps, grantId: GrantId): Promise<Grant> {
  const grant = await deps.store.getGrant(grantId);
  if (!grant) throw new BrokerError('NOT_FOUND', `grant #${grantId} does not exist`);
  return grant;
}
