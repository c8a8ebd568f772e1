/** Comparing secrets (MACs, code hashes, tokens) without telling an attacker, by timing, how much of a guess was right. */
import { createHash, timingSafeEqual } from 'node:crypto';

/** Equal bytes, compared in time that depends only on the lengths (a length mismatch is not a secret here: MACs and
 *  hashes have a fixed length). */
export function sameBytes(given: Uint8Array, expected: Uint8Array): boolean {
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Equal strings of any length, in time that depends on neither: both are hashed first. */
export function sameSecret(given: string, expected: string): boolean {
  return timingSafeEqual(createHash('sha256').update(given).digest(), createHash('sha256').update(expected).digest());
}
