import { setTimeout as sleep } from 'node:timers/promises';
import type { LogFields, Logger } from '../log.ts';
import { withTimeout } from '../observability/timeout.ts';

/**
 * How long one database call of a background loop may take. A cut connection usually fails a query
 * at once, but one that went silent (a half-open socket, a stalled proxy) would hold its loop forever.
 */
export const LOOP_QUERY_DEADLINE_MS = 5_000;

const FIRST_RETRY_MS = 100;

/**
 * When a loop tries again after a failed claim: soon, and at a random point, so a loop whose interval
 * is a multiple of some fault's period (a connection killer running every second) does not meet it
 * every time.
 */
export const retryClaimInMs = (random = Math.random) => Math.round(100 + 400 * random());
const MAX_RETRY_MS = 1_000;

export interface LeasedWriteOptions {
  /** When the lease behind the write runs out: after that its fence refuses it, so trying is pointless. */
  leaseUntil: Date;
  /** Once aborted (the loop is stopping), one more attempt at most. */
  stopping?: AbortSignal;
  /** Told of each failed attempt that will be tried again. */
  onRetry?: (error: unknown, attempt: number) => void;
  clock?: () => number;
}

export interface Written<T> {
  result: T;
  /**
   * An earlier attempt failed without an answer, so it may have been applied: a fenced write that then
   * finds its fence moved may be finding its own earlier success, not another worker's claim.
   */
  retried: boolean;
}

/**
 * Make a write fenced by a lease this process holds, trying again until the database answers or the
 * lease runs out. The process still knows the row, so a write that failed on a cut connection is
 * made as soon as the database is back instead of leaving the row leased (for minutes) for nothing.
 * Safe because the fence makes a repeat harmless: once applied, or once the lease has moved on, the
 * write changes nothing. Throws the last error when it gives up.
 */
export async function leasedWrite<T>(write: () => Promise<T>, options: LeasedWriteOptions): Promise<Written<T>> {
  const clock = options.clock ?? Date.now;
  for (let attempt = 1; ; attempt++) {
    try {
      return { result: await withTimeout(write(), LOOP_QUERY_DEADLINE_MS), retried: attempt > 1 };
    } catch (error) {
      const delay = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** (attempt - 1));
      if (options.stopping?.aborted && attempt > 1) throw error;
      if (clock() + delay >= options.leaseUntil.getTime()) throw error;
      options.onRetry?.(error, attempt);
      await sleep(delay);
    }
  }
}

/**
 * Log a fenced write that changed nothing. Its lease has usually passed to another worker: a warning.
 * After a retry (Written.retried) the fence may instead have moved under the write's own first
 * attempt, applied without an answer: nothing was lost, so only at debug level.
 */
export function logLeaseLost(
  log: Pick<Logger, 'warn' | 'debug'>,
  retried: boolean,
  messages: { lost: string; retried: string },
  fields: LogFields,
): void {
  if (retried) log.debug(messages.retried, fields);
  else log.warn(messages.lost, fields);
}

/**
 * One loop's claims, each bounded by LOOP_QUERY_DEADLINE_MS. A claim whose answer never came may
 * still have leased rows (committed, then the connection was cut, or it answers after the deadline):
 * once it settles, whatever carries its lease is handed back, retried until that succeeds or the
 * lease runs out by itself. Until it settles no new claim starts, so queries cut off by the deadline
 * never pile up on the pool.
 *
 * `handBack` matches the claim's lease exactly. Two claims in one millisecond share that value; then
 * the other claimer's rows are handed back too, and its fenced writes find the fence moved: those
 * rows are only worked on again sooner, never wrongly written.
 */
export class Claims {
  #unsettled: Promise<void> | undefined;

  constructor(
    private readonly options: {
      stopping?: AbortSignal;
      clock?: () => number;
      onHandBackFailed: (error: unknown) => void;
    },
  ) {}

  async take<T>(lease: Date, claim: () => Promise<T>, handBack: () => Promise<unknown>): Promise<T> {
    await this.#unsettled;
    const claiming = claim();
    try {
      return await withTimeout(claiming, LOOP_QUERY_DEADLINE_MS);
    } catch (error) {
      const settled = claiming.then(
        () => {},
        () => {},
      );
      this.#unsettled = settled;
      void settled
        .then(() => leasedWrite(handBack, { ...this.options, leaseUntil: lease }))
        .then(
          () => {},
          (cause: unknown) => this.options.onHandBackFailed(cause),
        )
        .finally(() => {
          if (this.#unsettled === settled) this.#unsettled = undefined;
        });
      throw error;
    }
  }
}
