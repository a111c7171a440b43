import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AtlasClient } from '../atlas/client.ts';
import { Claims, leasedWrite } from '../background/leasedWrite.ts';
import type { LoopHealth } from '../background/loopHealth.ts';
import type { Db } from '../db/database.ts';
import {
  type ClaimedPrediction,
  claimDuePredictions,
  type PolledRow,
  releasePollLease,
} from '../db/queries/claimDuePredictions.ts';
import { type Reschedule, reschedulePolls } from '../db/queries/reschedulePoll.ts';
import { ErrorCode } from '../errorCodes.ts';
import type { Logger } from '../log.ts';
import type { JobMetrics } from '../observability/metrics.ts';
import { isTerminal } from '../vocabulary.ts';
import { orphanedSubmission } from './orphans.ts';
import { applyChange, type EndReporting, type PredictionChange } from './transitions.ts';
import { changeFromUpstream, isVisibleChange } from './upstreamChange.ts';

export interface PollerOptions {
  db: Db;
  atlas: Pick<AtlasClient, 'getPrediction'>;
  log: Logger;
  pollIntervalMs: number;
  /** WEBHOOK_POLL_INTERVAL_MS: the interval for jobs that have an Atlas webhook; pollIntervalMs when unset. */
  webhookPollIntervalMs?: number | undefined;
  /** Status calls in flight at once, per gateway process. */
  concurrency: number;
  predictionTimeoutMs: number;
  /** How long a claim holds a row: longer than a status call can take with all its retries. */
  leaseMs: number;
  /** Whether this process is still submitting the row or writing its upstream id (so it is not abandoned). */
  isRecording?: (id: string) => boolean;
  /** Called as each status call starts, for metrics such as poll lag (`startedAt − dueAt`). */
  onPoll?: (poll: PollStart) => void;
  /** Jobs this poller ends, for metrics. */
  metrics?: JobMetrics;
  /** Where the poller reports each completed claim, for /ready. */
  health?: LoopHealth;
  /** Epoch milliseconds; Date.now but in tests that need another gateway's clock (one past a lease). */
  clock?: () => number;
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

/** The longest wait between polls after failed status calls. */
export const POLL_MAX_BACKOFF_MS = 60_000;
/** The most rows one claim takes, and one process holds claimed before polling them. */
const MAX_CLAIMED = 1_000;
/**
 * Under a backlog, hold about this much work claimed (or two claims' worth, when the database is slow),
 * so as not to hoard rows another gateway could poll sooner.
 */
const CLAIM_AHEAD_MS = 1_000;
/**
 * A claimed row that waited this long for a free slot is handed back unpolled: its lease (a status
 * call's worst case plus 5 s, see server.ts) must still outlast the call.
 */
const MAX_WAIT_MS = 4_000;

const POLL = { via: 'poll' } as const;

const clamp = (n: number, min: number, max: number) => Math.min(max, Math.max(min, n));

/**
 * Follows every unfinished prediction upstream. Each gateway process runs one; rows are shared out
 * through leases in the database, so processes never poll the same job at once.
 *
 * A job is polled every `pollIntervalMs` from when it was due, not from when its last reply came.
 * Claims start every `tick` and take, in one statement, the rows due before the next claim will have
 * returned (a tick and two claims' time ahead); each poll then starts at its due time from a local
 * timer, so neither claims nor ticks add lag. Unchanged replies, the common case, are written back
 * in batches, one statement each. Every write is fenced by the lease its claim wrote.
 */
export function startPoller(options: PollerOptions): Poller {
  const { db, atlas, log, pollIntervalMs, concurrency, clock = Date.now } = options;
  const tick = clamp(pollIntervalMs / 4, 5, 250);
  // Reschedules wait this long to share a statement; the rows stay leased meanwhile.
  const batchDelay = clamp(pollIntervalMs / 20, 1, 50);
  const loop = options.health?.register('poller', tick);
  const reporting: EndReporting = { log, metrics: options.metrics };

  const stopping = new AbortController();
  // Every status call in flight listens on it, up to POLL_CONCURRENCY at once: not a leak.
  setMaxListeners(0, stopping.signal);
  const claims = new Claims({
    stopping: stopping.signal,
    clock,
    onHandBackFailed: (error) =>
      log.error('handing back an unanswered claim failed; its rows wait out their lease', { error }),
  });
  let stopped: Promise<void> | undefined;
  /** Claimed and not yet started, soonest due first. */
  let queue: Array<ClaimedPrediction & { claimedAt: number }> = [];
  const running = new Set<Promise<void>>();
  /** The last claim took all it asked for: more rows are due, so claim again as the queue drains. */
  let backlog = false;
  let claiming: Promise<void> | undefined;
  let claimAgain = false;
  let claimTimer: NodeJS.Timeout | undefined;
  let claimAt = Number.POSITIVE_INFINITY;
  let startTimer: NodeJS.Timeout | undefined;
  let startAt = Number.POSITIVE_INFINITY;
  const pending: Reschedule[] = [];
  let flushing: Promise<void> | undefined;
  /** Moving average of status call time, to size claims under a backlog. */
  let callMs = 50;
  /** Moving average of claim time: a busy database must not make claims late. */
  let claimMs = tick / 4;

  /** How many rows to hold claimed: what the slots can poll in CLAIM_AHEAD_MS, or until the claim after next returns. */
  const claimCapacity = () => {
    const aheadMs = clamp(2 * (tick + claimMs), CLAIM_AHEAD_MS, MAX_WAIT_MS / 2);
    return clamp(Math.round((concurrency * aheadMs) / callMs), 2 * concurrency, MAX_CLAIMED);
  };

  async function claim(): Promise<void> {
    const room = claimCapacity() - queue.length;
    if (room <= 0) return loop?.completed();
    const now = clock();
    // Well inside MAX_WAIT_MS, which counts from the claim.
    const lookahead = Math.min(tick + 2 * claimMs, MAX_WAIT_MS / 4);
    const lease = new Date(now + options.leaseMs);
    const rows = await claims.take(
      lease,
      () => claimDuePredictions(db, { limit: room, dueBy: new Date(now + lookahead), leaseUntil: lease }),
      () => releasePollLease(db, lease),
    );
    loop?.completed();
    claimMs += (clock() - now - claimMs) / 4;
    backlog = rows.length === room;
    // Sorted by due time; while stopping, stop() hands these back with the rest of the queue.
    queue = [...queue, ...rows.map((claimed) => ({ ...claimed, claimedAt: now }))].sort(
      (a, b) => a.dueAt.getTime() - b.dueAt.getTime(),
    );
    startDue();
  }

  /** Claim at `delayMs` from now, or sooner if a claim is already set for sooner. */
  function claimIn(delayMs: number): void {
    const at = clock() + delayMs;
    if (stopping.signal.aborted || claimAt <= at) return;
    clearTimeout(claimTimer);
    claimAt = at;
    claimTimer = setTimeout(() => {
      claimTimer = undefined;
      claimAt = Number.POSITIVE_INFINITY;
      if (claiming) {
        claimAgain = true; // one claim at a time: this one follows as soon as the running one ends
        return;
      }
      const started = clock();
      claiming = claim()
        .catch((error: unknown) => {
          if (stopping.signal.aborted) return;
          log.error('claiming due predictions failed', { error });
          loop?.failed(error);
        })
        .finally(() => {
          claiming = undefined;
          // A tick from when this claim started, not ended: the next one covers what this one did not.
          claimIn(claimAgain ? 0 : Math.max(0, started + tick - clock()));
          claimAgain = false;
        });
    }, delayMs);
  }

  /** Start every queued poll that is due, as slots allow; then wait for the next one due. */
  function startDue(): void {
    if (stopping.signal.aborted) return;
    const now = clock();
    while (running.size < concurrency && queue.length > 0 && queue[0]!.dueAt.getTime() <= now) {
      const claimed = queue.shift()!;
      if (now - claimed.claimedAt > MAX_WAIT_MS) handBack(claimed);
      else start(claimed);
    }
    if (backlog && queue.length <= claimCapacity() / 2) claimIn(0);
    // With every slot busy, a poll ending calls this again.
    if (queue.length > 0 && running.size < concurrency) startAtTime(queue[0]!.dueAt.getTime());
  }

  function startAtTime(at: number): void {
    if (startAt <= at) return;
    clearTimeout(startTimer);
    startAt = at;
    startTimer = setTimeout(
      () => {
        startTimer = undefined;
        startAt = Number.POSITIVE_INFINITY;
        startDue();
      },
      Math.max(0, at - clock()),
    );
  }

  function start(claimed: ClaimedPrediction): void {
    const poll = follow(claimed)
      .catch((error: unknown) => {
        // The lease runs out and the row is polled again: nothing is lost.
        if (!stopping.signal.aborted) log.error('poll failed', { predictionId: claimed.row.id, error });
      })
      .finally(() => {
        running.delete(poll);
        startDue();
      });
    running.add(poll);
  }

  /**
   * A write made with the lease changed nothing: another poller has the row now, so it is theirs. After
   * a retry it may instead have been this write's own first attempt, applied without an answer.
   */
  function leaseLost(predictionId: string, write: string, retried = false): void {
    if (retried)
      log.debug('a retried poll write found its fence moved (applied before, or the lease passed on)', {
        predictionId,
        write,
      });
    else log.warn('poll lease lost; the write was dropped', { predictionId, write });
  }

  /** A fenced write under this lease, retried until the database answers or the lease runs out. */
  const writeUnderLease = <T>(lease: Date, write: () => Promise<T>, what: string) =>
    leasedWrite(write, {
      leaseUntil: lease,
      stopping: stopping.signal,
      clock,
      onRetry: (error, attempt) => log.warn(`${what} failed; retrying while the lease lasts`, { attempt, error }),
    });

  /** Queue a fenced reschedule; batches of them go out in one statement (flush). */
  function reschedule({ row, lease }: ClaimedPrediction, poll: Omit<Reschedule, 'id' | 'lease'>): void {
    pending.push({ id: row.id, lease, ...poll });
    flushing ??= flush();
  }

  /**
   * Give a claimed row back for whoever claims next, due when it was due, and one millisecond later:
   * the value it had when claimed may have been the lease of a gateway that lost it, and that
   * gateway's late writes must keep failing their fence.
   */
  function handBack(claimed: ClaimedPrediction): void {
    reschedule(claimed, { nextPollAt: new Date(claimed.dueAt.getTime() + 1), pollFailures: claimed.row.pollFailures });
  }

  async function flush(): Promise<void> {
    try {
      await sleep(batchDelay);
      while (pending.length > 0) {
        const batch = pending.splice(0, MAX_CLAIMED);
        const lastLease = new Date(Math.max(...batch.map((poll) => poll.lease.getTime())));
        try {
          // Each attempt leaves out the rows whose lease has run out: those are another poller's to claim.
          const live = () => batch.filter((poll) => poll.lease.getTime() > clock());
          const { result, retried } = await writeUnderLease(
            lastLease,
            () => reschedulePolls(db, live()),
            'rescheduling polls',
          );
          const done = new Set(result);
          for (const poll of batch) if (!done.has(poll.id)) leaseLost(poll.id, 'reschedule', retried);
        } catch (error) {
          // The database stayed away as long as the leases: the rows are due again for whoever claims them.
          log.error('rescheduling polls failed', { count: batch.length, error });
        }
      }
    } finally {
      flushing = undefined;
    }
  }

  /**
   * From when the poll was due, not from when its reply came, so the interval holds. A poll that
   * started late moves the next one later by what it was late beyond a tenth of the interval: jobs
   * all due at once (after an outage) spread out over the interval instead of staying in a bunch
   * that is polled late every time. Never in the past.
   */
  const nextPollAt = (dueAt: Date, startedAt: Date, intervalMs: number) =>
    new Date(Math.max(dueAt.getTime() + intervalMs, startedAt.getTime() + intervalMs - intervalMs / 10, clock()));

  /** Jobs with a webhook are polled less often, but never past their deadline, so they still time out on time. */
  const intervalOf = (row: PolledRow) =>
    row.hasAtlasWebhook ? (options.webhookPollIntervalMs ?? pollIntervalMs) : pollIntervalMs;
  const nextPollOf = (row: PolledRow, dueAt: Date, startedAt: Date) => {
    const next = nextPollAt(dueAt, startedAt, intervalOf(row));
    if (!row.hasAtlasWebhook) return next;
    // One millisecond past the deadline, so that poll finds the job expired.
    return new Date(Math.max(Math.min(next.getTime(), deadlineOf(row).getTime() + 1), clock()));
  };

  async function follow(claimed: ClaimedPrediction): Promise<void> {
    const { row, dueAt, lease } = claimed;
    const now = () => new Date(clock());
    const expired = () => clock() > deadlineOf(row).getTime();

    if (!row.upstreamId && options.isRecording?.(row.id)) {
      // Submitted by this process, which is still at it (or holds the id the database refused so far): not abandoned.
      return reschedule(claimed, { nextPollAt: new Date(clock() + options.leaseMs), pollFailures: row.pollFailures });
    }
    if (!row.upstreamId) {
      // Stored, but the process that was submitting it is gone: it may or may not have reached Atlas.
      const orphan = orphanedSubmission(row, deadlineOf(row), clock());
      if ('waitUntil' in orphan)
        return reschedule(claimed, { nextPollAt: orphan.waitUntil, pollFailures: row.pollFailures });
      await finish(claimed, orphan.failure);
      return;
    }

    let change: PredictionChange;
    const startedAt = now();
    options.onPoll?.({ predictionId: row.id, dueAt, startedAt });
    try {
      change = changeFromUpstream(await atlas.getPrediction(row.upstreamId, stopping.signal), now());
      callMs += (clock() - startedAt.getTime() - callMs) / 10;
    } catch (error) {
      // Stopping: hand the row back now rather than let another gateway wait out the lease.
      if (stopping.signal.aborted) return handBack(claimed);
      if (expired()) return timeOut(claimed, error);
      const failures = row.pollFailures + 1;
      const delay = Math.min(POLL_MAX_BACKOFF_MS, intervalOf(row) * 2 ** Math.min(failures, 10));
      log.warn('status call failed', { predictionId: row.id, upstreamId: row.upstreamId, failures, error });
      return reschedule(claimed, { nextPollAt: new Date(clock() + delay), pollFailures: failures });
    }

    if (change.status && isTerminal(change.status)) return finish(claimed, change);
    if (expired()) return timeOut(claimed);
    const next = nextPollOf(row, dueAt, startedAt);
    if (isVisibleChange(row, change)) {
      const { result: updated, retried } = await writeUnderLease(
        lease,
        () =>
          applyChange(db, reporting, row.id, { ...change, nextPollAt: next, pollFailures: 0 }, { lease, source: POLL }),
        'writing a change',
      );
      if (!updated) leaseLost(row.id, 'change', retried);
    } else {
      reschedule(claimed, { nextPollAt: next, pollFailures: 0, upstreamStatus: change.upstreamStatus ?? undefined });
    }
  }

  async function finish({ row, lease }: ClaimedPrediction, change: PredictionChange): Promise<void> {
    const completedAt = new Date(clock());
    const { result: finished, retried } = await writeUnderLease(
      lease,
      () => applyChange(db, reporting, row.id, { completedAt, ...change, nextPollAt: null }, { lease, source: POLL }),
      'finishing a job',
    );
    if (!finished) {
      // A webhook delivery finished it while this poll was under way: not a lost lease, just second.
      if (row.hasAtlasWebhook)
        return log.debug('poll result dropped: the job had already ended', { predictionId: row.id });
      return leaseLost(row.id, 'finish', retried);
    }
  }

  /** `lastError`: the status call that failed last, so a revoked key does not read as a slow job. */
  /** The caller's timeoutSeconds, else PREDICTION_TIMEOUT_MS (rows from before deadlines were stored). */
  function deadlineOf(row: PolledRow): Date {
    return row.deadlineAt ?? new Date(row.createdAt.getTime() + options.predictionTimeoutMs);
  }

  function timeOut(claimed: ClaimedPrediction, lastError?: unknown): Promise<void> {
    const { row } = claimed;
    const allowedMs = deadlineOf(row).getTime() - row.createdAt.getTime();
    const within =
      allowedMs >= 120_000
        ? `${Math.round(allowedMs / 60_000)} minutes`
        : allowedMs >= 1_000
          ? `${Math.round(allowedMs / 1000)} s`
          : `${allowedMs} ms`;
    const why = lastError instanceof Error ? `; the last status call failed: ${lastError.message}` : '';
    return finish(claimed, {
      status: 'FAILED',
      errorCode: ErrorCode.TIMED_OUT,
      error: `The job did not finish within ${within}${why}`,
    });
  }

  claimIn(0);

  return {
    stop() {
      stopped ??= (async () => {
        stopping.abort();
        clearTimeout(claimTimer);
        clearTimeout(startTimer);
        await claiming;
        // Calls under way are aborted and hand their rows back; so do the rows not yet started.
        const unstarted = queue;
        queue = [];
        for (const claimed of unstarted) handBack(claimed);
        await Promise.allSettled(running);
        while (flushing) await flushing;
      })();
      return stopped;
    },
  };
}
