import { randomBytes, randomInt } from 'node:crypto';

/** Every user the broker creates matches this: prefix, lowercase, ≤ 30 chars so MySQL's 32 fits. */
export const USERNAME_PATTERN = /^jit_[a-z0-9_]{1,26}$/;
export const USERNAME_PREFIX = 'jit_';

const ALNUM_LOWER = 'abcdefghijklmnopqrstuvwxyz0123456789';
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomString(alphabet: string, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}

/**
 * `jit_<who>_<8 random>`: the requester's email local part (≤ 12 chars of [a-z0-9]) lets a DBA see whose
 * session it is in pg_stat_activity / the processlist; the random part makes it unique.
 */
export function generateUsername(requesterHint: string | undefined): string {
  const local = (requesterHint ?? '').split('@')[0] ?? '';
  const who =
    local
      .toLowerCase()
      .replace(/[^a-z0-9]/g, '')
      .slice(0, 12) || 'user';
  const name = `${USERNAME_PREFIX}${who}_${randomString(ALNUM_LOWER, 8)}`;
  assertUsername(name);
  return name;
}

export function assertUsername(name: string): void {
  if (!USERNAME_PATTERN.test(name))
    throw new Error(`refusing a user name outside ${USERNAME_PATTERN}: ${JSON.stringify(name)}`);
}

/** 32 characters of [A-Za-z0-9] (~190 bits): nothing to quote in SQL, URLs or shells. */
export function generatePassword(): string {
  return randomString(ALNUM, 32);
}

/** A random token for ids that must not be guessable (not used for passwords). */
export function randomToken(bytes = 12): string {
  return randomBytes(bytes).toString('base64url');
}
