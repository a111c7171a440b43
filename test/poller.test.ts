import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type PredictionRow, predictions } from '../src/db/schema.ts';
import { createLogger } from '../src/log.ts';
import { type Poller, type PollStart, startPoller } from '../src/predictions/poller.ts';
import { BACKENDS, eventually, letTimePass, openTestDatabase, type TestDatabase } from './support/gateway.ts';
import { HeldAtlas } from './support/heldAtlas.ts';

/** Long, so every step below fits well inside the slack the schedule allows (a tenth of it). */
const INTERVAL = 10_000;

describe.each(BACKENDS)('poll schedule on %s', (backend) => {
  let db: TestDatabase;
  let atlas: HeldAtlas;
  let poller: Poller | undefined;
  let polls: PollStart[];

  beforeAll(async () => {
    db = await openTestDatabase(backend);
  });
  afterAll(async () => {
    await poller?.stop();
    await db?.close();
  });
  beforeEach(async () => {
    await poller?.stop();
    poller = undefined;
    await db.truncate();
    atlas = new HeldAtlas();
    polls = [];
  });

  async function runningJob(due: Date): Promise<string> {
    const id = randomUUID();
    await db.database.db.insert(predictions).values({
      id,
      status: 'PROCESSING',
      prompt: 'schedule',
      model: 'alibaba/happyhorse-1.0/text-to-video',
      resolution: '720P',
      aspectRatio: '16:9',
      duration: 5,
      upstreamId: 'job_1',
      upstreamStatus: 'processing',
      nextPollAt: due,
    });
    return id;
  }

  const read = async (id: string): Promise<PredictionRow> => {
    const [row] = await db.database.db.select().from(predictions).where(eq(predictions.id, id));
    return row!;
  };

  const start = () => {
    poller = startPoller({
      db: db.database.db,
      atlas,
      log: createLogger('silent'),
      pollIntervalMs: INTERVAL,
      concurrency: 4,
      predictionTimeoutMs: 3_600_000,
      leaseMs: 60_000,
      onPoll: (poll) => polls.push(poll),
    });
  };

  /** Answer the open status call after `delayMs`, and wait until the poller has written the result back. */
  async function answerLater(id: string, lease: Date, delayMs: number): Promise<PredictionRow> {
    // Time is the subject: the answer comes this late.
    await letTimePass(delayMs);
    atlas.answer('job_1', { status: 'processing' });
    return eventually(
      () => read(id),
      (row) => row.nextPollAt?.getTime() !== lease.getTime(),
    );
  }

  it('schedules the next poll from when this one was due, however long the call took', async () => {
    const due = new Date(Date.now() - 50);
    const id = await runningJob(due);
    start();
    await eventually(
      () => atlas.calls.size,
      (n) => n === 1,
    );
    const { nextPollAt: lease } = await read(id);
    // A slow reply: scheduling from when it came back would put the next poll 400 ms and more later.
    const row = await answerLater(id, lease!, 400);
    expect(row.nextPollAt).toEqual(new Date(due.getTime() + INTERVAL));
  });

  it('moves a poll that started late to a tenth of an interval before its next turn, so a bunch spreads out', async () => {
    // Due 3 s ago: as after an outage, it starts 3 s late (more than the tenth of an interval allowed).
    const due = new Date(Date.now() - 3_000);
    const id = await runningJob(due);
    start();
    await eventually(
      () => atlas.calls.size,
      (n) => n === 1,
    );
    const { nextPollAt: lease } = await read(id);
    const row = await answerLater(id, lease!, 100);
    const [poll] = polls;
    expect(poll!.dueAt).toEqual(due);
    // Not due + interval (7 s after it started): the next poll comes 0.9 interval after this one started.
    expect(row.nextPollAt).toEqual(new Date(poll!.startedAt.getTime() + INTERVAL - INTERVAL / 10));
  });

  it('claims a job a little ahead, starts its poll when it is due, and on stop hands it back due when it was', async () => {
    const due = new Date(Date.now() + 200);
    const id = await runningJob(due);
    start();
    const claimed = await eventually(
      () => read(id),
      (row) => row.nextPollAt?.getTime() !== due.getTime(),
    );
    // The lease is the claim's clock plus leaseMs: it was claimed before it was due.
    expect(claimed.nextPollAt!.getTime() - 60_000).toBeLessThan(due.getTime());
    await eventually(
      () => polls.length,
      (n) => n === 1,
    );
    expect(polls[0]!.dueAt).toEqual(due);
    expect(polls[0]!.startedAt.getTime()).toBeGreaterThanOrEqual(due.getTime()); // never before it is due
    // Stopped mid-call: another gateway may take it at once, and it keeps its place in the order
    // (a millisecond later: its old value may be a lost lease, which must not come back).
    await poller!.stop();
    expect((await read(id)).nextPollAt).toEqual(new Date(due.getTime() + 1));
  });
});
