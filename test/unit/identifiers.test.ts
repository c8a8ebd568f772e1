import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/core/duration.js';
import { USERNAME_PATTERN, generatePassword, generateUsername } from '../../src/core/identifiers.js';
import { scrub } from '../../src/targets/scrub.js';

describe('identifiers', () => {
  it('usernames are prefixed, allow-listed and fit MySQL', () => {
    for (const hint of ['Alice.Smith+ops@example.com', "o'brien@x.io", '', undefined, 'ÄÖÜ@x', 'a'.repeat(80)]) {
      const u = generateUsername(hint);
      expect(u).toMatch(USERNAME_PATTERN);
      expect(u.length).toBeLessThanOrEqual(30);
    }
    expect(generateUsername('alice.smith@example.com')).toMatch(/^jit_alicesmith_[a-z0-9]{8}$/);
  });

  it('passwords are 32 characters of [A-Za-z0-9] and differ', () => {
    const a = generatePassword();
    expect(a).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(generatePassword()).not.toBe(a);
  });
});

describe('durations', () => {
  it.each([
    ['90s', 90_000],
    ['15m', 900_000],
    ['1h30m', 5_400_000],
    ['2d', 172_800_000],
    ['1H', 3_600_000],
  ])('%s', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
    expect(parseDuration(formatDuration(ms))).toBe(ms);
  });
  it.each(['', 'h', '1x', '-1h', '0s', '1.5h', 'forever'])('refuses %s', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe('scrub', () => {
  it('removes known secrets and secret-shaped SQL', () => {
    expect(scrub("near 'IDENTIFIED BY 'Abcdef123' WITH", ['Abcdef123'])).not.toContain('Abcdef123');
    expect(scrub("CREATE ROLE x PASSWORD 'SCRAM-SHA-256$4096:abc$def:ghi'", [])).not.toContain('4096:abc');
    expect(scrub("ALTER USER 'u'@'%' IDENTIFIED BY 'zzz'", [])).toBe("ALTER USER 'u'@'%' IDENTIFIED BY '[REDACTED]'");
  });
});
