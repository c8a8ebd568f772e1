/**
 * Action ids, callback ids and input block ids shared by the Block Kit builders and the Bolt listeners.
 *
 * Contract: a button's `value` is only ever an id (a request id or a grant id, as a decimal string). It tells the
 * listener *which* row the person clicked on, never *whether* they may act: every listener re-checks the clicker
 * in the core (approver now, not the requester, owner of the grant). Listeners read values and private_metadata
 * with core/ids.ts only (decimal, nothing else), and refuse anything else by name.
 */

// Buttons on the approval message (channel).
/** value = request id. */
export const APPROVE = 'approve';
/** value = request id. Opens DENY_MODAL for a reason; nothing is decided by the click itself. */
export const DENY = 'deny';
/** value = grant id. Carries a confirm dialog. */
export const REVOKE = 'revoke';

/** value = request id. An approver confirms they reviewed a break-glass grant. */
export const BREAK_GLASS_REVIEWED = 'break_glass_reviewed';

// Buttons in the requester's DMs.
/** value = grant id. Rotates the password and opens CREDENTIALS_MODAL. */
export const REVEAL = 'reveal_credentials';
/** value = grant id. Opens EXTEND_MODAL. */
export const EXTEND_OPEN = 'extend_open';
/** value = grant id. "I'm done": revokes now (carries a confirm dialog). */
export const DONE = 'done';

// Buttons on the App Home tab (no `body.message` there: the listener republishes the home after acting).
/** No value. Opens REQUEST_MODAL. */
export const HOME_REQUEST = 'home_request';
/** value = request id. */
export const HOME_APPROVE = 'home_approve';
/** value = request id. Opens DENY_MODAL. */
export const HOME_DENY = 'home_deny';
/** value = grant id. */
export const HOME_REVEAL = 'home_reveal_credentials';
/** value = grant id. Revokes now (confirm dialog). */
export const HOME_REVOKE = 'home_revoke';

// Modal callback ids (`app.view(callbackId, …)`).
/** private_metadata = JSON `{ "channelId": "C…" }` (where the command was typed). */
export const REQUEST_MODAL = 'db_access_request';
/** private_metadata = request id. */
export const DENY_MODAL = 'db_access_deny';
/** private_metadata = grant id. */
export const EXTEND_MODAL = 'db_access_extend';
/** No submit; shown once. */
export const CREDENTIALS_MODAL = 'db_access_credentials';

/**
 * Modal inputs: `view.state.values[block][action]`. The block ids equal the core's `BrokerError.details.field`
 * names, so a listener can answer `ack({ response_action: 'errors', errors: { [err.details.field]: text } })`.
 */
export const INPUT = {
  database: { block: 'database', action: 'database_select' },
  level: { block: 'level', action: 'level_select' },
  duration: { block: 'duration', action: 'duration_input' },
  reason: { block: 'reason', action: 'reason_input' },
  ticket: { block: 'ticket', action: 'ticket_input' },
  /** users_select: the person the access is for (optional; empty = the person filling the form). */
  for: { block: 'for', action: 'for_user_select' },
  /** Offered only when the requester has open incidents (filled in after the modal opens). */
  incident: { block: 'incident', action: 'incident_select' },
} as const;

export type InputField = keyof typeof INPUT;
