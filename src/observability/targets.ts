/** Target reachability for /readyz: each engine's initialize(), at most every 30 s, each bounded by a timeout. */
import { describeError } from '../core/errors.js';
import type { EngineRegistry } from '../core/ports.js';

export function targetHealth(
  engines: EngineRegistry,
  everyMs = 30_000,
  timeoutMs = 3_000,
): () => Promise<Record<string, string>> {
  let last: { at: number; value: Record<string, string> } | undefined;
  return async () => {
    if (last && Date.now() - last.at < everyMs) return last.value;
    const value: Record<string, string> = {};
    await Promise.all(
      engines.all().map(async ({ database, engine }) => {
        const timeout = new Promise<string>((resolve) =>
          setTimeout(() => resolve(`no answer within ${timeoutMs} ms`), timeoutMs).unref(),
        );
        value[database] = await Promise.race([
          engine.initialize().then(
            (caps) => {
              const failed = caps.checks.filter((c) => !c.ok && c.severity === 'error');
              return failed.length ? `degraded: ${failed.map((c) => c.name).join(', ')}` : 'ok';
            },
            (err: unknown) => `down: ${describeError(err)}`,
          ),
          timeout,
        ]);
      }),
    );
    last = { at: Date.now(), value };
    return value;
  };
}
