import type { Db } from '../db/database.ts';
import { typicalWallTime } from '../db/queries/typicalWallTime.ts';
import type { PredictionRow } from '../db/schema.ts';
import { findModel, type ModelDescriptor, textToVideo } from '../models/index.ts';
import { isTerminal } from '../vocabulary.ts';

/** Jobs are compared with jobs of the same model and resolution and a similar length (or any, for a model of unknown length). */
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
/**
 * While a bucket has too few jobs, each new one matters: it is re-read this soon instead, so a
 * gateway learns within seconds of its first jobs (one indexed query per bucket per interval).
 */
const FEW_SAMPLES_CACHE_MS = 5_000;
/** Progress stays below 1 until the job is really done. */
const MAX_UNFINISHED = 0.99;

/** Before any job has finished: the model's typical run time (Atlas says 1 to 5 minutes). */
export function priorMs(
  resolution: string,
  durationSeconds: number | null,
  model: ModelDescriptor = textToVideo,
): number {
  return model.typicalRunMs({ resolution: resolution as '720P', duration: durationSeconds });
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
  /** Per bucket: the median of recent jobs, or null while there are too few; read again after expiresAt. */
  readonly #cache = new Map<string, { expiresAt: number; medianMs: Promise<number | null> }>();

  constructor(
    private readonly db: Db,
    /**
     * How long a job takes before any has finished, when that is known better than the model's
     * typical time: the built-in simulator's fixed job length.
     */
    private readonly knownRunMs?: number,
  ) {}

  async of(row: PredictionRow, now = Date.now()): Promise<Progress> {
    const end = row.completedAt?.getTime() ?? now;
    const elapsedMs = Math.max(0, end - row.createdAt.getTime());
    if (row.status === 'SUCCEEDED') return { elapsedMs, estimatedProgress: 1, estimatedCompletionAt: null };
    if (isTerminal(row.status)) return { elapsedMs, estimatedProgress: null, estimatedCompletionAt: null };
    const expectedMs = await this.expectedMs(row.resolution, row.duration, findModel(row.model) ?? textToVideo);
    return {
      elapsedMs,
      estimatedProgress: Math.min(MAX_UNFINISHED, elapsedMs / expectedMs),
      // Running late: say "any moment now" rather than a time already past.
      estimatedCompletionAt: new Date(Math.max(now + 1_000, row.createdAt.getTime() + expectedMs)),
    };
  }

  /** The typical wall time of a job like this one: recent jobs' median, else the prior. */
  async expectedMs(
    resolution: string,
    durationSeconds: number | null,
    model: ModelDescriptor = textToVideo,
  ): Promise<number> {
    const [min, max] =
      durationSeconds === null
        ? [null, null]
        : (BUCKETS.find(([, upTo]) => durationSeconds <= upTo) ?? BUCKETS[BUCKETS.length - 1]!);
    const key = `${model.id}:${resolution}:${min}`;
    let cached = this.#cache.get(key);
    if (!cached || Date.now() >= cached.expiresAt) {
      // Reads meanwhile share this one query; its answer says how long to keep it.
      const entry: { expiresAt: number; medianMs: Promise<number | null> } = {
        expiresAt: Number.POSITIVE_INFINITY,
        medianMs: typicalWallTime(this.db, {
          model: model.id,
          resolution,
          minSeconds: min,
          maxSeconds: max,
          recent: RECENT,
        })
          .then(
            ({ medianMs, samples }) => (samples >= MIN_SAMPLES ? medianMs : null),
            // No estimate is worth failing a read over.
            () => null,
          )
          .then((medianMs) => {
            entry.expiresAt = Date.now() + (medianMs === null ? FEW_SAMPLES_CACHE_MS : CACHE_MS);
            return medianMs;
          }),
      };
      cached = entry;
      this.#cache.set(key, cached);
    }
    return (await cached.medianMs) ?? this.knownRunMs ?? priorMs(resolution, durationSeconds, model);
  }
}
