import {
  Claims,
  LOOP_QUERY_DEADLINE_MS,
  leasedWrite,
  logLeaseLost,
  retryClaimInMs,
} from '../background/leasedWrite.ts';
import type { LoopHealth } from '../background/loopHealth.ts';
import { SingleFlight } from '../background/singleFlight.ts';
import type { Db } from '../db/database.ts';
import { type ClaimedMirror, claimMirrors, releaseMirrorLease } from '../db/queries/claimMirrors.ts';
import { extendMirrorLease } from '../db/queries/extendMirrorLease.ts';
import type { StoredOutputFile } from '../db/schema.ts';
import type { Logger } from '../log.ts';
import type { JobMetrics } from '../observability/metrics.ts';
import { withTimeout } from '../observability/timeout.ts';
import { ClaimPace, IDLE_CLAIM_CAP_MS } from '../predictions/pollSchedule.ts';
import { type EndReporting, finishCopy, recordCopyFailure } from '../predictions/transitions.ts';
import type { VideoStorage } from '../storage/storage.ts';
import { CopyFailed, copyOutput } from './copy.ts';

export interface MirrorWorkerOptions {
  db: Db;
  /** Undefined: this gateway keeps no copies (STORAGE_URL=none) and releases waiting jobs with Atlas' links. */
  storage: VideoStorage | undefined;
  log: Logger;
  maxBytes: number;
  /** One copy attempt, all outputs, end to end. */
  timeoutMs: number;
  /** How long a job may wait for its copy (from Atlas' success) before it is SUCCEEDED with Atlas' links. */
  holdMs: number;
  /** How long a claim holds a copy; renewed every third of it while the copy runs. */
  leaseMs: number;
  concurrency: number;
  /** First retry delay; doubled each attempt up to MAX_RETRY_MS. */
  retryBaseMs: number;
  /** How often to look for due copies. */
  tickMs: number;
  /** Jobs ended here (released to SUCCEEDED), for metrics. */
  metrics?: JobMetrics;
  /** Where the copier reports each completed claim, for /ready. */
  health?: LoopHealth;
}

export interface MirrorWorker {
  /** Copies may be due now (a change announced one): end an idle pace and claim at once. */
  wake(): void;
  stop(): Promise<void>;
}

const MAX_RETRY_MS = 3_600_000;
/** With the doubling and the cap, about ten hours of retries; Atlas keeps outputs a day or more. */
const MAX_ATTEMPTS = 20;

/** The lease is gone (another gateway has the copy): stop without writing anything. */
class LeaseLost extends Error {}

/**
 * Copies each succeeded job's outputs into the gateway's storage. Every gateway process runs one;
 * copies are shared out through leases in Postgres (mirror_next_at, claimed with SKIP LOCKED and
 * renewed while a copy runs), so two processes never copy the same job at once, and a copy cut by a
 * crash is started again by whichever process claims it after the lease runs out.
 */
