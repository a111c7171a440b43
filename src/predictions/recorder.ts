import type { CreatedPrediction } from '../atlas/client.ts';
import { parsePredictionReply, type UpstreamPrediction } from '../atlas/replies.ts';
import { LOOP_QUERY_DEADLINE_MS } from '../background/leasedWrite.ts';
import type { Db } from '../db/database.ts';
import { findPrediction } from '../db/queries/findPrediction.ts';
import type { PredictionRow } from '../db/schema.ts';
import type { Logger } from '../log.ts';
import type { JobMetrics } from '../observability/metrics.ts';
import { withTimeout } from '../observability/timeout.ts';
import type { SubmissionJournal, UnrecordedSubmission } from './submissionJournal.ts';
import { applyChange, type ChangeOptions, withTransitions } from './transitions.ts';
import { changeFromUpstream } from './upstreamChange.ts';

const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 5_000;

/**
 * Writes each paid job's upstream id to its row, and never gives up on one: when the database does
 * not take it, the id goes to the journal on disk and is written again, with backoff, until it is
 * stored (by this process, or by the next one on this host after a crash). While a row is here,
 * this process' poller leaves it alone rather than take it for abandoned.
 *
 * No error of the journal (a full or vanished DATA_DIR) ever escapes from here: an id the journal
 * cannot store is kept in memory and written to the database all the same, and the journal is tried
 * again meanwhile; dying over the journal would lose every id this process holds.
 */
export class SubmissionRecorder {
  readonly #pending = new Map<string, UnrecordedSubmission>();
  /** Pending ids the journal could not store: only this process holds them, so each retry tries the disk again. */
  readonly #memoryOnly = new Set<string>();
  /** Recorded ids whose journal file would not go away: removed later, or the next process would write them again. */
  readonly #leftOnDisk = new Set<string>();
  /** Rows this process is submitting right now (create call or first write under way). */
  readonly #submitting = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #delay = RETRY_MIN_MS;
  #stopped = false;

  constructor(
    private readonly deps: {
      db: Db;
      log: Logger;
      journal: SubmissionJournal;
      pollIntervalMs: number;
      metrics?: JobMetrics;
    },
  ) {}

  /**
   * Whether this process is still submitting the row, or holds an upstream id for it that the
   * database has not taken: either way the row is not abandoned, however slow the call or the pool.
   */
  isRecording(predictionId: string): boolean {
    return this.#submitting.has(predictionId) || this.#pending.has(predictionId);
  }

  /** Mark a row as being submitted by this process, until the returned function is called. */
  submitting(predictionId: string): () => void {
    this.#submitting.add(predictionId);
    return () => this.#submitting.delete(predictionId);
  }

  /** Take over what an earlier process on this host could not record. */
  resume(): void {
    for (const entry of this.deps.journal.list((file, error) =>
      this.deps.log.error('unreadable journal entry', { file, error }),
    )) {
      this.deps.log.warn('recording a submission left by an earlier process', {
        predictionId: entry.predictionId,
        upstreamId: entry.upstreamId,
      });
      this.#pending.set(entry.predictionId, entry);
    }
    if (this.#pending.size) this.#schedule(0);
  }

  /**
   * Store the id now if the database takes it (the updated row), else keep it, on disk, for later
   * (undefined). Never throws.
   */
  async record(
    predictionId: string,
    { prediction, requestId }: CreatedPrediction,
    {
      nextPollAt,
      stored,
    }: {
      /** When the first poll comes due; after the usual interval unless said (a job with a webhook waits longer). */
      nextPollAt?: Date | undefined;
      /** The row as it was stored (see ChangeOptions.stored). */
      stored?: ChangeOptions['stored'];
    } = {},
  ): Promise<PredictionRow | undefined> {
    const entry: UnrecordedSubmission = {
      predictionId,
      upstreamId: prediction.id,
      requestId: requestId ?? null,
      upstreamStatus: prediction.rawStatus,
      at: new Date().toISOString(),
    };
    try {
      return await this.#write(entry, prediction, nextPollAt, stored);
    } catch (error) {
      this.deps.log.error('recording a submission failed; keeping it on disk and retrying', {
        predictionId,
        upstreamId: prediction.id,
        error,
      });
      this.#pending.set(predictionId, entry);
      this.#saveToJournal(entry);
      this.#schedule(this.#delay);
      return undefined;
    }
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    // Neither in the database nor on disk: this line is all that is left of them for an operator.
    const lost = [...this.#memoryOnly].map((id) => this.#pending.get(id)).filter((entry) => entry !== undefined);
    if (lost.length > 0) {
      this.deps.log.error('stopping with submissions recorded nowhere: set their upstream ids on these rows by hand', {
        submissions: lost.map(({ predictionId, upstreamId }) => ({ predictionId, upstreamId })),
      });
    }
  }

  /** Whether the entry is on disk now. Never throws: a failure leaves it in memory only (and says so once). */
  #saveToJournal(entry: UnrecordedSubmission): boolean {
    try {
      this.deps.journal.save(entry);
    } catch (error) {
      if (!this.#memoryOnly.has(entry.predictionId)) {
        this.deps.log.error(
          'the submission journal could not be written; the upstream id is kept in memory and retried',
          {
            predictionId: entry.predictionId,
            upstreamId: entry.upstreamId,
            error,
          },
        );
      }
      this.#memoryOnly.add(entry.predictionId);
      return false;
    }
    if (this.#memoryOnly.delete(entry.predictionId)) {
      this.deps.log.info('an unrecorded submission is kept on disk now', {
        predictionId: entry.predictionId,
        upstreamId: entry.upstreamId,
      });
    }
    return true;
  }

  /** Never throws: a file that would not go away is tried again later (and said so once). */
  #removeFromJournal(predictionId: string): void {
    try {
      this.deps.journal.remove(predictionId);
    } catch (error) {
      if (!this.#leftOnDisk.has(predictionId)) {
        this.deps.log.error('a recorded submission could not be removed from the journal; retrying', {
          predictionId,
          error,
        });
      }
      this.#leftOnDisk.add(predictionId);
      return;
    }
    this.#leftOnDisk.delete(predictionId);
  }

