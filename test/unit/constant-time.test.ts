import { describe, expect, it } from 'vitest';
import { sameBytes, sameSecret } from '../../src/core/constant-time.js';

describe('constant-time comparisons', () => {
  it('sameBytes: equal bytes only; a different length is unequal, not an error', () => {
    expect(sameBytes(Buffer.from('abc'), Buffer.from('abc'))).toBe(true);
    expect(sameBytes(Buffer.from('abc'), Buffer.from('abd'))).toBe(false);
    expect(sameBytes(Buffer.from('ab'), Buffer.from('abc'))).toBe(false);
    expect(sameBytes(new Uint8Array(0), new Uint8Array(0))).toBe(true);
  });

  it('sameSecret: equal strings only, whatever their lengths', () => {
    expect(sameSecret('s3cret-token', 's3cret-token')).toBe(true);
    expect(sameSecret('s3cret-token', 's3cret-tokem')).toBe(false);
    expect(sameSecret('s3cret', 's3cret-token')).toBe(false);
    expect(sameSecret('', 'x')).toBe(false);
  });
});
