import type { AtlasClient } from '../atlas/client.ts';
import type { Db } from '../db/database.ts';
import { type ClaimedPrediction, claimDuePredictions } from '../db/queries/claimDuePredictions.ts';
import { type Reschedule, reschedulePolls } from '../db/queries/reschedulePoll.ts';
import { type PredictionChange, updatePrediction } from '../db/queries/updatePrediction.ts';
import type { PredictionRow } from '../db/schema.ts';
import type { Logger } from '../log.ts';
import { changeFromUpstream, isVisibleChange } from './observe.ts';
import { isTerminal } from './status.ts';

export interface PollerOptions {
  db: Db;
  atlas: Pick<AtlasClient, 'getPrediction'>;
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
    for (const claimed of rows) {
      const { row } = claimed;
      const job = follow(claimed)
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

  /** A write made with the lease changed nothing: another poller has the row now, so it is theirs. */
  function leaseLost(row: PredictionRow, what: string): void {
    log.warn('poll lease lost; the write was dropped', { predictionId: row.id, write: what });
  }

  async function reschedule(claimed: ClaimedPrediction, poll: Omit<Reschedule, 'id' | 'lease'>): Promise<void> {
    const [done] = await reschedulePolls(db, [{ id: claimed.row.id, lease: claimed.lease, ...poll }]);
    if (!done) leaseLost(claimed.row, 'reschedule');
  }

  async function follow(claimed: ClaimedPrediction): Promise<void> {
    const { row, dueAt, lease } = claimed;
    const now = () => new Date();
    const expired = () => Date.now() - row.createdAt.getTime() > options.predictionTimeoutMs;

    if (!row.upstreamId) {
      // Stored, but the process that was submitting it is gone: it may or may not have reached Atlas.
      await finish(claimed, {
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
      if (stopping.signal.aborted) return reschedule(claimed, { nextPollAt: new Date(), pollFailures: row.pollFailures });
      if (expired()) return timeOut(claimed, error);
      const failures = row.pollFailures + 1;
      const delay = Math.min(MAX_BACKOFF_MS, pollIntervalMs * 2 ** Math.min(failures, 10));
      log.warn('status call failed', { predictionId: row.id, upstreamId: row.upstreamId, failures, error });
      await reschedule(claimed, { nextPollAt: new Date(Date.now() + delay), pollFailures: failures });
      return;
    }

    if (change.status && isTerminal(change.status)) return finish(claimed, change);
    if (expired()) return timeOut(claimed);
    const next = new Date(Date.now() + pollIntervalMs);
    if (isVisibleChange(row, change)) {
      const updated = await updatePrediction(db, row.id, { ...change, nextPollAt: next, pollFailures: 0 }, { lease });
      if (!updated) leaseLost(row, 'change');
    } else {
      await reschedule(claimed, { nextPollAt: next, pollFailures: 0, upstreamStatus: change.upstreamStatus ?? undefined });
    }
  }

  async function finish({ row, lease }: ClaimedPrediction, change: PredictionChange): Promise<void> {
    const finished = await updatePrediction(db, row.id, { completedAt: new Date(), ...change, nextPollAt: null }, { lease });
    if (!finished) return leaseLost(row, 'finish');
    log.info('prediction finished', { predictionId: row.id, status: change.status, errorCode: change.errorCode });
  }

  /** `lastError`: the status call that failed last, so a revoked key does not read as a slow job. */
  function timeOut(claimed: ClaimedPrediction, lastError?: unknown): Promise<void> {
    const minutes = Math.round(options.predictionTimeoutMs / 60_000);
    const within = minutes >= 1 ? `${minutes} minutes` : `${options.predictionTimeoutMs} ms`;
    const why = lastError instanceof Error ? `; the last status call failed: ${lastError.message}` : '';
    return finish(claimed, { status: 'FAILED', errorCode: 'TIMED_OUT', error: `The job did not finish within ${within}${why}` });
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