  /** `upstream`: the create call's whole reply when at hand; from the journal, only its status word. */
  async #write(
    entry: UnrecordedSubmission,
    upstream?: UpstreamPrediction,
    firstPollAt?: Date,
    stored?: ChangeOptions['stored'],
  ): Promise<PredictionRow | undefined> {
    const now = new Date();
    upstream ??= parsePredictionReply({ id: entry.upstreamId, status: entry.upstreamStatus ?? undefined });
    const nextPollAt = firstPollAt ?? new Date(now.getTime() + this.deps.pollIntervalMs);
    // A create reply can already say the job ended.
    const updated = await applyChange(
      this.deps.db,
      this.deps,
      entry.predictionId,
      {
        nextPollAt,
        // Any running word, "starting" included, reads as PROCESSING: the job exists upstream now.
        ...(upstream ? changeFromUpstream(upstream, now) : { status: 'PROCESSING' }),
        upstreamId: entry.upstreamId,
        upstreamRequestId: entry.requestId,
      },
      { source: { via: 'create reply' }, stored },
    );
    const row =
      updated?.row ??
      // Ended meanwhile (taken for lost while the database was away): store the id anyway and reconcile.
      (await withTransitions(this.deps.db, this.deps, (transitions) =>
        transitions.recordLateUpstreamId(entry.predictionId, { ...entry, now, nextPollAt: now }),
      ));
    if (row?.upstreamId === entry.upstreamId) return row;
    // Stored already: Atlas' webhook for the job named it first (see Transitions.adoptUpstreamId).
    const current = await findPrediction(this.deps.db, entry.predictionId);
    if (current?.upstreamId === entry.upstreamId) return current;
    this.deps.log.error('a submission could not be matched to its row', {
      predictionId: entry.predictionId,
      upstreamId: entry.upstreamId,
    });
    return row;
  }

  #schedule(delayMs: number): void {
    if (this.#stopped || this.#timer) return;
    this.#timer = setTimeout(
      () =>
        void this.#retry().catch((error: unknown) => {
          // Not expected (every call in there is guarded); the ids are still pending, so keep at it.
          this.deps.log.error('retrying unrecorded submissions failed unexpectedly', { error });
          this.#schedule(RETRY_MAX_MS);
        }),
      delayMs,
    );
  }

  async #retry(): Promise<void> {
    this.#timer = undefined;
    // The disk first: an id only memory holds is lost if this process dies before the database is back.
    for (const id of [...this.#memoryOnly]) {
      const entry = this.#pending.get(id);
      if (entry) this.#saveToJournal(entry);
      else this.#memoryOnly.delete(id);
    }
    for (const id of [...this.#leftOnDisk]) this.#removeFromJournal(id);
    for (const entry of [...this.#pending.values()]) {
      try {
        // Bounded, so one write stuck on a dead connection does not hold every id behind it.
        await withTimeout(this.#write(entry), LOOP_QUERY_DEADLINE_MS);
      } catch (error) {
        this.#delay = Math.min(RETRY_MAX_MS, this.#delay * 2);
        this.deps.log.warn('recording a submission failed again', {
          predictionId: entry.predictionId,
          retryInMs: this.#delay,
          error,
        });
        this.#schedule(this.#delay);
        return;
      }
      this.#pending.delete(entry.predictionId);
      // One the journal never took has no file to remove.
      if (!this.#memoryOnly.delete(entry.predictionId)) this.#removeFromJournal(entry.predictionId);
      this.deps.log.info('submission recorded after a database failure', {
        predictionId: entry.predictionId,
        upstreamId: entry.upstreamId,
      });
    }
    this.#delay = RETRY_MIN_MS;
    // Stored, but their files would not go away: tried again now and then, until they do.
    if (this.#leftOnDisk.size > 0) this.#schedule(RETRY_MAX_MS);
  }
}
