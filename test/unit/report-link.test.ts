/** Signed links to the report page: what a link carries, and every way a link that was not issued is refused. */
import { describe, expect, it } from 'vitest';
import {
  reportLinkKey,
  reportLinkUrl,
  signReportLink,
  verifyReportLink,
  REPORT_LINK_TTL_MS,
} from '../../src/audit/report-link.js';

const NOW = Date.UTC(2026, 11, 7, 12, 0, 0);
const key = reportLinkKey('admin-token-1');

describe('report links', () => {
  it('a link issued now verifies until its expiry, carrying who it was issued to', () => {
    const p = signReportLink(key, 'bob@example.com', NOW);
    expect(p.exp).toBe(String((NOW + REPORT_LINK_TTL_MS) / 1000));
    expect(verifyReportLink(key, p, NOW)).toEqual({
      ok: true,
      link: { issuedTo: 'bob@example.com', expiresAt: NOW + REPORT_LINK_TTL_MS },
    });
    expect(verifyReportLink(key, p, NOW + REPORT_LINK_TTL_MS - 1000).ok).toBe(true);
    expect(verifyReportLink(key, p, NOW + REPORT_LINK_TTL_MS)).toEqual({
      ok: false,
      why: 'expired',
      link: { issuedTo: 'bob@example.com', expiresAt: NOW + REPORT_LINK_TTL_MS },
    });
  });

  it('refuses a changed recipient, a changed expiry, a changed signature, another key and a far expiry', () => {
    const p = signReportLink(key, 'bob@example.com', NOW);
    expect(verifyReportLink(key, { ...p, for: 'mallory@example.com' }, NOW)).toEqual({ ok: false, why: 'invalid' });
    expect(verifyReportLink(key, { ...p, exp: String(Number(p.exp) + 86_400) }, NOW)).toEqual({
      ok: false,
      why: 'invalid',
    });
    const flipped = (p.sig[0] === 'A' ? 'B' : 'A') + p.sig.slice(1);
    expect(verifyReportLink(key, { ...p, sig: flipped }, NOW)).toEqual({ ok: false, why: 'invalid' });
    expect(verifyReportLink(key, { ...p, sig: p.sig.slice(0, 20) }, NOW)).toEqual({ ok: false, why: 'invalid' });
    expect(verifyReportLink(reportLinkKey('admin-token-2'), p, NOW)).toEqual({ ok: false, why: 'invalid' });
    // Signed with the right key but for longer than the broker issues: not one of ours.
    const long = signReportLink(key, 'bob@example.com', NOW, 90 * 86_400_000);
    expect(verifyReportLink(key, long, NOW)).toEqual({ ok: false, why: 'invalid' });
    expect(verifyReportLink(key, { for: ['a', 'b'], exp: p.exp, sig: p.sig }, NOW)).toEqual({
      ok: false,
      why: 'invalid',
    });
    expect(verifyReportLink(key, {}, NOW)).toEqual({ ok: false, why: 'absent' });
  });

  it('the key is derived, never the token itself, and differs per token', () => {
    expect(key.toString('utf8')).not.toContain('admin-token-1');
    expect(key).toHaveLength(32);
    expect(reportLinkKey('admin-token-1').equals(key)).toBe(true);
    expect(reportLinkKey('admin-token-2').equals(key)).toBe(false);
  });

  it('builds the URL under PUBLIC_URL, path prefix kept, filters included, recipient allow-listed', () => {
    const url = new URL(
      reportLinkUrl('https://broker.example.com/db-access', key, 'slack-channel:C0123', NOW, { from: '2026-11-30' }),
    );
    expect(url.origin + url.pathname).toBe('https://broker.example.com/db-access/report');
    expect(url.searchParams.get('from')).toBe('2026-11-30');
    expect(verifyReportLink(key, Object.fromEntries(url.searchParams), NOW).ok).toBe(true);
    expect(() => signReportLink(key, 'bob <script>', NOW)).toThrow(/issued to/);
  });
});
