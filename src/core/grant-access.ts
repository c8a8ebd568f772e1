/** Loading a grant by id (one lifecycle step at a time per grant is the Broker's: core/broker.ts). */
import type { CoreDeps } from './deps.js';
import { BrokerError } from './errors.js';
import type { Grant, GrantId } from './model.js';

export async function getGrant(deps: CoreDeps, grantId: GrantId): Promise<Grant> {
  const grant = await deps.store.getGrant(grantId);
  if (!grant) throw new BrokerError('NOT_FOUND', `grant #${grantId} does not exist`);
  return grant;
}
