import { createHash } from 'node:crypto';
import type { Principal } from '../auth/principal.ts';
import type { Db } from '../db/database.ts';
import { findByIdempotencyKey, releaseIdempotencyKey } from '../db/queries/findByIdempotencyKey.ts';
import { insertPrediction, insertPredictions, insertPredictionUnlessKeyTaken } from '../db/queries/insertPrediction.ts';
import { lockAllSubmissions, lockCallerSubmissions } from '../db/queries/lockSubmissions.ts';
import { countActive, recentSubmissions, spentSince } from '../db/queries/spending.ts';
import type { NewPredictionRow, PredictionRow } from '../db/schema.ts';
import { WriteBatch } from '../db/writeBatch.ts';
import { ErrorCode } from '../errorCodes.ts';
import type { ModelRequest } from '../models/index.ts';
import { roundUsd } from './pricing.ts';

/** How long an idempotency key returns the same prediction. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60_000;
const MINUTE_MS = 60_000;

/** The codes a limit or an idempotency key refuses a submission with. */
const ADMISSION_REFUSALS = [
  ErrorCode.TOO_MANY_ACTIVE_JOBS,
  ErrorCode.RATE_LIMITED,
  ErrorCode.BUDGET_EXCEEDED,
  ErrorCode.IDEMPOTENCY_KEY_REUSED,
] as const;

