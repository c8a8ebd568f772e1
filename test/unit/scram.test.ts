/** The SCRAM verifier computed off the event loop is the same verifier (PostgreSQL logins with it are in the integration tests). */
import { expect, it } from 'vitest';
import { scramSha256Verifier, scramSha256VerifierAsync } from '../../src/targets/postgres/scram.js';

it('async and sync verifiers agree for the same password and salt, and differ with the salt', async () => {
  const salt = Buffer.alloc(16, 7);
  const sync = scramSha256Verifier('Abc123xyz', 4096, salt);
  expect(await scramSha256VerifierAsync('Abc123xyz', 4096, salt)).toBe(sync);
  expect(sync).toMatch(/^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}:[A-Za-z0-9+/=]{44}$/);
  expect(await scramSha256VerifierAsync('Abc123xyz')).not.toBe(sync);
});
