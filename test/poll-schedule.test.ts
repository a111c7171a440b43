/** The poller's rules, without a database or timers (src/predictions/pollSchedule.ts, replyDecision.ts). */
import { describe, expect, it } from 'vitest';
import type { PolledRow } from '../src/db/queries/claimDuePredictions.ts';
import {
  backoffMs,
  ClaimPace,
  ClaimSizer,
  claimTickMs,
  deadlineOf,
  IDLE_CLAIM_CAP_MS,
  MAX_CLAIMED,
  nextPollAt,
  nextPollOf,
  POLL_MAX_BACKOFF_MS,
  type PollSettings,
  wakesCopier,
  wakesPoller,
} from '../src/predictions/pollSchedule.ts';
import { decideReply } from '../src/predictions/replyDecision.ts';
import type { PredictionChange } from '../src/predictions/transitions.ts';

const settings: PollSettings = { pollIntervalMs: 1_000, webhookPollIntervalMs: 30_000, predictionTimeoutMs: 600_000 };
const createdAt = new Date('2026-01-01T00:00:00Z');
const at = (ms: number) => new Date(createdAt.getTime() + ms);

const row = (overrides: Partial<PolledRow> = {}): PolledRow => ({
  id: 'job',
  status: 'PROCESSING',
  upstreamId: 'up',
  outputs: [],
  predictTime: null,
  pollFailures: 0,
  createdAt,
  deadlineAt: null,
  hasAtlasWebhook: false,
  ...overrides,
});

describe('next poll', () => {
  it('counts from when the poll was due, so a slow reply does not stretch the interval', () => {
    const dueAt = at(10_000);
    // Started on time, answered 400 ms later: due again one interval after it was due.
    expect(nextPollAt(dueAt, dueAt, 1_000, dueAt.getTime() + 400)).toEqual(at(11_000));
  });

  it('is never less than an interval after it was due, and never in the past', () => {
    const dueAt = at(10_000);
    for (const lateMs of [0, 50, 100, 500, 5_000]) {
      const next = nextPollAt(dueAt, at(10_000 + lateMs), 1_000, dueAt.getTime() + lateMs).getTime();
      expect(next).toBeGreaterThanOrEqual(dueAt.getTime() + 1_000);
    }
    // The reply came long after the next poll would have been due: now, not in the past.
    expect(nextPollAt(dueAt, dueAt, 1_000, at(20_000).getTime())).toEqual(at(20_000));
  });

  it('moves a poll that started late to a tenth of an interval before its next turn', () => {
    expect(nextPollAt(at(10_000), at(10_500), 1_000, at(10_600).getTime())).toEqual(at(11_400));
  });

  it('polls a job with an Atlas webhook at the webhook interval, but at its deadline at the latest', () => {
    const webhooked = row({ hasAtlasWebhook: true, deadlineAt: at(60_000) });
    expect(nextPollOf(webhooked, at(1_000), at(1_000), settings, at(1_000).getTime())).toEqual(at(31_000));
    // One millisecond past the deadline, so that poll finds the job expired.
    expect(nextPollOf(webhooked, at(40_000), at(40_000), settings, at(40_000).getTime())).toEqual(at(60_001));
    expect(nextPollOf(row(), at(40_000), at(40_000), settings, at(40_000).getTime())).toEqual(at(41_000));
  });
});

describe('backoff after failed status calls', () => {
  it('doubles the interval with each failure and caps at POLL_MAX_BACKOFF_MS', () => {
    expect(backoffMs(1, 1_000)).toBe(2_000);
    expect(backoffMs(2, 1_000)).toBe(4_000);
    expect(backoffMs(5, 1_000)).toBe(32_000);
    expect(backoffMs(6, 1_000)).toBe(POLL_MAX_BACKOFF_MS);
    expect(backoffMs(1_000, 1_000)).toBe(POLL_MAX_BACKOFF_MS);
  });
});

describe('deadline', () => {
  it("is the job's own, else PREDICTION_TIMEOUT_MS from its creation", () => {
    expect(deadlineOf(row({ deadlineAt: at(5_000) }), settings)).toEqual(at(5_000));
    expect(deadlineOf(row(), settings)).toEqual(at(600_000));
  });
});

