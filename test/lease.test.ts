import { randomUUID } from 'node:crypto';
import { asc } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { notifyPredictionChanged, PREDICTION_CHANNEL, PredictionNotice } from '../src/db/notify.ts';
import { claimDuePredictions } from '../src/db/queries/claimDuePredictions.ts';
import { type NewPredictionRow, type PredictionRow, predictions } from '../src/db/schema.ts';
import { createLogger } from '../src/log.ts';
import { type Poller, startPoller } from '../src/predictions/poller.ts';
import { BACKENDS, eventually, openTestDatabase, type TestDatabase } from './support/gateway.ts';
import { HeldAtlas } from './support/heldAtlas.ts';

const HOUR = 3_600_000;

type Job = 'unchanged' | 'progress' | 'done' | 'expired' | 'failing' | 'stopped';
/** What the held status call ends with: an upstream reply, a failure, or nothing before stop(). */
type Outcome = Record<string, unknown> | 'fail' | 'none';

/** One running job per kind of write the poller makes after a status call. */
const JOBS: Record<Job, { outcome: Outcome; ageMs?: number }> = {
  unchanged: { outcome: { status: 'processing' } }, // reschedule, nothing visible
  progress: { outcome: { status: 'processing', metrics: { predict_time: 1.5 } } }, // visible change + NOTIFY
  done: { outcome: { status: 'completed', outputs: ['https://cdn.example/done.mp4'] } }, // finish + NOTIFY
  expired: { outcome: { status: 'processing' }, ageMs: 2 * HOUR }, // time-out + NOTIFY
  failing: { outcome: 'fail' }, // backoff reschedule
  stopped: { outcome: 'none' }, // still open at stop(): the lease is handed back
};
const KINDS = Object.keys(JOBS) as Job[];

function runningJob(kind: Job, due: Date): NewPredictionRow {
  const created = new Date(Date.now() - (JOBS[kind].ageMs ?? 0));
  return {
    id: randomUUID(),
    status: 'PROCESSING',
    prompt: kind,
    model: 'alibaba/happyhorse-1.0/text-to-video',
    resolution: '720P',
    aspectRatio: '16:9',
    duration: 5,
    upstreamId: kind,
    upstreamStatus: 'processing',
    createdAt: created,
    updatedAt: created,
    nextPollAt: due,
  };
}

