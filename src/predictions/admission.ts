import { createHash } from 'node:crypto';
import type { Principal } from '../auth/principal.ts';
import type { Db } from '../db/database.ts';
import { findByIdempotencyKey, releaseIdempotencyKey } from '../db/queries/findByIdempotencyKey.ts';
import { insertPrediction } from '../db/queries/insertPrediction.ts';
import { lockAllSubmissions, lockCallerSubmissions } from '../db/queries/lockSubmissions.ts';
import { countActive, recentSubmissions, spentSince } from '../db/queries/spending.ts';
import type { NewPredictionRow, PredictionRow } from '../db/schema.ts';
import { ErrorCode } from '../errorCodes.ts';
import type { ModelRequest } from '../models/index.ts';
import { oneAtATime } from './oneAtATime.ts';
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
 * Store a new job if the caller may have it, all in one transaction under the caller's advisory lock,
 * so that every gateway process sees the same count: a repeated idempotency key returns the earlier
 * prediction; otherwise the caller's limits and the gateway's daily budget are checked, then the row
 * is inserted. Nothing upstream happens here.
 */
export function admit(
  deps: { db: Db; dailySpendUsdTotal: number | undefined },
  principal: Principal,
  { values, request, idempotencyKey }: AdmissionRequest,
): Promise<Admission> {
  const now = values.createdAt ?? new Date();
  const requestHash = idempotencyKey ? fingerprint(request) : null;
  const price = values.priceUsd ?? 0;

  // With a gateway-wide budget every admission takes the global lock, so they queue as one here too.
  const queue = deps.dailySpendUsdTotal === undefined ? JSON.stringify([principal.id, principal.tenantId]) : '*';
  return oneAtATime(queue, () =>
    deps.db.transaction(async (tx) => {
      await lockCallerSubmissions(tx, principal);
      if (idempotencyKey) {
        const earlier = await findByIdempotencyKey(tx, principal, idempotencyKey);
        if (earlier && now.getTime() - earlier.createdAt.getTime() < IDEMPOTENCY_WINDOW_MS) {
          if (earlier.requestHash !== requestHash) {
            throw new AdmissionRefused(
              ErrorCode.IDEMPOTENCY_KEY_REUSED,
              'idempotencyKey was already used for a different request in the last 24 hours; use a new key for a new request',
              { predictionId: earlier.id },
            );
          }
          return { row: earlier, repeated: true };
        }
        if (earlier) await releaseIdempotencyKey(tx, earlier.id);
      }

      await checkCallerLimits(tx, principal, price, now);
      const total = deps.dailySpendUsdTotal;
      if (total !== undefined) {
        await lockAllSubmissions(tx);
        const spent = await spentSince(tx, startOfUtcDay(now));
        if (spent + price > total + 1e-9) {
          throw budgetExceeded('LIMIT_DAILY_SPEND_USD_TOTAL', 'the whole gateway', total, spent, price);
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
    }),
  );
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