describe('claim capacity', () => {
  it('stays between two claims per slot and MAX_CLAIMED, however the timings go', () => {
    const sizer = new ClaimSizer(10, 250);
    expect(sizer.capacity()).toBeGreaterThanOrEqual(20);
    // Instant status calls would size claims without bound.
    for (let i = 0; i < 200; i++) sizer.recordCall(0);
    expect(sizer.capacity()).toBe(MAX_CLAIMED);
    // Very slow ones would size them to nothing.
    for (let i = 0; i < 200; i++) sizer.recordCall(60_000);
    expect(sizer.capacity()).toBe(20);
  });

  it('claims more when calls are quick, and looks further ahead when the database is slow', () => {
    const sizer = new ClaimSizer(10, 100);
    const before = sizer.capacity();
    for (let i = 0; i < 50; i++) sizer.recordCall(10);
    expect(sizer.capacity()).toBeGreaterThan(before);
    const lookahead = sizer.lookaheadMs();
    for (let i = 0; i < 50; i++) sizer.recordClaim(200);
    expect(sizer.lookaheadMs()).toBeGreaterThan(lookahead);
    for (let i = 0; i < 50; i++) sizer.recordClaim(60_000);
    // Rows claimed further ahead would wait past their lease for a slot.
    expect(sizer.lookaheadMs()).toBe(1_000);
  });

  it('holds no more than it keeps up with while behind, so another gateway can poll the rest', () => {
    const sizer = new ClaimSizer(16, 250);
    for (let i = 0; i < 50; i++) sizer.recordCall(5);
    const bySlots = sizer.capacity();
    expect(bySlots).toBe(MAX_CLAIMED);
    // A starved process: 200 polls started over the last second.
    for (let i = 0; i < 200; i++) sizer.recordStart(10_000 + i * 5);
    expect(sizer.startedLately(10_999)).toBe(200);
    // Behind, it holds one and a half times a second of what it started; not behind, what its slots could poll.
    expect(sizer.capacity({ now: 10_999 })).toBe(300);
    expect(sizer.capacity()).toBe(bySlots);
    // Starts older than a second no longer count; it still holds two claims per slot.
    expect(sizer.startedLately(13_000)).toBe(0);
    expect(sizer.capacity({ now: 13_000 })).toBe(32);
    // Never more than its slots could poll.
    for (let i = 0; i < 5_000; i++) sizer.recordStart(20_000 + i / 10);
    expect(sizer.capacity({ now: 20_500 })).toBe(bySlots);
  });
});