describe.each(BACKENDS)('poll leases are fenced on %s', (backend) => {
  let db: TestDatabase;
  let atlas: HeldAtlas;
  let poller: Poller | undefined;
  let notices: PredictionNotice[];
  let unlisten: () => Promise<void>;

  beforeAll(async () => {
    db = await openTestDatabase(backend);
    unlisten = await db.database.listen(
      PREDICTION_CHANNEL,
      (payload) => notices.push(PredictionNotice.parse(JSON.parse(payload))),
      () => {},
    );
  });
  afterAll(async () => {
    await poller?.stop();
    await unlisten?.();
    await db?.close();
  });
  beforeEach(async () => {
    await poller?.stop();
    await db.truncate();
    atlas = new HeldAtlas();
    notices = [];
  });

  const rowsByKind = async (): Promise<Record<Job, PredictionRow>> => {
    const rows = await db.database.db.select().from(predictions).orderBy(asc(predictions.prompt));
    return Object.fromEntries(rows.map((row) => [row.prompt, row])) as Record<Job, PredictionRow>;
  };

  /**
   * Every notice committed before now has arrived once our own marker has: notifications are
   * delivered in commit order.
   */
  const drainNotices = async () => {
    const marker = randomUUID();
    await notifyPredictionChanged(db.database.db, { id: marker, version: 0 });
    await eventually(
      () => notices.some((n) => n.id === marker),
      (seen) => seen,
    );
    return notices.filter((n) => n.id !== marker);
  };

  /**
   * Gateway A claims one job of each kind and calls upstream for each; the calls hang. Then another
   * gateway, B, takes the rows as it would once A's lease ran out (B's clock is past the lease):
   * - 'claim': B claims them (the real claim, one statement);
   * - 'claim, then hand back': B is a whole poller that claims them, starts its own calls and is
   *   stopped, handing the rows back (due when they were due, to whoever claims next);
   * - 'none': nobody does, A keeps its lease.
   * Then A's replies arrive, A is stopped (handing back the call still open), and this returns the
   * rows before and after A's writes, with the notices sent meanwhile.
   */
  async function staleReplies(takeover: 'claim' | 'claim, then hand back' | 'none') {
    const due = new Date(Date.now() - 1_000);
    await db.database.db.insert(predictions).values(KINDS.map((kind) => runningJob(kind, due)));
    poller = startPoller({
      db: db.database.db,
      atlas,
      log: createLogger('silent'),
      pollIntervalMs: 1_000,
      concurrency: 16,
      predictionTimeoutMs: HOUR,
      // Long: A never loses its lease by the clock here; B's claim below is what takes it.
      leaseMs: 10 * 60_000,
    });
    await eventually(
      () => atlas.calls.size,
      (n) => n === KINDS.length,
    );
    const claimedByA = await rowsByKind();
    const lease = claimedByA.unchanged.nextPollAt!;
    for (const kind of KINDS) expect(claimedByA[kind].nextPollAt).toEqual(lease);

    if (takeover === 'claim') {
      const byB = await claimDuePredictions(db.database.db, {
        limit: 100,
        dueBy: lease,
        leaseUntil: new Date(lease.getTime() + 60_000),
      });
      expect(byB).toHaveLength(KINDS.length);
    } else if (takeover === 'claim, then hand back') {
      const atlasB = new HeldAtlas();
      const offset = lease.getTime() - Date.now();
      const b = startPoller({
        db: db.database.db,
        atlas: atlasB,
        log: createLogger('silent'),
        pollIntervalMs: 1_000,
        concurrency: 16,
        predictionTimeoutMs: HOUR,
        leaseMs: 60_000,
        clock: () => Date.now() + offset,
      });
      await eventually(
        () => atlasB.calls.size,
        (n) => n === KINDS.length,
      );
      await b.stop();
      // Handed back, due about when B found them due (A's lease), not left with B's lease.
      for (const row of Object.values(await rowsByKind()))
        expect(Math.abs(row.nextPollAt!.getTime() - lease.getTime())).toBeLessThan(1_000);
    }
    const before = await rowsByKind();
    await drainNotices();
    notices.length = 0;

    for (const kind of KINDS) {
      const { outcome } = JOBS[kind];
      if (outcome === 'fail') atlas.fail(kind);
      else if (outcome !== 'none') atlas.answer(kind, outcome);
    }
    // Let the replies reach the poller before stop() aborts what is still open (a call failing after
    // stop reads as the hand-back, not as a failed call).
    await new Promise((resolve) => setImmediate(resolve));
    await poller.stop(); // waits for every poll under way to be written, after aborting the one still open
    poller = undefined;
    return { lease, before, after: await rowsByKind(), notices: await drainNotices() };
  }

  it.each(['claim', 'claim, then hand back'] as const)(
    'a poller whose lease was taken over (%s) changes nothing: no status, schedule, version or notice',
    async (takeover) => {
      const { before, after, notices } = await staleReplies(takeover);
      expect(after).toEqual(before);
      expect(notices).toEqual([]);
    },
  );

  it('a poller that still holds its lease writes every kind of result (control for the test above)', async () => {
    const { lease, before, after, notices } = await staleReplies('none');
    expect(after.unchanged).toEqual({ ...before.unchanged, nextPollAt: after.unchanged.nextPollAt });
    expect(after.unchanged.nextPollAt).not.toEqual(lease);
    expect(after.progress).toMatchObject({
      status: 'PROCESSING',
      predictTime: 1.5,
      version: before.progress.version + 1,
    });
    expect(after.done).toMatchObject({
      status: 'SUCCEEDED',
      outputs: ['https://cdn.example/done.mp4'],
      nextPollAt: null,
    });
    expect(after.expired).toMatchObject({ status: 'FAILED', errorCode: 'TIMED_OUT', nextPollAt: null });
    expect(after.failing.pollFailures).toBe(1);
    expect(after.failing.nextPollAt!.getTime()).toBeGreaterThan(Date.now());
    expect(after.failing.nextPollAt).not.toEqual(lease);
    expect(after.stopped.nextPollAt!.getTime()).toBeLessThanOrEqual(Date.now()); // handed back: due at once
    expect(notices.map((n) => n.id).sort()).toEqual([after.progress.id, after.done.id, after.expired.id].sort());
  });
});
