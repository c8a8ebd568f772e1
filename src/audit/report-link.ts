/**
 * Signed links to the access report page (`GET /report`): whoever holds one may read the report until it expires,
 * without the admin token. A link carries who it was issued to (`for`), when it expires (`exp`, Unix seconds) and an
 * HMAC-SHA256 over both (`sig`, base64url). The filters of the page (person, database, dates) are not signed: the
 * link grants the whole report, and the page's form keeps the three link parameters while filtering.
 *
 * The key is derived with HKDF-SHA256 from ADMIN_API_TOKEN (salt and info name this use only), so no new secret is
 * needed, a link never reveals or reuses the token itself, and rotating the token invalidates every link issued.
 * ADMIN_API_TOKEN (not SLACK_SIGNING_SECRET) because only the operator holds it: Slack, which knows its signing
 * secret, must not be able to mint links.
 */
import { createHmac, hkdfSync } from 'node:crypto';
import { sameBytes } from '../core/constant-time.js';

/** How long a link issued by the broker is valid. */
export const REPORT_LINK_TTL_MS = 7 * 86_400_000;
/** A link expiring later than this after now was not issued by this broker (it issues REPORT_LINK_TTL_MS). */
const LONGEST_ACCEPTED_MS = REPORT_LINK_TTL_MS + 5 * 60_000;
/** Who a link is for: an email, `slack:U…`, `slack-channel:C…`, `cli:<user>` … (shown on the page and audited). */
const ISSUED_TO = /^[A-Za-z0-9@._:+-]{1,200}$/;
const SIG = /^[A-Za-z0-9_-]{43}$/;
const EXP = /^[0-9]{1,12}$/;

export type ReportLinkKey = Buffer & { readonly __reportLinkKey: true };

/** The link key: HKDF-SHA256(ADMIN_API_TOKEN), domain-separated from every other use of that token. */
export function reportLinkKey(adminToken: string): ReportLinkKey {
  if (!adminToken) throw new Error('a report link key needs ADMIN_API_TOKEN');
  return Buffer.from(hkdfSync('sha256', adminToken, 'db-access', 'db-access report link v1', 32)) as ReportLinkKey;
}

export interface ReportLink {
  issuedTo: string;
  /** Epoch milliseconds (whole seconds). */
  expiresAt: number;
}

function mac(key: ReportLinkKey, issuedTo: string, expSeconds: string): Buffer {
  return createHmac('sha256', key).update(`db-access report link v1\n${issuedTo}\n${expSeconds}`).digest();
}

/** The query parameters of a link for `issuedTo`, valid until `now + ttlMs` (rounded down to a second). */
export function signReportLink(
  key: ReportLinkKey,
  issuedTo: string,
  now: number,
  ttlMs = REPORT_LINK_TTL_MS,
): { for: string; exp: string; sig: string } {
  if (!ISSUED_TO.test(issuedTo))
    throw new Error(`a report link is issued to an email or platform id ([A-Za-z0-9@._:+-]), not ${issuedTo}`);
  const exp = String(Math.floor((now + ttlMs) / 1000));
  return { for: issuedTo, exp, sig: mac(key, issuedTo, exp).toString('base64url') };
}

/** The full URL of a link to the page under `publicUrl` (the broker as browsers reach it), with optional filters. */
export function reportLinkUrl(
  publicUrl: string,
  key: ReportLinkKey,
  issuedTo: string,
  now: number,
  filters: Record<string, string> = {},
): string {
  const url = new URL('report', publicUrl.endsWith('/') ? publicUrl : `${publicUrl}/`);
  for (const [k, v] of Object.entries({ ...filters, ...signReportLink(key, issuedTo, now) }))
    url.searchParams.set(k, v);
  return url.toString();
}

export type ReportLinkCheck =
  | { ok: true; link: ReportLink }
  /** No link parameters at all. */
  | { ok: false; why: 'absent' }
  /** Parameters that this broker did not sign (altered, made up, or signed with a rotated token). */
  | { ok: false; why: 'invalid' }
  /** Signed by this broker, but past its expiry. */
  | { ok: false; why: 'expired'; link: ReportLink };

/**
 * Checks a link's parameters: the signature first (compared in constant time), then the expiry. A link whose expiry
 * lies further ahead than the broker ever issues is refused as invalid.
 */
export function verifyReportLink(
  key: ReportLinkKey,
  q: { for?: unknown; exp?: unknown; sig?: unknown },
  now: number,
): ReportLinkCheck {
  if (q.for === undefined && q.exp === undefined && q.sig === undefined) return { ok: false, why: 'absent' };
  const { for: issuedTo, exp, sig } = q;
  if (typeof issuedTo !== 'string' || typeof exp !== 'string' || typeof sig !== 'string') return invalid;
  if (!ISSUED_TO.test(issuedTo) || !EXP.test(exp) || !SIG.test(sig)) return invalid;
  const given = Buffer.from(sig, 'base64url');
  const expected = mac(key, issuedTo, exp);
  if (!sameBytes(given, expected)) return invalid;
  const link = { issuedTo, expiresAt: Number(exp) * 1000 };
  if (link.expiresAt > now + LONGEST_ACCEPTED_MS) return invalid;
  if (link.expiresAt <= now) return { ok: false, why: 'expired', link };
  return { ok: true, link };
}

const invalid: ReportLinkCheck = { ok: false, why: 'invalid' };
