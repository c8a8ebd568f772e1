/**
 * In-process serialisation of DDL per target server. Engines also take a server-side lock (pg advisory lock,
 * MySQL GET_LOCK) so several broker processes serialise too; this mutex keeps one process from queueing many
 * pool connections behind that lock.
 */
const tails = new Map<string, Promise<unknown>>();

export async function serialized<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const previous = tails.get(key) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((resolve) => (release = resolve));
  const tail = previous.then(() => mine);
  tails.set(key, tail);
  try {
    await previous.catch(() => undefined);
    return await fn();
  } finally {
    release();
    if (tails.get(key) === tail) tails.delete(key);
  }
}