/** A submission refused before anything was stored or sent; `code` and `details` go to the client. */
export class AdmissionRefused extends Error {
  constructor(
    readonly code: (typeof ADMISSION_REFUSALS)[number],
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export interface AdmissionRequest {
  /** The row to store, but for who owns it and the idempotency columns. */
  values: Omit<NewPredictionRow, 'ownerId' | 'tenantId' | 'idempotencyKey' | 'requestHash'>;
  /** Everything the caller asked for: a key reused with any of it different is refused. */
  request: ModelRequest & {
    timeoutSeconds?: number | null | undefined;
    webhook?: { url: string; events: string[] } | undefined;
  };
  idempotencyKey?: string | null | undefined;
}

export interface Admission {
  row: PredictionRow;
  /** The key was seen before: this is the earlier prediction, nothing new was stored. */
  repeated: boolean;
}

/**
 * Store a new job if the caller may have it. A repeated idempotency key returns the earlier prediction
 * (or is refused when the request differs). Limits and budgets are counted in one transaction under
 * the caller's advisory lock, so every gateway process sees the same count; with none configured
 * there is nothing to count, and the key's unique index alone keeps twins to one row, so a caller's
 * submissions do not wait for each other. Nothing upstream happens here.
 */
export function admit(
  deps: { db: Db; dailySpendUsdTotal: number | undefined },
  principal: Principal,
  admission: AdmissionRequest,
): Promise<Admission> {
  const counted = hasCallerLimits(principal) || deps.dailySpendUsdTotal !== undefined;
  return counted ? admitCounted(deps, principal, admission) : admitUncounted(deps.db, principal, admission);
}

function hasCallerLimits({ limits }: Principal): boolean {
  return limits.activeJobs !== undefined || limits.jobsPerMinute !== undefined || limits.dailySpendUsd !== undefined;
}

/** Per database: the uncounted admissions of one turn, stored in one statement. */
const insertBatches = new WeakMap<Db, WriteBatch<NewPredictionRow, PredictionRow>>();

function insertBatched(db: Db, row: NewPredictionRow): Promise<PredictionRow> {
  let batch = insertBatches.get(db);
  if (!batch) {
    batch = new WriteBatch({ many: (rows) => insertPredictions(db, rows), one: (one) => insertPrediction(db, one) });
    insertBatches.set(db, batch);
  }
  return batch.add(row);
}

/**
 * No lock and no queue: one insert (shared with the other admissions of the same turn), or with a key
 * a read and an insert that a racing twin may win.
 */
async function admitUncounted(
  db: Db,
  principal: Principal,
  { values, request, idempotencyKey }: AdmissionRequest,
): Promise<Admission> {
  const now = values.createdAt ?? new Date();
  const row = {
    ...values,
    ownerId: principal.id,
    tenantId: principal.tenantId,
    idempotencyKey: null,
    requestHash: null,
  };
  if (!idempotencyKey) return { row: await insertBatched(db, row), repeated: false };

  const requestHash = fingerprint(request);
  // Twice at most: a twin may store the key between our read and our insert; then the read finds it.
  for (let attempt = 0; attempt < 2; attempt++) {
    const earlier = await findByIdempotencyKey(db, principal, idempotencyKey);
    if (earlier) {
      const repeat = repeatOf(earlier, requestHash, now);
      if (repeat) return repeat;
      await releaseIdempotencyKey(db, earlier.id);
    }
    const inserted = await insertPredictionUnlessKeyTaken(db, { ...row, idempotencyKey, requestHash });
    if (inserted) return { row: inserted, repeated: false };
  }
  throw new Error(`idempotency key ${JSON.stringify(idempotencyKey)} was taken and released again while admitting`);
}

/** One waiting admission, and what became of it: admitted, or refused by a limit or its key. */
interface Counted {
  principal: Principal;
  admission: AdmissionRequest;
}
type CountedOutcome = { admitted: Admission } | { refused: AdmissionRefused };

/**
 * Per queue (a caller; everyone, with a gateway-wide budget): the admissions waiting for its lock.
 * They wait here, in memory, rather than each holding a pool connection while it waits for the lock;
 * and those that arrive while one group is admitted are admitted together next, in one transaction.
 */
const countedQueues = new Map<string, WriteBatch<Counted, CountedOutcome>>();

/** Under the caller's lock (and the gateway's, with a gateway-wide budget): the key, then every limit. */
async function admitCounted(
  deps: { db: Db; dailySpendUsdTotal: number | undefined },
  principal: Principal,
  admission: AdmissionRequest,
): Promise<Admission> {
  // With a gateway-wide budget every admission takes the global lock, so they queue as one.
  const key = deps.dailySpendUsdTotal === undefined ? callerKey(principal) : '*';
  let queue = countedQueues.get(key);
  if (!queue) {
    const made = new WriteBatch<Counted, CountedOutcome>({
      many: (waiting) => admitTogether(deps, waiting),
      one: async (single) => (await admitTogether(deps, [single]))[0]!,
      onIdle: () => {
        if (countedQueues.get(key) === made) countedQueues.delete(key);
      },
    });
    countedQueues.set(key, made);
    queue = made;
  }
  const outcome = await queue.add({ principal, admission });
  if ('refused' in outcome) throw outcome.refused;
  return outcome.admitted;
}

const callerKey = (principal: Principal) => JSON.stringify([principal.id, principal.tenantId]);

/**
 * Admissions in one transaction, in order, each counted against everything admitted before it (these
 * included: the transaction sees its own rows). Every caller's lock first, in one order, then the
 * gateway's: two gateways' groups never wait for each other in a cycle. A refusal is that admission's
 * outcome; any other error fails the transaction (and WriteBatch admits each again on its own).
 */
function admitTogether(
  deps: { db: Db; dailySpendUsdTotal: number | undefined },
  waiting: Counted[],
): Promise<CountedOutcome[]> {
  return deps.db.transaction(async (tx) => {
    const callers = new Map(waiting.map(({ principal }) => [callerKey(principal), principal]));
    for (const key of [...callers.keys()].sort()) await lockCallerSubmissions(tx, callers.get(key)!);
    if (deps.dailySpendUsdTotal !== undefined) await lockAllSubmissions(tx);
    const outcomes: CountedOutcome[] = [];
    for (const { principal, admission } of waiting) {
      const admit = (db: Db) => admitLocked(db, deps.dailySpendUsdTotal, principal, admission);
      try {
        // With a key, in a savepoint: a refusal after an expired key was released puts the key back.
        outcomes.push({ admitted: await (admission.idempotencyKey ? tx.transaction(admit) : admit(tx)) });
      } catch (error) {
        if (!(error instanceof AdmissionRefused)) throw error;
        outcomes.push({ refused: error });
      }
    }
    return outcomes;
  });
}

/** One admission, under the locks admitTogether holds. */
async function admitLocked(
  tx: Db,
  dailySpendUsdTotal: number | undefined,
  principal: Principal,
  { values, request, idempotencyKey }: AdmissionRequest,
): Promise<Admission> {
  const now = values.createdAt ?? new Date();
  const requestHash = idempotencyKey ? fingerprint(request) : null;
  const price = values.priceUsd ?? 0;
  if (idempotencyKey) {
    const earlier = await findByIdempotencyKey(tx, principal, idempotencyKey);
    const repeat = earlier && repeatOf(earlier, requestHash, now);
    if (repeat) return repeat;
    if (earlier) await releaseIdempotencyKey(tx, earlier.id);
  }

  // Counted as of now, under the lock, not as of the request's arrival (`now`, before an upload's
  // handoff or a wait in the queue): every row counted was admitted before this, so the window and a
  // refusal's retryAfterMs (never past the minute) are those of this moment.
  const checkedAt = new Date();
  await checkCallerLimits(tx, principal, price, checkedAt);
  if (dailySpendUsdTotal !== undefined) {
    const spent = await spentSince(tx, startOfUtcDay(checkedAt));
    if (spent + price > dailySpendUsdTotal + 1e-9) {
      throw budgetExceeded('LIMIT_DAILY_SPEND_USD_TOTAL', 'the whole gateway', dailySpendUsdTotal, spent, price);
    }
  }

  const row = await insertPrediction(tx, {
    ...values,
    ownerId: principal.id,
    tenantId: principal.tenantId,
    idempotencyKey: idempotencyKey ?? null,
    requestHash,
  });
  return { row, repeated: false };
}

/**
 * The earlier prediction under this key, if the key is still within its window; refused if it was
 * made for a different request. Undefined once the window has passed: the key is free again.
 */
function repeatOf(earlier: PredictionRow, requestHash: string | null, now: Date): Admission | undefined {
  if (now.getTime() - earlier.createdAt.getTime() >= IDEMPOTENCY_WINDOW_MS) return undefined;
  if (earlier.requestHash !== requestHash) {
    throw new AdmissionRefused(
      ErrorCode.IDEMPOTENCY_KEY_REUSED,
      'idempotencyKey was already used for a different request in the last 24 hours; use a new key for a new request',
      { predictionId: earlier.id },
    );
  }
  return { row: earlier, repeated: true };
}

async function checkCallerLimits(tx: Db, principal: Principal, price: number, now: Date): Promise<void> {
  const { activeJobs, jobsPerMinute, dailySpendUsd } = principal.limits;
  if (activeJobs !== undefined) {
    const active = await countActive(tx, principal);
    if (active >= activeJobs) {
      throw new AdmissionRefused(
        ErrorCode.TOO_MANY_ACTIVE_JOBS,
        `LIMIT_ACTIVE_JOBS: at most ${activeJobs} unfinished jobs per caller, and ${active} are unfinished; submit again when one finishes`,
        { limit: activeJobs, active },
      );
    }
  }
  if (jobsPerMinute !== undefined) {
    const recent = await recentSubmissions(tx, principal, new Date(now.getTime() - MINUTE_MS), jobsPerMinute);
    const oldestCounted = recent[jobsPerMinute - 1];
    if (jobsPerMinute === 0 || oldestCounted) {
      // Room comes back when the oldest of the last `limit` submissions leaves the window.
      const retryAfterMs = oldestCounted ? Math.max(1, oldestCounted.getTime() + MINUTE_MS - now.getTime()) : MINUTE_MS;
      throw new AdmissionRefused(
        ErrorCode.RATE_LIMITED,
        `LIMIT_JOBS_PER_MINUTE: at most ${jobsPerMinute} submissions a minute per caller; retry in ${Math.ceil(retryAfterMs / 1000)} s`,
        { limit: jobsPerMinute, retryAfterMs },
      );
    }
  }
  if (dailySpendUsd !== undefined) {
    const spent = await spentSince(tx, startOfUtcDay(now), principal);
    if (spent + price > dailySpendUsd + 1e-9)
      throw budgetExceeded('LIMIT_DAILY_SPEND_USD', 'you', dailySpendUsd, spent, price);
  }
}

function budgetExceeded(limitName: string, who: string, limit: number, spent: number, price: number): AdmissionRefused {
  const usd = (value: number) => `$${value.toFixed(2)}`;
  return new AdmissionRefused(
    ErrorCode.BUDGET_EXCEEDED,
    `${limitName}: this job (${usd(price)}) would take what ${who} spent today (UTC) past ${usd(limit)}; ${usd(spent)} is spent or reserved`,
    { limitName, limit, spentUsd: roundUsd(spent), priceUsd: price },
  );
}

export function startOfUtcDay(at: Date): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate()));
}

/** The same request always hashes the same, whatever order its fields came in. */
function fingerprint(request: AdmissionRequest['request']): string {
  return createHash('sha256').update(canonicalJson(request)).digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined && v !== null);
    return `{${entries
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}
