import type { AtlasClient } from '../atlas/client.ts';
import type { Db } from '../db/database.ts';
import { claimDuePredictions } from '../db/queries/claimDuePredictions.ts';
import { reschedulePoll } from '../db/queries/reschedulePoll.ts';
import { type PredictionChange, updatePrediction } from '../db/queries/updatePrediction.ts';
import type { PredictionRow } from '../db/schema.ts';
import type { Logger } from '../log.ts';
import { changeFromUpstream, isVisibleChange } from './observe.ts';
import { isTerminal } from './status.ts';

export interface PollerOptions {
  db: Db;
  atlas: AtlasClient;
  log: Logger;
  pollIntervalMs: number;
  /** Status calls in flight at once, per gateway process. */
  concurrency: number;
  predictionTimeoutMs: number;
  /** How long a claim holds a row: longer than a status call can take with all its retries. */
  leaseMs: number;
  /** Called as each status call starts, for metrics such as poll lag (`startedAt − dueAt`). */
  onPoll?: (poll: PollStart) => void;
}

export interface PollStart {
  predictionId: string;
  /** When the job was due for this poll. */
  dueAt: Date;
  startedAt: Date;
}

export interface Poller {
  stop(): Promise<void>;
}

const MAX_BACKOFF_MS = 60_000;

/**
 * Follows every unfinished prediction upstream. Each gateway process runs one; rows are shared out
 * through leases in the database, so processes never poll the same job at once.
 */
export function startPoller(options: PollerOptions): Poller {
  const { db, atlas, log, pollIntervalMs, concurrency } = options;
  const inFlight = new Set<Promise<void>>();
  const stopping = new AbortController();
  let claiming: Promise<number> | undefined;
  /** The last claim filled every free slot, so more rows may be due: claim again as slots free up. */
  let backlog = false;

  async function claim(): Promise<number> {
    const free = concurrency - inFlight.size;
    if (free <= 0 || stopping.signal.aborted) return 0;
    const now = new Date();
    const rows = await claimDuePredictions(db, { limit: free, dueBy: now, leaseUntil: new Date(now.getTime() + options.leaseMs) });
    backlog = rows.length === free;
    for (const { row, dueAt } of rows) {
      const job = follow(row, dueAt)
        .catch((error: unknown) => {
          // The lease runs out and the row is polled again: nothing is lost.
          if (!stopping.signal.aborted) log.error('poll failed', { predictionId: row.id, error });
        })
        .finally(() => {
          inFlight.delete(job);
          if (backlog) void tick();
        });
      inFlight.add(job);
    }
    return rows.length;
  }

  function tick(): Promise<number> {
    claiming ??= claim()
      .catch((error: unknown) => {
        if (!stopping.signal.aborted) log.error('claiming due predictions failed', { error });
        return 0;
      })
      .finally(() => (claiming = undefined));
    return claiming;
  }

  async function follow(row: PredictionRow, dueAt: Date): Promise<void> {
    const now = () => new Date();
    const expired = () => Date.now() - row.createdAt.getTime() > options.predictionTimeoutMs;

    if (!row.upstreamId) {
      // Stored, but the process that was submitting it is gone: it may or may not have reached Atlas.
      await finish(row, {
        status: 'FAILED',
        errorCode: 'SUBMISSION_UNKNOWN',
        error: 'The gateway stopped while submitting this job; it may have been created and billed upstream',
      });
      return;
    }

    let change: PredictionChange;
    options.onPoll?.({ predictionId: row.id, dueAt, startedAt: new Date() });
    try {
      change = changeFromUpstream(await atlas.getPrediction(row.upstreamId, stopping.signal), now());
    } catch (error) {
      // Stopping: hand the row back now rather than let another gateway wait out the lease.
      if (stopping.signal.aborted) return reschedulePoll(db, row.id, { nextPollAt: new Date(), pollFailures: row.pollFailures });
      if (expired()) return timeOut(row, error);
      const failures = row.pollFailures + 1;
      const delay = Math.min(MAX_BACKOFF_MS, pollIntervalMs * 2 ** Math.min(failures, 10));
      log.warn('status call failed', { predictionId: row.id, upstreamId: row.upstreamId, failures, error });
      await reschedulePoll(db, row.id, { nextPollAt: new Date(Date.now() + delay), pollFailures: failures });
      return;
    }

    if (change.status && isTerminal(change.status)) return finish(row, change);
    if (expired()) return timeOut(row);
    const next = new Date(Date.now() + pollIntervalMs);
    if (isVisibleChange(row, change)) {
      await updatePrediction(db, row.id, { ...change, nextPollAt: next, pollFailures: 0 });
    } else {
      await reschedulePoll(db, row.id, { nextPollAt: next, pollFailures: 0, upstreamStatus: change.upstreamStatus });
    }
  }

  async function finish(row: PredictionRow, change: PredictionChange): Promise<void> {
    await updatePrediction(db, row.id, { completedAt: new Date(), ...change, nextPollAt: null });
    log.info('prediction finished', { predictionId: row.id, status: change.status, errorCode: change.errorCode });
  }

  /** `lastError`: the status call that failed last, so a revoked key does not read as a slow job. */
  function timeOut(row: PredictionRow, lastError?: unknown): Promise<void> {
    const minutes = Math.round(options.predictionTimeoutMs / 60_000);
    const within = minutes >= 1 ? `${minutes} minutes` : `${options.predictionTimeoutMs} ms`;
    const why = lastError instanceof Error ? `; the last status call failed: ${lastError.message}` : '';
    return finish(row, { status: 'FAILED', errorCode: 'TIMED_OUT', error: `The job did not finish within ${within}${why}` });
  }

  const timer = setInterval(tick, Math.max(10, Math.min(250, pollIntervalMs / 2)));

  return {
    async stop() {
      clearInterval(timer);
      stopping.abort();
      await claiming;
      await Promise.allSettled(inFlight);
    },
  };
}
