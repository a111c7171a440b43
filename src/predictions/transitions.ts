import type { Db } from '../db/database.ts';
import { announcePredictionChange } from '../db/queries/announcePredictionChange.ts';
import { enqueueWebhook } from '../db/queries/enqueueWebhook.ts';
import { lockPrediction } from '../db/queries/lockPrediction.ts';
import { mirrorsOutputs } from '../db/queries/mirrorsOutputs.ts';
import { storeAdoptedUpstreamId } from '../db/queries/storeAdoptedUpstreamId.ts';
import { storeLateUpstreamId } from '../db/queries/storeLateUpstreamId.ts';
import { type CopyWrite, updateUnderCopyLease } from '../db/queries/updateUnderCopyLease.ts';
import { type UnfinishedWrite, updateUnfinishedPrediction } from '../db/queries/updateUnfinishedPrediction.ts';
import type { PredictionRow, StoredOutputFile, WebhookEventKind } from '../db/schema.ts';
import type { Logger } from '../log.ts';
import type { JobMetrics } from '../observability/metrics.ts';
import { isTerminal, type PredictionStatus } from '../vocabulary.ts';
import { webhookMessage } from '../webhooks/outbound/event.ts';
import { isCharged } from './pricing.ts';

/**
 * The state machine of a prediction after it is stored: every change goes through here, under the
 * lease of whoever makes it (next_poll_at for a poll, mirror_next_at for a copy, none for a create
 * reply, a webhook or a cancel). Here are the rules: a success whose outputs are to be copied is held
 * (PROCESSING) until the copy is made; the cost is fixed when the job ends; the change says which
 * outbound webhook event it is. Each write is announced atomically with it (a notice, and the
 * caller's webhook message), and each end is counted and logged once, after the commit.
 */

/**
 * What an upstream reading, a cancel or a failed submission asks to change: the columns of an
 * unfinished prediction's write, less those only the rules here set (copy hold, cost).
 */
export type PredictionChange = Omit<UnfinishedWrite, 'sourceUrls' | 'sourceReadyAt' | 'mirrorNextAt' | 'charged'>;

/** Where a change comes from and what fences it. */
export interface ChangeOptions {
  /** The next_poll_at a poller's claim wrote: the change is written only while it is still the row's. */
  lease?: Date | undefined;
  source: ChangeSource;
  /**
   * The row as the caller has it, for what never changes once it is stored (whether its outputs are
   * copied, and its caller's webhook): saves a read, and a change of a row with no webhook is then one
   * statement (applyChange).
   */
  stored?: Pick<PredictionRow, 'mirrorOutputs' | 'webhookUrl'> | undefined;
}

/** What a write did: the row as it is now, and whether this write is what ended the job. */
export interface Transition {
  row: PredictionRow;
  ended: boolean;
}

/** Who hears of a job's end, once: the metrics and the log. */
export interface EndReporting {
  log: Logger;
  metrics?: JobMetrics | undefined;
}

/** Where a change came from, as the log line of the end it makes names it. */
export interface ChangeSource {
  via: 'poll' | 'atlas webhook' | 'create reply' | 'submission' | 'cancel' | 'copy';
  /** The Atlas webhook delivery it came in. */
  deliveryId?: string;
}

/** Why a copy failed, and what happens next. */
export interface CopyFailure {
  error: string;
  /** A job still waiting becomes SUCCEEDED now, with Atlas' links (which `error` explains). */
  release: boolean;
  /** When to try again; null gives up. */
  retryAt: Date | null;
}

/**
 * Which event a visible change is: any final state is COMPLETED; STARTING to PROCESSING (Atlas took
 * the job) is STARTED; every other visible change of a running job is UPDATED.
 */
export function eventOfChange(previous: PredictionStatus, next: PredictionStatus): WebhookEventKind {
  if (isTerminal(next)) return 'COMPLETED';
  if (previous === 'STARTING' && next === 'PROCESSING') return 'STARTED';
  return 'UPDATED';
}

/** What one transaction's writes leave to say once it commits. */
type Outcome = { transition: Transition; source: ChangeSource; held: boolean };

/**
 * The changes one transaction makes. Open one with `withTransitions`; every job they end is counted
 * and logged once the transaction has committed (never for a write that was rolled back).
 */
export class Transitions {
  readonly #outcomes: Outcome[] = [];

  /** The transaction, for the caller's other writes that must commit with these changes. */
  private constructor(readonly tx: Db) {}

