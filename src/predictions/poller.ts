import { setMaxListeners } from 'node:events';
import type { AtlasClient } from '../atlas/client.ts';
import { Claims, leasedWrite, logLeaseLost, type Written } from '../background/leasedWrite.ts';
import type { LoopHealth } from '../background/loopHealth.ts';
import { SingleFlight } from '../background/singleFlight.ts';
import type { Db } from '../db/database.ts';
import { type ClaimedPrediction, claimDuePredictions, releasePollLease } from '../db/queries/claimDuePredictions.ts';
import { findPrediction } from '../db/queries/findPrediction.ts';
import { type Reschedule, reschedulePolls } from '../db/queries/reschedulePoll.ts';
import type { Logger } from '../log.ts';
import type { JobMetrics } from '../observability/metrics.ts';
import { isTerminal } from '../vocabulary.ts';
import { orphanedSubmission } from './orphans.ts';
import {
  ClaimPace,
  ClaimSizer,
  claimTickMs,
  deadlineOf,
  IDLE_CLAIM_CAP_MS,
  MAX_WAIT_MS,
  type PollSettings,
  rescheduleBatchDelayMs,
} from './pollSchedule.ts';
import { decideReply, type Reply } from './replyDecision.ts';
import { RescheduleBatch } from './rescheduleBatch.ts';
import { applyChange, type EndReporting, type PredictionChange } from './transitions.ts';
import { changeFromUpstream } from './upstreamChange.ts';

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
  /** Called as each claim returns: rows asked for, rows taken, and its round trip, for the bench. */
  onClaim?: (claim: ClaimTaken) => void;
  /** Jobs this poller ends, for metrics. */
  metrics?: JobMetrics;
  /** Where the poller reports each completed claim, for /ready. */
  health?: LoopHealth;
  /** Epoch milliseconds; Date.now but in tests that need another gateway's clock (one past a lease). */
  clock?: () => number;
}

export interface ClaimTaken {
  /** Rows the claim asked for, and took. */
  asked: number;
  claimed: number;
  /** Of those, already due when the claim returned (so late before they were queued). */
  overdue: number;
  ms: number;
}

export interface PollStart {
  predictionId: string;
  /** When the job was due for this poll. */
  dueAt: Date;
  startedAt: Date;
}

export interface Poller {
  /** A row came due soon somewhere (a notice; see wakesPoller): an idle poller claims every tick again. */
  wake(): void;
  stop(): Promise<void>;
}

export { POLL_MAX_BACKOFF_MS } from './pollSchedule.ts';

