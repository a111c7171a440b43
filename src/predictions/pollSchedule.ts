import type { PolledRow } from '../db/queries/claimDuePredictions.ts';

/**
 * When the poller polls, and how much it claims: arithmetic only, no timers and no database, so each
 * rule can be read (and tested) on its own. poller.ts does the waiting and the I/O.
 */

/** The longest wait between polls after failed status calls. */
export const POLL_MAX_BACKOFF_MS = 60_000;
/** The most rows one claim takes, and one process holds claimed before polling them. */
export const MAX_CLAIMED = 1_000;
/**
 * Under a backlog, hold about this much work claimed (or two claims' worth, when the database is slow),
 * so as not to hoard rows another gateway could poll sooner.
 */
const CLAIM_AHEAD_MS = 1_000;
/**
 * A claimed row that waited this long for a free slot is handed back unpolled: its lease (a status
 * call's worst case plus 5 s, see server.ts) must still outlast the call.
 */
export const MAX_WAIT_MS = 4_000;

export const clamp = (n: number, min: number, max: number) => Math.min(max, Math.max(min, n));

export interface PollSettings {
  pollIntervalMs: number;
  /** WEBHOOK_POLL_INTERVAL_MS: the interval for jobs that have an Atlas webhook; pollIntervalMs when unset. */
  webhookPollIntervalMs?: number | undefined;
  /** The deadline of rows stored before deadlines were (they have none of their own). */
  predictionTimeoutMs: number;
}

/** How often claims start: a quarter of the interval, within 5–250 ms. */
export const claimTickMs = (pollIntervalMs: number) => clamp(pollIntervalMs / 4, 5, 250);

/**
 * The longest wait between claims that find nothing to do, whatever the interval: short enough that
 * the claim's lookahead (capped at MAX_WAIT_MS / 4) still reaches past the next claim. A shorter
 * interval gains nothing from a shorter wait: each claim takes the rows due before the next one
 * returns, and a change that makes a row due sooner wakes the poller (wakesPoller). (Capped at the
 * interval, an idle gateway at the tests' 40 ms claimed 25 times a second, 7% of a core.)
 */
export const IDLE_CLAIM_CAP_MS = 750;

/**
 * Whether a change announced (its notice's nextPollAt: epoch ms, null for none, undefined from an
 * older gateway) should end an idle poller's pace. Only a row due before the next idle claim gains:
 * each claim takes what comes due until the one after it, so a later row is claimed in time anyway.
 * A new job's first poll, for one, is due only after its create call could have finished.
 */
export function wakesPoller(nextPollAt: number | null | undefined, now: number): boolean {
  if (nextPollAt === null) return false;
  return nextPollAt === undefined || nextPollAt <= now + IDLE_CLAIM_CAP_MS;
}

/**
 * Whether a change announced (its notice's mirrorNextAt) should end an idle copier's pace: a copy due
 * now (a success held for its copy). A copy's retry, due later, is found by a claim in time; a notice
 * from an older gateway says nothing of copies, and its copies are found within IDLE_CLAIM_CAP_MS.
 */
export function wakesCopier(mirrorNextAt: number | null | undefined, now: number): boolean {
  return typeof mirrorNextAt === 'number' && mirrorNextAt <= now;
}

/**
 * How far apart claims start, for the poller and the copier. A claim that finds nothing, with nothing
 * queued or under way, lets the next one wait twice as long, up to the cap: an idle gateway asks
 * Postgres fewer than two times a second instead of every tick (25 times a second at the tests' 40 ms
 * interval, 4 at 2 s). A claim that finds work, or a change announced anywhere that makes work due
 * sooner (wakesPoller, wakesCopier), brings it back to a tick. Each poller claim takes the rows due
 * before the next one returns, so a longer wait does not make a known row late.
 */
export class ClaimPace {
  #delayMs: number;

  constructor(
    private readonly tickMs: number,
    private readonly capMs: number,
  ) {
    this.#delayMs = tickMs;
  }

  /** From the start of one claim to the start of the next. */
  get delayMs(): number {
    return this.#delayMs;
  }

  get idle(): boolean {
    return this.#delayMs > this.tickMs;
  }

  /** What a claim found (`claimed` rows), and whether rows were queued or being polled besides. */
  claimed(claimed: number, busy: boolean): void {
    this.#delayMs = claimed > 0 || busy ? this.tickMs : Math.min(this.#delayMs * 2, this.capMs);
  }

  wake(): void {
    this.#delayMs = this.tickMs;
  }
}

/** How long reschedules wait to share a statement (the rows stay leased meanwhile). */
export const rescheduleBatchDelayMs = (pollIntervalMs: number) => clamp(pollIntervalMs / 20, 1, 50);

/** The caller's timeoutSeconds, else PREDICTION_TIMEOUT_MS (rows from before deadlines were stored). */
export function deadlineOf(row: Pick<PolledRow, 'deadlineAt' | 'createdAt'>, settings: PollSettings): Date {
  return row.deadlineAt ?? new Date(row.createdAt.getTime() + settings.predictionTimeoutMs);
}

/** Jobs with a webhook are polled less often (the webhook is the fast path; polling the safety net). */
export const intervalOf = (row: Pick<PolledRow, 'hasAtlasWebhook'>, settings: PollSettings) =>
  row.hasAtlasWebhook ? (settings.webhookPollIntervalMs ?? settings.pollIntervalMs) : settings.pollIntervalMs;

