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
