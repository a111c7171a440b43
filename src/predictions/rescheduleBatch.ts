import { setTimeout as sleep } from 'node:timers/promises';
import type { Written } from '../background/leasedWrite.ts';
import type { Reschedule } from '../db/queries/reschedulePoll.ts';
import { MAX_CLAIMED } from './pollSchedule.ts';

export interface RescheduleBatchOptions {
  /** How long a reschedule waits for others to share its statement. */
  delayMs: number;
  clock: () => number;
  /** Write the polls `stillLeased` returns, fenced by their leases and retried (leasedWrite) until `leaseUntil`; the ids written. */
  write: (leaseUntil: Date, stillLeased: () => Reschedule[]) => Promise<Written<string[]>>;
  /** A reschedule changed nothing: its row has another lease now (or, `retried`, this write's first attempt applied it). */
  onLeaseLost: (predictionId: string, retried: boolean) => void;
  /** The database stayed away as long as the leases: the rows are due again for whoever claims them. */
  onFailed: (count: number, error: unknown) => void;
}

/**
 * Reschedules (a poll's outcome when nothing visible changed, the common case) gathered for a few
 * milliseconds and written in one statement per batch.
 */
export class RescheduleBatch {
  #pending: Reschedule[] = [];
  #flushing: Promise<void> | undefined;

  constructor(private readonly options: RescheduleBatchOptions) {}

  add(poll: Reschedule): void {
    this.#pending.push(poll);
    this.#flushing ??= this.#flush();
  }

  /** Resolves once every reschedule added so far (and during the wait) is written or given up on. */
  async drained(): Promise<void> {
    while (this.#flushing) await this.#flushing;
  }

  async #flush(): Promise<void> {
    const { clock } = this.options;
    try {
      await sleep(this.options.delayMs);
      while (this.#pending.length > 0) {
        const batch = this.#pending.splice(0, MAX_CLAIMED);
        const lastLease = new Date(Math.max(...batch.map((poll) => poll.lease.getTime())));
        try {
          // Each attempt leaves out the rows whose lease has run out: those are another poller's to claim.
          const { result, retried } = await this.options.write(lastLease, () =>
            batch.filter((poll) => poll.lease.getTime() > clock()),
          );
          const done = new Set(result);
          for (const poll of batch) if (!done.has(poll.id)) this.options.onLeaseLost(poll.id, retried);
        } catch (error) {
          this.options.onFailed(batch.length, error);
        }
      }
    } finally {
      this.#flushing = undefined;
    }
  }
}
