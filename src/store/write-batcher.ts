/**
 * Group commit for small independent writes: calls made while the previous statement is running (or in the same
 * turn of the event loop) go to the state DB together, as one statement and one commit. Alone, a call runs as soon
 * as the current turn ends; under load each statement carries everything that arrived during the one before it, so
 * a burst of N calls costs a few statements instead of N, with no timer and no added wait.
 *
 * Contract of `run`: it receives at most `maxBatch` inputs in call order and resolves to one output per input, in
 * the same order. When it rejects for a batch of several, each input is run again alone, so one bad input fails only
 * its own caller.
 */
export class WriteBatcher<In, Out> {
  private queue: Array<{ input: In; resolve: (out: Out) => void; reject: (err: unknown) => void }> = [];
  private draining = false;

  constructor(
    private readonly run: (inputs: In[]) => Promise<Out[]>,
    private readonly maxBatch = 100,
  ) {}

  submit(input: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      if (!this.draining) {
        this.draining = true;
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      try {
        const outs = await this.run(batch.map((b) => b.input));
        batch.forEach((b, i) => b.resolve(outs[i]!));
      } catch (err) {
        if (batch.length === 1) batch[0]!.reject(err);
        else
          await Promise.all(
            batch.map((b) =>
              this.run([b.input]).then(
                ([out]) => b.resolve(out!),
                (e: unknown) => b.reject(e),
              ),
            ),
          );
      }
    }
    this.draining = false;
  }
}
