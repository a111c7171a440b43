import type { Principal } from '../auth/principal.ts';
import { findPrediction } from '../db/queries/findPrediction.ts';
import { type ListPredictionsOptions, listPredictions } from '../db/queries/listPredictions.ts';
import { listWebhookAttempts } from '../db/queries/listWebhookAttempts.ts';
import { requeueLastWebhook } from '../db/queries/requeueLastWebhook.ts';
import { countActive, countSubmissionsSince, spentSince } from '../db/queries/spending.ts';
import { type UsageRow, usageByOwnerAndStatus } from '../db/queries/usage.ts';
import { canSee } from '../db/queries/visibility.ts';
import type { PredictionRow, WebhookAttemptRow } from '../db/schema.ts';
import { ErrorCode } from '../errorCodes.ts';
import type { Logger } from '../log.ts';
import { isTerminal } from '../vocabulary.ts';
import { startOfUtcDay } from './admission.ts';
import type { PredictionCache } from './cache.ts';
import type { PredictionEvents } from './events.ts';
import { type GenerateDeps, generateVideo, type Submission } from './generate.ts';
import { type Progress, ProgressEstimator } from './progress.ts';
import { applyChange } from './transitions.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether a string can be a prediction id (a UUID); anything else is unknown without asking the database. */
export const isPredictionId = (id: string) => UUID.test(id);

/** redeliverWebhook on a job that has nothing to send again; the message says why. */
export class NothingToRedeliver extends Error {}

/** The gateway is shutting down and takes no new submissions; another instance (or a retry) will. */
export class ShuttingDown extends Error {}

/** What the GraphQL layer may do with predictions; it never touches the database or Atlas itself. */
export class PredictionService {
  readonly #submitting = new Set<Promise<unknown>>();
  #closing = false;

  readonly #progress: ProgressEstimator;

  constructor(
    private readonly deps: GenerateDeps & {
      events: PredictionEvents;
      cache: PredictionCache;
      /** Set when the built-in simulator stands in: its jobs' length, the estimate until some have finished. */
      simulatedJobMs?: number | undefined;
    },
  ) {
    this.#progress = new ProgressEstimator(deps.db, deps.simulatedJobMs);
  }

  /** Elapsed time and an estimate of the rest, from how long recent jobs like this one took. */
  progress(row: PredictionRow): Promise<Progress> {
    return this.#progress.of(row);
  }

  /**
   * End an unfinished job as CANCELED at once: polling stops and subscribers get the final state.
   * Atlas has no cancel, so the job may still run (and be billed) there. A finished job comes back
   * unchanged; undefined means the caller may not see such a job.
   */
  async cancel(principal: Principal, id: string): Promise<PredictionRow | undefined> {
    const row = await this.find(principal, id);
    if (!row || isTerminal(row.status)) return row;
    const cancelled = await applyChange(
      this.deps.db,
      this.deps,
      row.id,
      {
        status: 'CANCELED',
        errorCode: ErrorCode.CANCELED,
        error:
          "Cancelled at the caller's request. Atlas Cloud has no cancel, so the job may still run and be billed there.",
        completedAt: new Date(),
        nextPollAt: null,
      },
      { source: { via: 'cancel' }, stored: row },
    );
    if (cancelled) {
      this.deps.cache.offer(cancelled.row);
      return cancelled.row;
    }
    // Finished by a poll in the meantime: that end stands.
    this.deps.cache.announce(row.id, row.version + 1);
    return this.find(principal, id);
  }

  /** `log`: the request's logger, so what the submission logs carries its request id. */
  generate(
    principal: Principal,
    request: Submission,
    { log = this.deps.log }: { log?: Logger } = {},
  ): Promise<PredictionRow> {
    if (this.#closing) return Promise.reject(new ShuttingDown('The gateway is shutting down; submit again shortly'));
    // What this process wrote is fresher than anything it cached, before any notice arrives.
    const submission = generateVideo({ ...this.deps, log }, principal, request).then((row) => {
      this.deps.cache.offer(row);
      return row;
    });
    const tracked = submission.catch(() => {}).finally(() => this.#submitting.delete(tracked));
    this.#submitting.add(tracked);
    return submission;
  }

  /** Submissions under way in this process (what a drain waits for). */
  get submitting(): number {
    return this.#submitting.size;
  }

  /** Refuse new submissions and wait for those under way, so none ends half-recorded. */
  async drain(timeoutMs: number): Promise<void> {
    this.#closing = true;
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref());
    await Promise.race([Promise.allSettled(this.#submitting), timeout]);
  }

  /** Undefined for an id the caller may not see: unknown, malformed and someone else's look the same. */
  async find(principal: Principal, id: string): Promise<PredictionRow | undefined> {
    if (!isPredictionId(id)) return undefined;
    let row = this.deps.cache.get(id);
    if (!row) {
      row = await findPrediction(this.deps.db, id);
      if (row) this.deps.cache.offer(row);
    }
    return row && canSee(principal, row) ? row : undefined;
  }

  list(principal: Principal, options: Omit<ListPredictionsOptions, 'viewer'>): Promise<PredictionRow[]> {
    return listPredictions(this.deps.db, { ...options, viewer: principal });
  }

  /** What counts against the caller's limits right now. */
  async activity(principal: Principal, now = new Date()) {
    const { db } = this.deps;
    const [activeJobs, jobsLastMinute, spentTodayUsd] = await Promise.all([
      countActive(db, principal),
      countSubmissionsSince(db, principal, new Date(now.getTime() - 60_000)),
      spentSince(db, startOfUtcDay(now), principal),
    ]);
    return { activeJobs, jobsLastMinute, spentTodayUsd };
  }

  /** Jobs created in [from, to) by the caller, or with `everyone` all the caller may see (admins). */
  usage(principal: Principal, range: { from: Date; to: Date }, everyone: boolean): Promise<UsageRow[]> {
    return usageByOwnerAndStatus(this.deps.db, range, principal, !everyone);
  }

  /** The attempts at the prediction's webhook messages; the caller has already been allowed to see the row. */
  webhookAttempts(row: PredictionRow): Promise<WebhookAttemptRow[]> {
    return listWebhookAttempts(this.deps.db, row.id);
  }

  /**
   * Queue the job's last webhook event again. Undefined when the caller may not see the job;
   * NothingToRedeliver when it has no webhook or no event yet.
   */
  async redeliverWebhook(principal: Principal, id: string): Promise<PredictionRow | undefined> {
    const row = await this.find(principal, id);
    if (!row) return undefined;
    if (!row.webhookUrl)
      throw new NothingToRedeliver(
        `Prediction ${row.id} was submitted without a webhook; there is nothing to redeliver`,
      );
    const queued = await requeueLastWebhook(this.deps.db, row.id);
    if (!queued) {
      throw new NothingToRedeliver(
        `Prediction ${row.id} has not had a webhook event yet (it asked for ${(row.webhookEvents ?? ['COMPLETED']).join(', ')}); there is nothing to redeliver`,
      );
    }
    return row;
  }

  watch(current: PredictionRow): AsyncIterable<PredictionRow> {
    return this.deps.events.watch(current);
  }

  /**
   * Every change of the caller's own predictions: their own even for an admin, who may see more with
   * a query but would drown in a tenant's (or everyone's) jobs here.
   */
  watchOwn(principal: Principal): AsyncIterable<PredictionRow> {
    return this.deps.events.watchOwner({ id: principal.id, tenantId: principal.tenantId });
  }
}
