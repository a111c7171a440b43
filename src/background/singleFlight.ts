/**
 * Runs `task` so that at most one run is under way at a time: a call made while one runs schedules
 * exactly one more run, right after it (however many calls came meanwhile). The task handles its own
 * errors: a rejection here would be unhandled.
 */
export class SingleFlight {
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;

  constructor(private readonly task: () => Promise<void>) {}

  run(): void {
    if (this.#stopped) return;
    if (this.#running) this.#again = true;
    else this.#running = this.#runWhileAsked();
  }

  /** No more runs; resolves once the one under way (if any) has ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#running;
  }

  async #runWhileAsked(): Promise<void> {
    // Start on the next microtask, so #running is set before the task runs (it may call run() itself).
    await Promise.resolve();
    try {
      do {
        this.#again = false;
        await this.task();
      } while (this.#again && !this.#stopped);
    } finally {
      this.#running = undefined;
    }
  }
}