describe('claim pace', () => {
  it('spaces claims that find nothing further apart, doubling up to 750 ms, whatever the interval', () => {
    // At the tests' 40 ms interval, a tick of 10 ms.
    const pace = new ClaimPace(claimTickMs(40), IDLE_CLAIM_CAP_MS);
    const delays = [pace.delayMs];
    for (let i = 0; i < 9; i++) {
      pace.claimed(0, false);
      delays.push(pace.delayMs);
    }
    expect(delays).toEqual([10, 20, 40, 80, 160, 320, 640, 750, 750, 750]);
    expect(pace.idle).toBe(true);
  });

  it('returns to a tick when a claim finds rows, when rows are queued or polled, or on a wake', () => {
    const pace = new ClaimPace(250, 750);
    const backOff = () => {
      for (let i = 0; i < 5; i++) pace.claimed(0, false);
      expect(pace.delayMs).toBe(750);
    };
    backOff();
    pace.claimed(3, false);
    expect([pace.delayMs, pace.idle]).toEqual([250, false]);
    backOff();
    pace.claimed(0, true);
    expect(pace.delayMs).toBe(250);
    backOff();
    pace.wake();
    expect([pace.delayMs, pace.idle]).toEqual([250, false]);
  });

  it('makes a claim take the rows due before the next claim returns, however far away that is', () => {
    const sizer = new ClaimSizer(10, 250);
    // The longest idle pace: a row due in 700 ms is taken now and started on time by a local timer.
    const cap = IDLE_CLAIM_CAP_MS;
    expect(sizer.lookaheadMs(cap)).toBeGreaterThan(cap);
    expect(sizer.lookaheadMs(cap)).toBeGreaterThan(sizer.lookaheadMs());
  });

  it('is woken by a change only when it makes a row due before the next idle claim', () => {
    const now = 100_000;
    // The idle pace is at most 750 ms: a row due by then gains from a wake, one due later is claimed in time anyway.
    expect(wakesPoller(now, now)).toBe(true);
    expect(wakesPoller(now + 750, now)).toBe(true);
    expect(wakesPoller(now + 751, now)).toBe(false);
    // A new job: first due after its create call could have finished.
    expect(wakesPoller(now + 60_000, now)).toBe(false);
    // A job that ended has no poll; a gateway of an older version does not say, so it wakes.
    expect(wakesPoller(null, now)).toBe(false);
    expect(wakesPoller(undefined, now)).toBe(true);
    // At 40 ms (the tests'), the next poll of a job the create reply recorded is due within the cap.
    expect(wakesPoller(now + 40, now)).toBe(true);
  });

  it('wakes the copier for a copy due now only', () => {
    const now = 100_000;
    // A success held for its copy is announced with its copy due at once.
    expect(wakesCopier(now, now)).toBe(true);
    expect(wakesCopier(now - 5, now)).toBe(true);
    // A copy's retry, due later, is found by an idle claim in time; no copy, or an older gateway's notice: no wake.
    expect(wakesCopier(now + 1_000, now)).toBe(false);
    expect(wakesCopier(null, now)).toBe(false);
    expect(wakesCopier(undefined, now)).toBe(false);
  });
});

describe('what a status reply means', () => {
  const claimed = (overrides: Partial<PolledRow> = {}) => ({ row: row(overrides), dueAt: at(10_000) });
  const decide = (overrides: Partial<PolledRow>, reply: Parameters<typeof decideReply>[1], now = 10_200) =>
    decideReply(claimed(overrides), reply, at(10_000), at(now).getTime(), settings);

  it('keeps polling an unchanged job, from when it was due', () => {
    expect(decide({}, { change: { status: 'PROCESSING', upstreamStatus: 'processing' } })).toEqual({
      kind: 'keepPolling',
      nextPollAt: at(11_000),
      upstreamStatus: 'processing',
    });
  });

  it('writes a change clients can see', () => {
    const decision = decide({ status: 'STARTING' }, { change: { status: 'PROCESSING' } });
    expect(decision).toMatchObject({ kind: 'write', change: { status: 'PROCESSING' }, nextPollAt: at(11_000) });
  });

  it('finishes a job Atlas says has ended, even past its deadline', () => {
    const change: PredictionChange = { status: 'SUCCEEDED', outputs: ['https://x/1.mp4'] };
    expect(decide({ deadlineAt: at(5_000) }, { change })).toEqual({ kind: 'finish', change });
  });

  it('times out a job past its deadline, naming the last failed call', () => {
    expect(decide({ deadlineAt: at(10_000) }, { change: { status: 'PROCESSING' } })).toMatchObject({
      kind: 'timeOut',
      change: { status: 'FAILED', errorCode: 'TIMED_OUT', error: 'The job did not finish within 10 s' },
    });
    expect(decide({ deadlineAt: at(10_000) }, { error: new Error('401 Unauthorized') })).toMatchObject({
      kind: 'timeOut',
      change: { error: 'The job did not finish within 10 s; the last status call failed: 401 Unauthorized' },
    });
  });

  it('does not time out a job at its deadline, only after it', () => {
    expect(decide({ deadlineAt: at(10_200) }, { change: { status: 'PROCESSING' } }).kind).toBe('keepPolling');
  });

  it('retries a failed status call after a backoff, counting the failures', () => {
    expect(decide({ pollFailures: 2 }, { error: new Error('reset') })).toEqual({
      kind: 'retry',
      nextPollAt: at(10_200 + 8_000),
      pollFailures: 3,
    });
    expect(decide({ pollFailures: 40 }, { error: new Error('reset') })).toMatchObject({
      nextPollAt: at(10_200 + POLL_MAX_BACKOFF_MS),
    });
  });
});
