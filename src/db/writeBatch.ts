/**
 * Writes asked for while the previous batch is on its way, made together: concurrent submissions
 * share one statement (and one commit) instead of taking a transaction each. One batch at a time, so
 * the busier the database, the more each batch takes; alone, a write goes out in the same turn.
 * Each caller gets its own answer only once the shared write has committed. If the shared write
 * fails, each is written again on its own, so a write that fails (a constraint it breaks, say) fails
 * only its own caller.
 */
export class WriteBatch<In, Out> {
  #waiting: { input: In; resolve: (out: Out) => void; reject: (error: unknown) => void }[] = [];
  /** A batch is set to go (next turn) or on its way: what comes meanwhile waits for the next. */
  #busy = false;

  constructor(
    private readonly write: {
      /** All of them at once: one answer per input, in their order. */
      many(inputs: In[]): Promise<Out[]>;
      one(input: In): Promise<Out>;
      /** Nothing is waiting or on its way any more (a batch kept per key can be let go). */
      onIdle?: () => void;
    },
  ) {}

  add(input: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.#waiting.push({ input, resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#busy) return;
    if (this.#waiting.length === 0) {
      this.write.onIdle?.();
      return;
    }
    this.#busy = true;
    // A turn later, so those asked for in this one join.
    setImmediate(
      () =>
        void this.#flush().finally(() => {
          this.#busy = false;
          this.#schedule();
        }),
    );
  }

  async #flush(): Promise<void> {
    const batch = this.#waiting;
    this.#waiting = [];
    if (batch.length > 1) {
      try {
        const outs = await this.write.many(batch.map((each) => each.input));
        for (const [i, each] of batch.entries()) each.resolve(outs[i]!);
        return;
      } catch {
        // Written one by one below: each caller gets its own write's error, if it fails at all.
      }
    }
    // One after another: a write that waits for a lock does not hold a pool connection per caller.
    for (const each of batch) {
      try {
        each.resolve(await this.write.one(each.input));
      } catch (error) {
        each.reject(error);
      }
    }
  }
}