export function startMirrorWorker(options: MirrorWorkerOptions): MirrorWorker {
  const { db, storage, log, concurrency } = options;
  const stopping = new AbortController();
  const running = new Set<Promise<void>>();
  let timer: NodeJS.Timeout | undefined;
  const loop = options.health?.register('copier', options.tickMs);
  const reporting: EndReporting = { log, metrics: options.metrics };
  const claims = new Claims({
    stopping: stopping.signal,
    onHandBackFailed: (error) =>
      log.error('handing back an unanswered copy claim failed; its copies wait out their lease', { error }),
  });

  // Claims that find nothing wait longer each time, up to IDLE_CLAIM_CAP_MS (an idle gateway with
  // storage claimed every 250 ms for ever); a copy falling due is announced and wakes it (wake below).
  const pace = new ClaimPace(options.tickMs, Math.max(options.tickMs, IDLE_CLAIM_CAP_MS));
  const claiming = new SingleFlight(async () => {
    const claimed = await claim();
    if (claimed === undefined) return schedule(retryClaimInMs());
    pace.claimed(claimed, running.size > 0);
    schedule(pace.delayMs);
  });

  /** Claim in `delayMs` (instead of when set before); one claim at a time, a second follows the first. */
  function schedule(delayMs: number): void {
    if (stopping.signal.aborted) return;
    clearTimeout(timer);
    timer = setTimeout(() => claiming.run(), delayMs);
  }

  /** How many copies the claim took; undefined when it failed. */
  async function claim(): Promise<number | undefined> {
    const room = concurrency - running.size;
    if (room <= 0) {
      loop?.completed();
      return 0;
    }
    let claimed: ClaimedMirror[];
    const now = new Date();
    const lease = new Date(now.getTime() + options.leaseMs);
    try {
      claimed = await claims.take(
        lease,
        () => claimMirrors(db, { limit: room, now, leaseUntil: lease }),
        () => releaseMirrorLease(db, lease),
      );
    } catch (error) {
      log.error('claiming copies failed', { error });
      loop?.failed(error);
      return undefined;
    }
    loop?.completed();
    for (const job of claimed) {
      const copy = mirror(job)
        .catch((error: unknown) =>
          log.error('copying outputs failed unexpectedly', { predictionId: job.job.id, error }),
        )
        .finally(() => {
          running.delete(copy);
          // A slot is free: look for more at once rather than at the next tick.
          if (!stopping.signal.aborted) schedule(0);
        });
      running.add(copy);
    }
    return claimed.length;
  }

  /** A fenced write under the copy's lease, retried until the database answers or the lease runs out. */
  const writeUnderLease = <T>(predictionId: string, lease: Date, write: () => Promise<T>) =>
    leasedWrite(write, {
      leaseUntil: lease,
      stopping: stopping.signal,
      onRetry: (error, attempt) =>
        log.warn("writing a copy's outcome failed; retrying while the lease lasts", { predictionId, attempt, error }),
    });

  async function mirror(claimed: ClaimedMirror): Promise<void> {
    const { job } = claimed;
    let lease = claimed.lease;
    if (!storage) {
      await writeUnderLease(job.id, lease, () =>
        recordCopyFailure(db, reporting, job.id, lease, {
          error: "This gateway keeps no copies (STORAGE_URL=none); the links are Atlas Cloud's and expire there",
          release: true,
          retryAt: null,
        }),
      );
      return;
    }
    const lost = new AbortController();
    const signal = AbortSignal.any([lost.signal, stopping.signal, AbortSignal.timeout(options.timeoutMs)]);
    // One renewal at a time, each with the lease the last one wrote: a slow one must not be overtaken
    // by the next (its stale lease would fail the fence), nor by the final write (see settle).
    let renewing: Promise<void> | undefined;
    const heartbeat = setInterval(
      () => {
        if (renewing) return;
        const until = new Date(Date.now() + options.leaseMs);
        renewing = withTimeout(extendMirrorLease(db, job.id, lease, until), LOOP_QUERY_DEADLINE_MS)
          .then(
            (held) => {
              if (held) lease = until;
              else lost.abort(new LeaseLost());
            },
            (error: unknown) => log.warn('renewing a copy lease failed', { predictionId: job.id, error }),
          )
          .finally(() => (renewing = undefined));
      },
      Math.max(50, options.leaseMs / 3),
    );
    /** Stop renewing, and let a renewal under way land, so `lease` is the one in the row. */
    const settle = async () => {
      clearInterval(heartbeat);
      await renewing;
    };
    const started = Date.now();
    try {
      const files: StoredOutputFile[] = [];
      for (const [n, url] of job.sourceUrls.entries()) {
        files.push(await copyOutput({ storage, predictionId: job.id, n, url, maxBytes: options.maxBytes, signal }));
      }
      await settle();
      if (lost.signal.aborted) throw lost.signal.reason;
      // Said before the write that ends the job, which logs "prediction finished": in that order,
      // the log reads as it happened (copied, then finished), not as if the copy went on after the end.
      log.info('outputs copied', {
        predictionId: job.id,
        files: files.length,
        bytes: files.reduce((sum, file) => sum + file.sizeBytes, 0),
        ms: Date.now() - started,
      });
      const { result: written, retried } = await writeUnderLease(job.id, lease, () =>
        finishCopy(db, reporting, job.id, lease, files),
      );
      if (!written)
        return logLeaseLost(
          log,
          retried,
          {
            lost: 'copy lease lost; another gateway has the copy',
            retried: 'a retried copy write found its fence moved (applied before, or the lease passed on)',
          },
          { predictionId: job.id },
        );
    } catch (error) {
      await settle();
      if (lost.signal.aborted)
        return log.warn('copy lease lost mid-copy; another gateway has the copy', { predictionId: job.id });
      if (stopping.signal.aborted) {
        // Hand it back due now, so another gateway need not wait out the lease.
        await extendMirrorLease(db, job.id, lease, new Date()).catch(() => {});
        return;
      }
      const failure =
        error instanceof CopyFailed
          ? error
          : signal.aborted
            ? new CopyFailed(`the copy took longer than MIRROR_TIMEOUT_MS (${options.timeoutMs} ms)`, false)
            : new CopyFailed(`the copy failed (${error instanceof Error ? error.message : String(error)})`, false);
      const attempts = job.mirrorAttempts + 1;
      const givesUp = failure.permanent || attempts >= MAX_ATTEMPTS;
      const waited = Date.now() - (job.sourceReadyAt?.getTime() ?? 0);
      const retryAt = givesUp
        ? null
        : new Date(Date.now() + Math.min(MAX_RETRY_MS, options.retryBaseMs * 2 ** (attempts - 1)));
      const message = `${failure.message}${givesUp ? (failure.permanent ? '; not retried' : `; gave up after ${attempts} attempts`) : `; retrying (attempt ${attempts})`}`;
      const release = givesUp || waited >= options.holdMs;
      await writeUnderLease(job.id, lease, () =>
        recordCopyFailure(db, reporting, job.id, lease, { error: message, release, retryAt }),
      );
      log.warn('copying outputs failed', {
        predictionId: job.id,
        attempts,
        permanent: failure.permanent,
        retryAt,
        error: failure.message,
      });
    }
  }

  schedule(0);

  return {
    wake() {
      if (!pace.idle) return;
      pace.wake();
      schedule(0);
    },
    async stop() {
      stopping.abort();
      clearTimeout(timer);
      await claiming.stop();
      clearTimeout(timer);
      await Promise.allSettled(running);
    },
  };
}