  /** See withTransitions. */
  static async run<T>(db: Db, reporting: EndReporting, work: (transitions: Transitions) => Promise<T>): Promise<T> {
    let transitions: Transitions | undefined;
    const result = await db.transaction((tx) => {
      transitions = new Transitions(tx);
      return work(transitions);
    });
    // Committed: only now is an end real (always set here; the check is for the type).
    if (transitions) transitions.#report(reporting);
    return result;
  }

  /** One change that is one statement (see applyChange): atomic by itself, so no transaction around it. */
  static async single<T>(db: Db, reporting: EndReporting, work: (transitions: Transitions) => Promise<T>): Promise<T> {
    const transitions = new Transitions(db);
    const result = await work(transitions);
    transitions.#report(reporting);
    return result;
  }

  /**
   * Apply a change to an unfinished prediction and announce it. A finished prediction never changes
   * again: then nothing is written and this returns undefined; so it does once another poller holds
   * the `lease` (the next_poll_at a poller's claim wrote).
   *
   * A job whose outputs are to be copied (mirror_outputs) does not become SUCCEEDED here: it stays
   * PROCESSING with Atlas' links in source_urls and its copy due, and the copy makes it SUCCEEDED
   * (finishCopy). So every path that applies a success (a poll, the create reply, a webhook) holds it
   * the same way, and subscribers never get a videoUrl that changes. A second report of the same
   * success (a webhook and a poll) does not restart the copy.
   */
  async apply(
    id: string,
    change: PredictionChange,
    { lease, source, stored }: ChangeOptions,
  ): Promise<Transition | undefined> {
    const holdForCopy =
      change.status === 'SUCCEEDED' && (stored?.mirrorOutputs ?? (await mirrorsOutputs(this.tx, id))) === true;
    const written = await updateUnfinishedPrediction(this.tx, id, unfinishedWrite(change, holdForCopy), {
      lease,
      outputsUnreported: holdForCopy,
    });
    if (!written) return undefined;
    const { row, previousStatus } = written;
    // The write queued its notice; the webhook message, if the caller's webhook wants this event, commits with it.
    const message = webhookMessage(row, eventOfChange(previousStatus, row.status));
    if (message) await enqueueWebhook(this.tx, message);
    return this.#noted({ row, ended: isTerminal(row.status) }, source, holdForCopy);
  }

  /** The copy is done: record the files; a job waiting for them becomes SUCCEEDED now. Fenced by the copy lease. */
  finishCopy(id: string, lease: Date, files: StoredOutputFile[]): Promise<Transition | undefined> {
    return this.#copyOutcome(id, lease, true, () => ({
      outputFiles: files,
      mirroredAt: new Date(),
      mirrorError: null,
      mirrorNextAt: null,
    }));
  }

  /** The copy failed: say why, and retry, give up, or release a waiting job with Atlas' links. Fenced like finishCopy. */
  recordCopyFailure(
    id: string,
    lease: Date,
    { error, release, retryAt }: CopyFailure,
  ): Promise<Transition | undefined> {
    return this.#copyOutcome(id, lease, release, (before) => ({
      mirrorError: error,
      mirrorAttempts: before.mirrorAttempts + 1,
      mirrorNextAt: retryAt,
    }));
  }

  /**
   * Store the upstream id of a job that was ended without one (taken for lost while its submitter could
   * not write): one ended SUBMISSION_UNKNOWN runs again (to the caller's backend, it has STARTED
   * again); one ended otherwise keeps its end but gets the id (UPDATED). Undefined if the row already
   * has an upstream id, or is gone.
   */
  async recordLateUpstreamId(
    id: string,
    late: { upstreamId: string; requestId: string | null; now: Date; nextPollAt: Date },
  ): Promise<PredictionRow | undefined> {
    const stored = await storeLateUpstreamId(this.tx, id, late);
    if (!stored) return undefined;
    await announcePredictionChange(
      this.tx,
      stored.row,
      webhookMessage(stored.row, stored.revived ? 'STARTED' : 'UPDATED'),
    );
    return stored.row;
  }

  /**
   * Store the upstream id Atlas' signed webhook names for a job that has none (its submitter died
   * mid-create), leaving its status as it is. Undefined when the row has an id already (or is gone).
   */
  async adoptUpstreamId(
    id: string,
    adopted: { upstreamId: string; upstreamStatus: string | null; now: Date },
  ): Promise<Awaited<ReturnType<typeof storeAdoptedUpstreamId>>> {
    const row = await storeAdoptedUpstreamId(this.tx, id, adopted);
    if (row) await announcePredictionChange(this.tx, row);
    return row;
  }

  /** Count and log what the committed transaction did: each end once, and each success held for its copy. */
  #report({ log, metrics }: EndReporting): void {
    for (const { transition, source, held } of this.#outcomes) {
      const { row, ended } = transition;
      if (ended) {
        metrics?.finished(row);
        log.info('prediction finished', {
          predictionId: row.id,
          status: row.status,
          errorCode: row.errorCode ?? undefined,
          // A success released with Atlas' links while its copy is still being retried says so.
          ...(row.mirrorOutputs && row.status === 'SUCCEEDED' ? { outputsCopied: row.mirroredAt !== null } : {}),
          ...source,
        });
      } else if (held) {
        log.info('prediction succeeded upstream; held until its outputs are copied', {
          predictionId: row.id,
          ...source,
        });
      }
    }
  }

  /**
   * The one write a copy ends with: fenced by the copy lease, and, when it releases a job that was
   * waiting for its copy, that job's end (SUCCEEDED, charged, COMPLETED webhook).
   */
  async #copyOutcome(
    id: string,
    lease: Date,
    release: boolean,
    outcome: (before: PredictionRow) => CopyWrite,
  ): Promise<Transition | undefined> {
    // Locked as it was: whether this write is what ends the job.
    const before = await lockPrediction(this.tx, id);
    if (!before) return undefined;
    const waiting = before.status === 'PROCESSING';
    const released: CopyWrite =
      release && waiting
        ? {
            status: 'SUCCEEDED',
            outputs: before.sourceUrls,
            completedAt: before.completedAt ?? new Date(),
            charged: isCharged('SUCCEEDED', null),
          }
        : {};
    const row = await updateUnderCopyLease(this.tx, id, lease, { ...outcome(before), ...released });
    if (!row) return undefined;
    const ended = waiting && row.status === 'SUCCEEDED';
    await announcePredictionChange(this.tx, row, ended ? webhookMessage(row, 'COMPLETED') : undefined);
    return this.#noted({ row, ended }, { via: 'copy' }, false);
  }

  #noted(transition: Transition, source: ChangeSource, held: boolean): Transition {
    this.#outcomes.push({ transition, source, held });
    return transition;
  }
}

