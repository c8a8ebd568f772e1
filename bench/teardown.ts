/**
 * Everything the bench creates registers how to undo it here, as soon as it exists. `run()` undoes it all in
 * reverse order, once, continuing past failures (each is reported on stderr), so a failed or interrupted run
 * leaves no user, database, cluster or process behind.
 */
import { log } from './log.js';

export class Teardown {
  private readonly steps: Array<{ what: string; undo: () => Promise<unknown> }> = [];
  private running: Promise<void> | undefined;

  defer(what: string, undo: () => Promise<unknown>): void {
    this.steps.push({ what, undo });
  }

  /** Undoes everything; a second caller (^C during the normal cleanup) waits for the same run. */
  run(): Promise<void> {
    this.running ??= this.undoAll();
    return this.running;
  }

  private async undoAll(): Promise<void> {
    for (const step of this.steps.reverse()) {
      try {
        await step.undo();
      } catch (err) {
        log(`cleanup: ${step.what} failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
}
