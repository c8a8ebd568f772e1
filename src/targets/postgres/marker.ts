/**
 * The marker written with `COMMENT ON ROLE`: only CREATEROLE holders (PG16+: with ADMIN on the role) can change it,
 * so an issued user cannot forge or remove it. `{"by":"db-access","inst":"<installation>","grant":<id>,"exp":"<ISO>"}`.
 * `inst` keeps installations that share a server apart; markers written before it existed have none.
 */
export const MARKER_BY = 'db-access';

export interface RoleMarker {
  grantId: number;
  expiresAt?: number;
  installation?: string;
}

export function encodeMarker(grantId: number, expiresAt: number, installation?: string): string {
  return JSON.stringify({ by: MARKER_BY, ...(installation && { inst: installation }), grant: grantId, exp: new Date(expiresAt).toISOString() });
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
  const m = value as { by?: unknown; grant?: unknown; exp?: unknown; inst?: unknown };
  if (m.by !== MARKER_BY || typeof m.grant !== 'number' || !Number.isSafeInteger(m.grant)) return undefined;
  const exp = typeof m.exp === 'string' ? Date.parse(m.exp) : NaN;
  return {
    grantId: m.grant,
    ...(Number.isFinite(exp) && { expiresAt: exp }),
    ...(typeof m.inst === 'string' && { installation: m.inst }),
  };
}