/**
 * From when the poll was due, not from when its reply came, so the interval holds. A poll that
 * started late moves the next one later by what it was late beyond a tenth of the interval: jobs
 * all due at once (after an outage) spread out over the interval instead of staying in a bunch
 * that is polled late every time. Never in the past.
 */
export const nextPollAt = (dueAt: Date, startedAt: Date, intervalMs: number, now: number) =>
  new Date(Math.max(dueAt.getTime() + intervalMs, startedAt.getTime() + intervalMs - intervalMs / 10, now));

/** The next poll of a job that answered; a job with a webhook is still polled at its deadline, so it times out on time. */
export function nextPollOf(
  row: Pick<PolledRow, 'hasAtlasWebhook' | 'deadlineAt' | 'createdAt'>,
  dueAt: Date,
  startedAt: Date,
  settings: PollSettings,
  now: number,
): Date {
  const next = nextPollAt(dueAt, startedAt, intervalOf(row, settings), now);
  if (!row.hasAtlasWebhook) return next;
  // One millisecond past the deadline, so that poll finds the job expired.
  return new Date(Math.max(Math.min(next.getTime(), deadlineOf(row, settings).getTime() + 1), now));
}

/** The wait after `failures` failed status calls in a row: the interval doubling, capped at POLL_MAX_BACKOFF_MS. */
export const backoffMs = (failures: number, intervalMs: number) =>
  Math.min(POLL_MAX_BACKOFF_MS, intervalMs * 2 ** Math.min(failures, 10));

/** Polls started are counted in buckets this long, over THROUGHPUT_WINDOW_MS. */
const START_BUCKET_MS = 100;
const THROUGHPUT_WINDOW_MS = 1_000;

/**
 * How much one process claims, from moving averages of how long status calls and claims take: enough
 * to keep every slot busy, without hoarding rows another gateway could poll sooner.
 *
 * A process that is behind (rows it claimed wait past their due time) is short of CPU or of slots, not of
 * rows: it holds only what it actually started lately, over a few claims' time, and leaves the rest due
 * in the database for a gateway with room. Sized from status call time alone, a starved process claimed a
 * second or more of work it then polled seconds late (or handed back after MAX_WAIT_MS) while the
 * other gateway found nothing due.
 */
export class ClaimSizer {
  /** Moving average of status call time, to size claims under a backlog. */
  #callMs = 50;
  /** Moving average of claim time: a busy database must not make claims late. */
  #claimMs: number;
  /** Polls started per START_BUCKET_MS, the newest last, and the bucket the newest counts. */
  #starts: number[] = Array.from({ length: THROUGHPUT_WINDOW_MS / START_BUCKET_MS }, () => 0);
  #bucket = 0;

  constructor(
    private readonly concurrency: number,
    private readonly tickMs: number,
  ) {
    this.#claimMs = tickMs / 4;
  }

  recordCall(ms: number): void {
    this.#callMs += (ms - this.#callMs) / 10;
  }

  recordClaim(ms: number): void {
    this.#claimMs += (ms - this.#claimMs) / 4;
  }

  /** A poll started at `now` (epoch ms). */
  recordStart(now: number): void {
    this.#advance(now);
    this.#starts[this.#starts.length - 1]! += 1;
  }

  /** Polls started in the last THROUGHPUT_WINDOW_MS before `now`. */
  startedLately(now: number): number {
    this.#advance(now);
    return this.#starts.reduce((sum, n) => sum + n, 0);
  }

  #advance(now: number): void {
    const bucket = Math.floor(now / START_BUCKET_MS);
    const gone = Math.min(bucket - this.#bucket, this.#starts.length);
    if (gone <= 0) return;
    this.#starts.splice(0, gone);
    for (let i = 0; i < gone; i++) this.#starts.push(0);
    this.#bucket = bucket;
  }

  /**
   * How many rows to hold claimed: what the slots can poll in CLAIM_AHEAD_MS, or until the claim after
   * next returns. `behind`: claimed rows wait past their due time (see the class), so no more than
   * one and a half times what this process started lately over four claims' time (at least a second).
   */
  capacity(behind?: { now: number }): number {
    const aheadMs = clamp(2 * (this.tickMs + this.#claimMs), CLAIM_AHEAD_MS, MAX_WAIT_MS / 2);
    const bySlots = clamp(Math.round((this.concurrency * aheadMs) / this.#callMs), 2 * this.concurrency, MAX_CLAIMED);
    if (!behind) return bySlots;
    // Half as much again as it started, so a process that is catching up can claim more each time.
    const holdMs = 1.5 * clamp(4 * this.#claimMs, CLAIM_AHEAD_MS, aheadMs);
    const started = (this.startedLately(behind.now) * holdMs) / THROUGHPUT_WINDOW_MS;
    return clamp(Math.round(started), 2 * this.concurrency, bySlots);
  }

  /** How far ahead a claim takes rows: until the next claim (`untilNextClaimMs` away) will have returned, well inside MAX_WAIT_MS. */
  lookaheadMs(untilNextClaimMs = this.tickMs): number {
    return Math.min(untilNextClaimMs + 2 * this.#claimMs, MAX_WAIT_MS / 4);
  }
}
