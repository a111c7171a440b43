/**
 * Calls `wake` at each time it is given (a loop's own retries, due at times it knows), however they
 * interleave. One timer, set for the earliest time still waiting: a later time given while an earlier
 * one waits is kept for after it, and an earlier one does not push a later one out. (A single "next
 * retry" timer lost one of the two, and that retry waited for the loop's sweep instead.)
 */
export class WakeTimes {
  /** Times still to wake at, earliest first. */
  readonly #times: number[] = [];
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #stopped = false;

  constructor(
    private readonly wake: () => void,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Wake at `time` (ms since the epoch); at once if it is past. */
  at(time: number): void {
    if (this.#stopped) return;
    const index = this.#times.findIndex((waiting) => waiting > time);
    this.#times.splice(index < 0 ? this.#times.length : index, 0, time);
    this.#arm();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#times.length = 0;
  }

  #arm(): void {
    const next = this.#times[0];
    if (next === undefined || next >= this.#timerAt) return;
    clearTimeout(this.#timer);
    this.#timerAt = next;
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, next - this.clock()));
  }

  #fire(): void {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const now = this.clock();
    while (this.#times.length > 0 && this.#times[0]! <= now) this.#times.shift();
    this.wake();
    this.#arm();
  }
}
