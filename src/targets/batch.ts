/** Plumbing the engines' batch methods (disableUsers / deleteUsers) share: per-user results in one map. */
import { TargetError } from '../core/errors.js';

export type PerUser<R> = Map<string, R | Error>;

/** Distinct names that pass `check` (the engine's allow-list), and a result map already holding the others' errors. */
export function batchNames<R>(usernames: readonly string[], check: (username: string) => unknown): { names: string[]; out: PerUser<R> } {
  const out: PerUser<R> = new Map();
  const names: string[] = [];
  for (const u of new Set(usernames)) {
    try {
      check(u);
      names.push(u);
    } catch (err) {
      out.set(u, asError(err));
    }
  }
  return { names, out };
}

/** For deleteUsers, after disableUsers: the names to go on with, and a result map holding those that failed. */
export function disabledNames<R>(disabled: PerUser<unknown>): { names: string[]; out: PerUser<R> } {
  const out: PerUser<R> = new Map();
  const names: string[] = [];
  for (const [u, res] of disabled) {
    if (res instanceof Error) out.set(u, res);
    else names.push(u);
  }
  return { names, out };
}

/** The fallback when a batch fails: the single-user method for each name, its error kept as that name's result. */
export async function oneByOne<R>(names: readonly string[], out: PerUser<R>, fn: (u: string) => Promise<R>): Promise<PerUser<R>> {
  for (const u of names) out.set(u, await fn(u).catch((e: unknown) => asError(e)));
  return out;
}

export function asError(err: unknown): Error {
  return err instanceof Error ? err : new TargetError('permanent', String(err));
}
