/**
 * The marker written with `COMMENT ON ROLE`: only CREATEROLE holders (PG16+: with ADMIN on the role) can change it,
 * so an issued user cannot forge or remove it.
 * `{"by":"db-access","inst":"<installation>","grant":<id>,"exp":"<ISO>","reassign":"<role>"}`.
 * `inst` keeps installations that share a server apart; markers written before it existed have none.
 * `reassign` is the level's `onExpiry: { reassignTo }` as it was when the user was created: revocation hands what the
 * user owns to that role before DROP OWNED, from the marker alone, so a later catalog edit (or a level that no longer
 * exists) cannot change what happens to objects already created. Absent = drop them.
 */
import { TargetError } from '../../core/errors.js';

export const MARKER_BY = 'db-access';

/** A role name the marker may carry in `reassign` (the catalog's ROLE_NAME; quoted in SQL anyway). */
const REASSIGN_ROLE = /^[A-Za-z_][A-Za-z0-9_-]{0,62}$/;

export interface RoleMarker {
  grantId: number;
  expiresAt?: number;
  installation?: string;
  /** Objects the user owns go to this role at revocation (REASSIGN OWNED) instead of being dropped. */
  reassignTo?: string;
}

export function encodeMarker(grantId: number, expiresAt: number, installation?: string, reassignTo?: string): string {
  if (reassignTo !== undefined && !REASSIGN_ROLE.test(reassignTo))
    throw new TargetError('invalid', `invalid reassignTo role ${JSON.stringify(reassignTo)}`);
  return JSON.stringify({
    by: MARKER_BY,
    ...(installation && { inst: installation }),
    grant: grantId,
    exp: new Date(expiresAt).toISOString(),
    ...(reassignTo !== undefined && { reassign: reassignTo }),
  });
}

/** Is this marker this installation's? One without `inst` predates installation ids and counts as ours. */
export function isOurs(marker: RoleMarker, installation: string | undefined): boolean {
  return installation === undefined || marker.installation === undefined || marker.installation === installation;
}

/** The marker's content when `comment` is a db-access marker; undefined for anything else (or nothing). */
export function parseMarker(comment: string | null | undefined): RoleMarker | undefined {
  if (!comment) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(comment);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const m = value as { by?: unknown; grant?: unknown; exp?: unknown; inst?: unknown; reassign?: unknown };
  if (m.by !== MARKER_BY || typeof m.grant !== 'number' || !Number.isSafeInteger(m.grant)) return undefined;
  const exp = typeof m.exp === 'string' ? Date.parse(m.exp) : NaN;
  return {
    grantId: m.grant,
    ...(Number.isFinite(exp) && { expiresAt: exp }),
    ...(typeof m.inst === 'string' && { installation: m.inst }),
    // Only CREATEROLE holders can write the comment; a value that is not a role name is ignored (objects dropped),
    // which is also what happens to anything a user owns when no role was named.
    ...(typeof m.reassign === 'string' && REASSIGN_ROLE.test(m.reassign) && { reassignTo: m.reassign }),
  };
}
