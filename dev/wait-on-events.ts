/**
 * The doubles' event-driven wait: `probe` is re-checked each time the double records something (it calls every
 * function in `waiters`), and the promise rejects with `onTimeout()` when the deadline passes.
 */
export function waitOnEvents<T>(
  waiters: Set<() => void>,
  probe: () => T | undefined | null | false,
  timeoutMs: number,
  onTimeout: () => Error,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const pending: { timer?: NodeJS.Timeout } = {};
    const check = (): boolean => {
      let v: T | undefined | null | false;
      try {
        v = probe();
      } catch (err) {
        waiters.delete(check);
        clearTimeout(pending.timer);
        reject(err instanceof Error ? err : new Error(String(err)));
        return true;
      }
      if (v === undefined || v === null || v === false) return false;
      waiters.delete(check);
      clearTimeout(pending.timer);
      resolve(v);
      return true;
    };
    if (check()) return;
    waiters.add(check);
    pending.timer = setTimeout(() => {
      waiters.delete(check);
      reject(onTimeout());
    }, timeoutMs);
  });
}
