/**
 * Everything the bench creates registers how to undo it here, as soon as it exists. `run()` undoes it all in
 * reverse order, once, continuing past failures (each is reported on stderr), so a failed or interrupted run
 * leaves no user, database, cluster or process behind.
 */
import { log } from './log.js';

export class Teardown {
  private readonly steps: Array<{ what: string; undo: () => Promise<unknown> }> = [];
  private ran = false;

  defer(what: string, undo: () => Promise<unknown>): void {
    this.steps.push({ what, undo });
  }

  async run(): Promise<void> {
    if (this.ran) return;
    this.ran = true;
    for (const step of this.steps.reverse()) {
      try {
        await step.undo();
      } catch (err) {
        log(`cleanup: ${step.what} failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
}
