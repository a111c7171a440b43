import type { Db } from '../db/database.ts';
import { typicalWallTime } from '../db/queries/typicalWallTime.ts';
import type { PredictionRow } from '../db/schema.ts';
import { isTerminal } from '../vocabulary.ts';

/** Jobs are compared with jobs of the same resolution and a similar length. */
const BUCKETS = [
  [1, 5],
  [6, 10],
  [11, 60],
] as const;
/** How many recent jobs the median is taken over, and how few are too few to trust over the prior. */
const RECENT = 50;
const MIN_SAMPLES = 3;
/** Estimates are re-read from the database at most this often per bucket, per process. */
const CACHE_MS = 60_000;
/** Progress stays below 1 until the job is really done. */
const MAX_UNFINISHED = 0.99;

/**
 * Before any job has finished: Atlas says 1 to 5 minutes; this prior assumes a fixed start-up plus
 * time per second of video, more at 1080P.
 */
export function priorMs(resolution: string, durationSeconds: number): number {
  return resolution === '1080P' ? 60_000 + 10_000 * durationSeconds : 45_000 + 6_000 * durationSeconds;
}

export interface Progress {
  elapsedMs: number;
  /** 0..1; below 1 until SUCCEEDED; null once FAILED or CANCELED. */
  estimatedProgress: number | null;
  /** Null once finished. */
  estimatedCompletionAt: Date | null;
}

/**
 * Progress that Atlas does not report, learned from how long finished jobs took. Derived when read,
 * so a moving progress bar costs no upstream call and no write.
 */
export class ProgressEstimator {
  /** Per bucket: the median of recent jobs, or null while there are too few. */
  readonly #cache = new Map<string, { at: number; medianMs: Promise<number | null> }>();

  constructor(private readonly db: Db) {}

  async of(row: PredictionRow, now = Date.now()): Promise<Progress> {
    const end = row.completedAt?.getTime() ?? now;
    const elapsedMs = Math.max(0, end - row.createdAt.getTime());
    if (row.status === 'SUCCEEDED') return { elapsedMs, estimatedProgress: 1, estimatedCompletionAt: null };
    if (isTerminal(row.status)) return { elapsedMs, estimatedProgress: null, estimatedCompletionAt: null };
    const expectedMs = await this.expectedMs(row.resolution, row.duration);
    return {
      elapsedMs,
      estimatedProgress: Math.min(MAX_UNFINISHED, elapsedMs / expectedMs),
      // Running late: say "any moment now" rather than a time already past.
      estimatedCompletionAt: new Date(Math.max(now + 1_000, row.createdAt.getTime() + expectedMs)),
    };
  }

  /** The typical wall time of a job like this one: recent jobs' median, else the prior. */
  async expectedMs(resolution: string, durationSeconds: number): Promise<number> {
    const [min, max] = BUCKETS.find(([, upTo]) => durationSeconds <= upTo) ?? BUCKETS[BUCKETS.length - 1]!;
    const key = `${resolution}:${min}`;
    let cached = this.#cache.get(key);
    if (!cached || Date.now() - cached.at >= CACHE_MS) {
      const medianMs = typicalWallTime(this.db, { resolution, minSeconds: min, maxSeconds: max, recent: RECENT }).then(
        ({ medianMs, samples }) => (samples >= MIN_SAMPLES ? medianMs : null),
        // No estimate is worth failing a read over.
        () => null,
      );
      cached = { at: Date.now(), medianMs };
      this.#cache.set(key, cached);
    }
    return (await cached.medianMs) ?? priorMs(resolution, durationSeconds);
  }
}
