import type { ClaimedPrediction, PolledRow } from '../db/queries/claimDuePredictions.ts';
import { ErrorCode } from '../errorCodes.ts';
import { isTerminal } from '../vocabulary.ts';
import { backoffMs, deadlineOf, intervalOf, nextPollOf, type PollSettings } from './pollSchedule.ts';
import type { PredictionChange } from './transitions.ts';
import { isVisibleChange } from './upstreamChange.ts';

/** What one status call means for its job. Decided here, without I/O; poller.ts makes the write. */
export type ReplyDecision =
  /** Atlas says the job ended. */
  | { kind: 'finish'; change: PredictionChange }
  /** Past its deadline: it ends FAILED TIMED_OUT (`change` says so). */
  | { kind: 'timeOut'; change: PredictionChange }
  /** Something clients see changed: write it, with the next poll. */
  | { kind: 'write'; change: PredictionChange; nextPollAt: Date }
  /** Nothing visible changed: only the next poll (and the raw upstream word) is written, batched. */
  | { kind: 'keepPolling'; nextPollAt: Date; upstreamStatus: string | undefined }
  /** The status call failed: try again after a backoff. */
  | { kind: 'retry'; nextPollAt: Date; pollFailures: number };

/** The status call's outcome: what Atlas said (as a change to the row), or why the call failed. */
export type Reply = { change: PredictionChange } | { error: unknown };

/**
 * `startedAt`: when the status call started (the next poll counts from when it was due, see
 * nextPollAt). `now`: when the reply came.
 */
export function decideReply(
  { row, dueAt }: Pick<ClaimedPrediction, 'row' | 'dueAt'>,
  reply: Reply,
  startedAt: Date,
  now: number,
  settings: PollSettings,
): ReplyDecision {
  const expired = now > deadlineOf(row, settings).getTime();
  if ('error' in reply) {
    if (expired) return { kind: 'timeOut', change: timedOut(row, settings, reply.error) };
    const pollFailures = row.pollFailures + 1;
    return {
      kind: 'retry',
      nextPollAt: new Date(now + backoffMs(pollFailures, intervalOf(row, settings))),
      pollFailures,
    };
  }
  const { change } = reply;
  if (change.status && isTerminal(change.status)) return { kind: 'finish', change };
  if (expired) return { kind: 'timeOut', change: timedOut(row, settings) };
  const nextPollAt = nextPollOf(row, dueAt, startedAt, settings, now);
  if (isVisibleChange(row, change)) return { kind: 'write', change, nextPollAt };
  return { kind: 'keepPolling', nextPollAt, upstreamStatus: change.upstreamStatus ?? undefined };
}

/** `lastError`: the status call that failed last, so a revoked key does not read as a slow job. */
export function timedOut(
  row: Pick<PolledRow, 'deadlineAt' | 'createdAt'>,
  settings: PollSettings,
  lastError?: unknown,
): PredictionChange {
  const allowedMs = deadlineOf(row, settings).getTime() - row.createdAt.getTime();
  const within =
    allowedMs >= 120_000
      ? `${Math.round(allowedMs / 60_000)} minutes`
      : allowedMs >= 1_000
        ? `${Math.round(allowedMs / 1000)} s`
        : `${allowedMs} ms`;
  const why = lastError instanceof Error ? `; the last status call failed: ${lastError.message}` : '';
  return {
    status: 'FAILED',
    errorCode: ErrorCode.TIMED_OUT,
    error: `The job did not finish within ${within}${why}`,
  };
}