const POLL = { via: 'poll' } as const;

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
  const { db, atlas, log, concurrency, clock = Date.now } = options;
  const settings: PollSettings = options;
  const tick = claimTickMs(options.pollIntervalMs);
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
  const sizer = new ClaimSizer(concurrency, tick);
  const pace = new ClaimPace(tick, IDLE_CLAIM_CAP_MS);
  const reschedules = new RescheduleBatch({
    delayMs: rescheduleBatchDelayMs(options.pollIntervalMs),
    clock,
    write: (lease, stillLeased) =>
      writeUnderLease(lease, () => reschedulePolls(db, stillLeased()), 'rescheduling polls'),
    onLeaseLost: (predictionId, retried) => leaseLost(predictionId, 'reschedule', retried),
    onFailed: (count, error) => log.error('rescheduling polls failed', { count, error }),
  });
  let stopped: Promise<void> | undefined;
  /** Claimed and not yet started, soonest due first. */
  let queue: Array<ClaimedPrediction & { claimedAt: number }> = [];
  const running = new Set<Promise<void>>();
  /** The last claim took all it asked for: more rows are due, so claim again as the queue drains. */
  let backlog = false;
  const claiming = new SingleFlight(async () => {
    // A tick (or the idle pace) from when this claim started, not ended: the next one covers what this
    // one did not (and, if this one takes longer, follows it at once).
    claimIn(pace.delayMs);
    try {
      await claim();
    } catch (error) {
      if (stopping.signal.aborted) return;
      log.error('claiming due predictions failed', { error });
      loop?.failed(error);
    }
  });
  /** One timer each for the next claim and the next start, set for the soonest asked. */
  let claimTimer: NodeJS.Timeout | undefined;
  let claimAt = Number.POSITIVE_INFINITY;
  let startTimer: NodeJS.Timeout | undefined;
  let startAt = Number.POSITIVE_INFINITY;

  /** Whether claimed rows wait past their due time here: then claims hold only what this process keeps up with. */
  function behind(now: number): { now: number } | undefined {
    return queue.length > 0 && queue[0]!.dueAt.getTime() < now - tick ? { now } : undefined;
  }

  async function claim(): Promise<void> {
    const now = clock();
    const room = sizer.capacity(behind(now)) - queue.length;
    if (room <= 0) return loop?.completed();
    const lease = new Date(now + options.leaseMs);
    const dueBy = new Date(now + sizer.lookaheadMs(pace.delayMs));
    const rows = await claims.take(
      lease,
      () => claimDuePredictions(db, { limit: room, dueBy, leaseUntil: lease }),
      () => releasePollLease(db, lease),
    );
    loop?.completed();
    sizer.recordClaim(clock() - now);
    if (options.onClaim) {
      const returned = clock();
      const overdue = rows.filter((claimed) => claimed.dueAt.getTime() < returned).length;
      options.onClaim({ asked: room, claimed: rows.length, overdue, ms: returned - now });
    }
    pace.claimed(rows.length, queue.length > 0 || running.size > 0);
    if (!pace.idle) claimIn(tick);
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
      // One claim at a time: while one runs, this one follows as soon as it ends.
      claiming.run();
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
    if (backlog && queue.length <= sizer.capacity(behind(now)) / 2) claimIn(0);
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
    sizer.recordStart(clock());
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

  /** Poll one claimed job and write what its reply means. */
  async function follow(claimed: ClaimedPrediction): Promise<void> {
    const { row, dueAt } = claimed;

    if (!row.upstreamId && options.isRecording?.(row.id)) {
      // Submitted by this process, which is still at it (or holds the id the database refused so far): not abandoned.
      return reschedule(claimed, { nextPollAt: new Date(clock() + options.leaseMs), pollFailures: row.pollFailures });
    }
    if (!row.upstreamId) {
      // Stored, but the process that was submitting it is gone: it may or may not have reached Atlas.
      const orphan = orphanedSubmission(row, deadlineOf(row, settings), clock());
      if ('waitUntil' in orphan)
        return reschedule(claimed, { nextPollAt: orphan.waitUntil, pollFailures: row.pollFailures });
      return finish(claimed, orphan.failure);
    }

    let reply: Reply;
    const startedAt = new Date(clock());
    options.onPoll?.({ predictionId: row.id, dueAt, startedAt });
    try {
      reply = {
        change: changeFromUpstream(await atlas.getPrediction(row.upstreamId, stopping.signal), new Date(clock())),
      };
      sizer.recordCall(clock() - startedAt.getTime());
    } catch (error) {
      // Stopping: hand the row back now rather than let another gateway wait out the lease.
      if (stopping.signal.aborted) return handBack(claimed);
      reply = { error };
    }

    const decision = decideReply(claimed, reply, startedAt, clock(), settings);
    switch (decision.kind) {
      case 'finish':
      case 'timeOut':
        return finish(claimed, decision.change);
      case 'retry':
        log.warn('status call failed', {
          predictionId: row.id,
          upstreamId: row.upstreamId,
          failures: decision.pollFailures,
          error: 'error' in reply ? reply.error : undefined,
        });
        return reschedule(claimed, { nextPollAt: decision.nextPollAt, pollFailures: decision.pollFailures });
      case 'keepPolling':
        return reschedule(claimed, {
          nextPollAt: decision.nextPollAt,
          pollFailures: 0,
          upstreamStatus: decision.upstreamStatus,
        });
      case 'write':
        return write(claimed, { ...decision.change, nextPollAt: decision.nextPollAt, pollFailures: 0 });
    }
  }

  /** Write a change clients see, under the claim's lease. */
  async function write({ row, lease }: ClaimedPrediction, change: PredictionChange): Promise<void> {
    const { result: updated, retried } = await writeUnderLease(
      lease,
      () => applyChange(db, reporting, row.id, change, { lease, source: POLL }),
      'writing a change',
    );
    if (!updated) return notWritten(row.id, 'change', retried);
  }

  async function finish({ row, lease }: ClaimedPrediction, change: PredictionChange): Promise<void> {
    const completedAt = new Date(clock());
    const { result: finished, retried } = await writeUnderLease(
      lease,
      () => applyChange(db, reporting, row.id, { completedAt, ...change, nextPollAt: null }, { lease, source: POLL }),
      'finishing a job',
    );
    if (!finished) return notWritten(row.id, 'finish', retried);
  }

  /**
   * A poll's write changed nothing. Usually the job ended meanwhile (a cancel, or an Atlas webhook,
   * while the status call was under way): this poll is just second, nothing to warn about. Otherwise
   * another poller holds the row now.
   */
  async function notWritten(predictionId: string, write: string, retried: boolean): Promise<void> {
    const now = await findPrediction(db, predictionId).catch(() => undefined);
    if (now && isTerminal(now.status))
      return log.debug('poll result dropped: the job had already ended', { predictionId, status: now.status });
    leaseLost(predictionId, write, retried);
  }

  /** Queue a fenced reschedule; batches of them go out in one statement. */
  function reschedule({ row, lease }: ClaimedPrediction, poll: Omit<Reschedule, 'id' | 'lease'>): void {
    reschedules.add({ id: row.id, lease, ...poll });
  }

  /**
   * Give a claimed row back for whoever claims next, due when it was due, and one millisecond later:
   * the value it had when claimed may have been the lease of a gateway that lost it, and that
   * gateway's late writes must keep failing their fence.
   */
  function handBack(claimed: ClaimedPrediction): void {
    reschedule(claimed, { nextPollAt: new Date(claimed.dueAt.getTime() + 1), pollFailures: claimed.row.pollFailures });
  }

  /** A fenced write under this lease, retried until the database answers or the lease runs out. */
  function writeUnderLease<T>(lease: Date, write: () => Promise<T>, what: string): Promise<Written<T>> {
    return leasedWrite(write, {
      leaseUntil: lease,
      stopping: stopping.signal,
      clock,
      onRetry: (error, attempt) => log.warn(`${what} failed; retrying while the lease lasts`, { attempt, error }),
    });
  }

  /**
   * A write made with the lease changed nothing: another poller has the row now, so it is theirs. After
   * a retry it may instead have been this write's own first attempt, applied without an answer.
   */
  function leaseLost(predictionId: string, write: string, retried: boolean): void {
    logLeaseLost(
      log,
      retried,
      {
        lost: 'poll lease lost; the write was dropped',
        retried: 'a retried poll write found its fence moved (applied before, or the lease passed on)',
      },
      { predictionId, write },
    );
  }

  claimIn(0);

  return {
    wake() {
      if (!pace.idle) return;
      pace.wake();
      claimIn(tick);
    },
    stop() {
      stopped ??= (async () => {
        stopping.abort();
        clearTimeout(claimTimer);
        clearTimeout(startTimer);
        await claiming.stop();
        // Calls under way are aborted and hand their rows back; so do the rows not yet started.
        const unstarted = queue;
        queue = [];
        for (const claimed of unstarted) handBack(claimed);
        await Promise.allSettled(running);
        await reschedules.drained();
      })();
      return stopped;
    },
  };
}
