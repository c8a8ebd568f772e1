/** .env.example is the operator's list of settings: every variable the broker reads is there, with a comment. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { settingsSchema } from '../../src/config/settings.js';
import { REPO_ROOT } from '../support/processes.js';

it('lists every setting, each under a comment, and nothing the broker does not read', () => {
  const lines = readFileSync(join(REPO_ROOT, '.env.example'), 'utf8').split('\n');
  const listed = new Map<string, number>();
  lines.forEach((l, i) => {
    const m = /^([A-Z][A-Z0-9_]*)=/.exec(l);
    if (m) listed.set(m[1]!, i);
  });
  const known = Object.keys(settingsSchema.shape);
  // DB_ACCESS_FAILPOINT kills the process at a named step: a test hook, deliberately not offered to operators.
  expect(known.filter((k) => !listed.has(k) && k !== 'DB_ACCESS_FAILPOINT')).toEqual([]);
  expect([...listed.keys()].filter((k) => !known.includes(k) && !/_ADMIN_PASSWORD$/.test(k))).toEqual([]);
  for (const [name, i] of listed) {
    let j = i - 1;
    while (j >= 0 && /^[A-Z][A-Z0-9_]*=/.test(lines[j]!)) j--;
    expect(lines[j]?.startsWith('#'), `${name} has no comment above it`).toBe(true);
  }
});
