/**
 * A grant's life after approval: provision → active → (extend) → revoke. Every step is idempotent and safe to
 * run twice, concurrently, or after a crash at any point; the state DB row is the source of truth.
 */
export { getGrant } from './grant-access.js';
export { MAX_PROVISION_ATTEMPTS, provision, type ProvisionResult } from './provision.js';
export { revoke, revokeIfDue, type DueCheck, type RevokeResult } from './revocation.js';
export { extend, revealCredentials, revokeAsUser } from './grant-changes.js';
