/** Ids as tests spell them: a literal or a number read back from a server, as the branded kind the product takes. */
import type { GrantId, RequestId } from '../../src/core/model.js';

export function rid(n: number): RequestId;
export function rid(n: number | undefined): RequestId | undefined;
export function rid(n: number | undefined): RequestId | undefined {
  return n as RequestId | undefined;
}

export function gid(n: number): GrantId;
export function gid(n: number | undefined): GrantId | undefined;
export function gid(n: number | undefined): GrantId | undefined {
  return n as GrantId | undefined;
}
