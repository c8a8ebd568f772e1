/**
 * Fault injection shared by the local API doubles: queued faults per path pattern (`/exact`, `/prefix*` or `*`),
 * per-pattern latency, and the timers to cancel when a double stops.
 */
import type { ServerResponse } from 'node:http';

export function matchesPath(pattern: string, path: string): boolean {
  return pattern === '*' || pattern === path || (pattern.endsWith('*') && path.startsWith(pattern.slice(0, -1)));
}

export class FaultPlan<F> {
  private readonly faults = new Map<string, F[]>();
  private readonly latency = new Map<string, number>();
  private readonly timers = new Set<NodeJS.Timeout>();

  /** failNext(fault, opts?) or failNext(pathPattern, fault, opts?): queues `times` (default 1) copies. */
  failNext(a: string | F, b?: F | { times?: number }, c?: { times?: number }): void {
    const [pattern, fault, opts] =
      typeof a === 'string' ? [a, b as F, c ?? {}] : ['*', a, (b as { times?: number } | undefined) ?? {}];
    const queue = this.faults.get(pattern) ?? [];
    for (let i = 0; i < (opts.times ?? 1); i++) queue.push(fault);
    this.faults.set(pattern, queue);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  setLatency(pattern: string, ms: number): void {
    if (ms > 0) this.latency.set(pattern, ms);
    else this.latency.delete(pattern);
  }

  /** Forgets faults and latency (and cancels pending delays). */
  reset(): void {
    this.faults.clear();
    this.latency.clear();
    this.cancelTimers();
  }

  cancelTimers(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  /** The next queued fault for this path, if any. */
  take(path: string): F | undefined {
    for (const [pattern, queue] of this.faults)
      if (queue.length > 0 && matchesPath(pattern, path)) return queue.shift();
    return undefined;
  }

  /** Waits the longest latency configured for this path. */
  async delay(path: string): Promise<void> {
    let ms = 0;
    for (const [pattern, v] of this.latency) if (matchesPath(pattern, path)) ms = Math.max(ms, v);
    if (ms <= 0) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }
}

/** Writes a JSON (or plain-text) answer unless the client is gone. */
export function sendBody(res: ServerResponse, status: number, body: unknown, headers: Record<string, string>): void {
  if (res.destroyed) return;
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8',
    ...headers,
  });
  res.end(text);
}
