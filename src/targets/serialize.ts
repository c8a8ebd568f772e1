/**
 * In-process serialisation of DDL per target server. Engines also take a server-side lock (pg advisory lock,
 * MySQL GET_LOCK) so several broker processes serialise too; this queue keeps one process from queueing many
 * pool connections behind that lock. One is shared by every engine of a registry (targets/registry.ts), so the
 * catalog databases on one server take turns; an engine made alone has its own.
 */
export class ServerQueues {
  /** Server key → the last task queued on it. */
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Runs `fn` after every task queued before it on `key` has settled. */
  async serialized<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    try {
      await previous.catch(() => undefined);
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