/**
 * Make changes in one transaction (with any other writes that must commit with them); once it has
 * committed, the jobs they ended are counted and logged.
 */
export async function withTransitions<T>(
  db: Db,
  reporting: EndReporting,
  work: (transitions: Transitions) => Promise<T>,
): Promise<T> {
  return Transitions.run(db, reporting, work);
}

/**
 * Transitions.apply in a transaction of its own; or, for a row the caller has (`stored`) with no webhook,
 * none: the change is then its one fenced UPDATE, which queues its notice itself (one round trip to
 * Postgres instead of four, on every create reply).
 */
export function applyChange(
  db: Db,
  reporting: EndReporting,
  id: string,
  change: PredictionChange,
  options: ChangeOptions,
): Promise<Transition | undefined> {
  const oneStatement = options.stored !== undefined && !options.stored.webhookUrl;
  return (oneStatement ? Transitions.single : Transitions.run)(db, reporting, (transitions) =>
    transitions.apply(id, change, options),
  );
}

/** Transitions.finishCopy in a transaction of its own. */
export function finishCopy(
  db: Db,
  reporting: EndReporting,
  id: string,
  lease: Date,
  files: StoredOutputFile[],
): Promise<Transition | undefined> {
  return withTransitions(db, reporting, (transitions) => transitions.finishCopy(id, lease, files));
}

/** Transitions.recordCopyFailure in a transaction of its own. */
export function recordCopyFailure(
  db: Db,
  reporting: EndReporting,
  id: string,
  lease: Date,
  failure: CopyFailure,
): Promise<Transition | undefined> {
  return withTransitions(db, reporting, (transitions) => transitions.recordCopyFailure(id, lease, failure));
}

/** What a change writes: a success held for its copy, or an end with its cost fixed. */
function unfinishedWrite(change: PredictionChange, holdForCopy: boolean): UnfinishedWrite {
  if (change.status === 'SUCCEEDED' && holdForCopy) {
    const { status: _succeeded, completedAt: _completed, outputs, ...rest } = change;
    const now = new Date();
    return {
      ...rest,
      status: 'PROCESSING',
      sourceUrls: outputs ?? [],
      sourceReadyAt: now,
      mirrorNextAt: now,
      nextPollAt: null,
    };
  }
  if (change.status === 'SUCCEEDED')
    return { ...change, sourceUrls: change.outputs ?? [], charged: isCharged(change.status, change.errorCode) };
  // A job that ends otherwise while its copy waits (cancelled) has nothing left to copy.
  if (change.status && isTerminal(change.status))
    return { ...change, mirrorNextAt: null, charged: isCharged(change.status, change.errorCode) };
  return change;
}
