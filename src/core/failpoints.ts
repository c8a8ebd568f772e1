import type { FailpointName } from './deps.js';

/**
 * Test-only crash injection (DB_ACCESS_FAILPOINT=<name>): the process dies with SIGKILL at that point, as a
 * power cut would. Unset in production: a no-op.
 */
export function makeFailpoint(armed: string | undefined, kill: () => void): (name: FailpointName) => void {
  if (!armed) return () => undefined;
  return (name) => {
    if (name === armed) kill();
  };
}

/**
 * Test-only hold (DB_ACCESS_FAILPOINT=<name>): at that point the work never goes on, while the process keeps
 * answering (acknowledgements go out); the test then kills it. Unset in production: resolves at once.
 */
export function makeHold(
  armed: string | undefined,
  held: (name: FailpointName) => void = () => undefined,
): (name: FailpointName) => Promise<void> {
  return (name) => {
    if (!armed || name !== armed) return Promise.resolve();
    held(name);
    return new Promise<void>(() => undefined);
  };
}
