/** Plumbing the engines' batch methods (newUsers / disableUsers / deleteUsers) share: per-user results in one map. */
import { TargetError } from '../core/errors.js';
import type { NewUserResponse } from '../core/ports.js';

export type PerUser<R> = Map<string, R | Error>;

/**
 * The distinct items (the first one of each key) that pass `check` (the engine's up-front validation), and a result
 * map already holding the others' errors under their key.
 */
export function batchItems<T, R>(
  items: readonly T[],
  keyOf: (item: T) => string,
  check: (item: T) => unknown,
): { items: T[]; out: PerUser<R> } {
  const out: PerUser<R> = new Map();
  const kept = new Map<string, T>();
  for (const item of items) {
    const key = keyOf(item);
    if (kept.has(key) || out.has(key)) continue;
    try {
      check(item);
      kept.set(key, item);
    } catch (err) {
      out.set(key, asError(err));
    }
  }
  return { items: [...kept.values()], out };
}

/** Distinct names that pass `check` (the engine's allow-list), and a result map already holding the others' errors. */
export function batchNames<R>(
  usernames: readonly string[],
  check: (username: string) => unknown,
): { names: string[]; out: PerUser<R> } {
  const { items, out } = batchItems<string, R>(usernames, (u) => u, check);
  return { names: items, out };
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

/** The fallback when a batch fails: the single-user method for each item, its error kept as that item's result. */
export async function oneByOneOf<T, R>(
  items: readonly T[],
  keyOf: (item: T) => string,
  out: PerUser<R>,
  fn: (item: T) => Promise<R>,
): Promise<PerUser<R>> {
  for (const item of items) out.set(keyOf(item), await fn(item).catch((e: unknown) => asError(e)));
  return out;
}

/** oneByOneOf for names. */
export function oneByOne<R>(
  names: readonly string[],
  out: PerUser<R>,
  fn: (u: string) => Promise<R>,
): Promise<PerUser<R>> {
  return oneByOneOf(names, (u) => u, out, fn);
}

/** The counts of a newUsers batch, for its one log line. */
export function newUsersTally(out: PerUser<NewUserResponse>): {
  users: number;
  created: number;
  adopted: number;
  failed: number;
} {
  const tally = { users: out.size, created: 0, adopted: 0, failed: 0 };
  for (const res of out.values()) {
    if (res instanceof Error) tally.failed++;
    else tally[res.outcome]++;
  }
  return tally;
}

export function asError(err: unknown): Error {
  return err instanceof Error ? err : new TargetError('permanent', String(err));
}
