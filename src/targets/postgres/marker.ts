/**
 * The marker written with `COMMENT ON ROLE`: only CREATEROLE holders (PG16+: with ADMIN on the role) can change it,
 * so an issued user cannot forge or remove it. `{"by":"db-access","grant":<id>,"exp":"<ISO>"}`.
 */
export const MARKER_BY = 'db-access';

export interface RoleMarker {
  grantId: number;
  expiresAt?: number;
}

export function encodeMarker(grantId: number, expiresAt: number): string {
  return JSON.stringify({ by: MARKER_BY, grant: grantId, exp: new Date(expiresAt).toISOString() });
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
  const m = value as { by?: unknown; grant?: unknown; exp?: unknown };
  if (m.by !== MARKER_BY || typeof m.grant !== 'number' || !Number.isSafeInteger(m.grant)) return undefined;
  const exp = typeof m.exp === 'string' ? Date.parse(m.exp) : NaN;
  return Number.isFinite(exp) ? { grantId: m.grant, expiresAt: exp } : { grantId: m.grant };
}
