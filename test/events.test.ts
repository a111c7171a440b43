import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../src/db/database.ts';
import { insertPrediction, insertPredictions } from '../src/db/queries/insertPrediction.ts';
import type { PredictionRow } from '../src/db/schema.ts';
import { createLogger } from '../src/log.ts';
import { PredictionCache } from '../src/predictions/cache.ts';
import { DELIVERIES_PER_TURN, MAX_UNREAD, PredictionEvents } from '../src/predictions/events.ts';
import { applyChange } from '../src/predictions/transitions.ts';
import { eventually, letTimePass, openTestDatabase, type TestDatabase } from './support/gateway.ts';

const row = (id: string) => ({
  id,
  status: 'PROCESSING' as const,
  prompt: 'p',
  model: 'alibaba/happyhorse-1.0/text-to-video' as const,
  resolution: '720P' as const,
  aspectRatio: '16:9' as const,
  duration: 5,
});

async function take(stream: AsyncIterable<PredictionRow>, into: PredictionRow[]) {
  for await (const event of stream) into.push(event);
}

describe('prediction events', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await openTestDatabase('postgres');
  });
  afterAll(() => db?.close());

  /**
   * A job being watched, on a database whose LISTEN reconnect the test triggers (so the window in which
   * notices are lost is exact) and whose reads fail while `readsFail()` says so; and its change to
   * SUCCEEDED, committed while no notice can arrive.
   */
  async function watchedWithoutNotices(id: string, readsFail: () => boolean = () => false) {
    let reconnect = () => {};
    const failing = new Proxy(db.database.db, {
      get: (target, prop, receiver) =>
        prop === 'select'
          ? () => {
              throw new Error('connection terminated unexpectedly');
            }
          : Reflect.get(target, prop, receiver),
    });
    const database: Database = {
      ...db.database,
      get db() {
        return readsFail() ? failing : db.database.db;
      },
      listen: async (_channel, _onPayload, onReconnect) => {
        reconnect = onReconnect;
        return async () => {};
      },
    };
    const events = new PredictionEvents(database, createLogger('silent'));
    await events.start();
    const initial = await insertPrediction(db.database.db, row(id));
    const seen: PredictionRow[] = [];
    const done = take(events.watch(initial), seen);
    // Nothing observable marks the watch's own catch-up read as done: give it a moment.
    await letTimePass(100);
    const succeed = () =>
      applyChange(
        db.database.db,
        { log: createLogger('silent') },
        id,
        { status: 'SUCCEEDED', outputs: ['https://cdn.example/x.mp4'], nextPollAt: null },
        { source: { via: 'poll' } },
      );
    return { events, seen, done, succeed, reconnect: () => reconnect() };
  }

  it('re-reads watched predictions when the listening connection comes back', async () => {
    const { events, seen, done, succeed, reconnect } = await watchedWithoutNotices(
      '10000000-0000-4000-8000-000000000001',
    );
    await succeed();
    // Nothing observable marks "no notice came": a moment in which a wrongly seen change would show.
    await letTimePass(100);
    expect(seen.map((r) => r.status)).toEqual(['PROCESSING']);

    reconnect();
    await done;
    expect(seen.map((r) => r.status)).toEqual(['PROCESSING', 'SUCCEEDED']);
    await events.stop();
  });

  it('reads a watched prediction again when the read after a reconnect fails, so its end still arrives', async () => {
    // The LISTEN connection comes back while the pool's are being cut (test/connection-cuts.test.ts):
    // the re-read fails, and no notice follows a job's end.
    let readsFail = false;
    const { events, seen, done, succeed, reconnect } = await watchedWithoutNotices(
      '10000000-0000-4000-8000-000000000004',
      () => readsFail,
    );
    await succeed();
    readsFail = true;
    reconnect();
    // Time is the subject: the failed read's first retry is 250 ms later; it fails too.
    await letTimePass(300);
    expect(seen.map((r) => r.status)).toEqual(['PROCESSING']);
    readsFail = false;
    await Promise.race([
      done,
      letTimePass(10_000).then(() => {
        throw new Error('the watcher never got the end');
      }),
    ]);
    expect(seen.map((r) => r.status)).toEqual(['PROCESSING', 'SUCCEEDED']);
    await events.stop();
  });

  it('keeps delivering after Postgres drops the LISTEN connection', async () => {
    const events = new PredictionEvents(db.database, createLogger('silent'));
    await events.start();
    const id = '10000000-0000-4000-8000-000000000002';
    const initial = await insertPrediction(db.database.db, row(id));
    const seen: PredictionRow[] = [];
    const done = take(events.watch(initial), seen);

    const admin = postgres(db.url!, { max: 1, onnotice: () => {} });
    const killed = await admin`select pg_terminate_backend(pid) from pg_stat_activity
      where datname = current_database() and query ilike 'listen%'`;
    expect(killed.length).toBeGreaterThan(0);
    await admin.end();

    // Once the listener is back, a change is delivered (by its notice, or by the re-read after reconnect).
    await eventually(
      () =>
        db.database.db.execute(
          sql`select count(*)::int as n from pg_stat_activity where datname = current_database() and query ilike 'listen%'`,
        ),
      (result) => (result as unknown as { n: number }[])[0]?.n === 1,
    );
    await applyChange(
      db.database.db,
      { log: createLogger('silent') },
      id,
      { status: 'FAILED', errorCode: 'X', nextPollAt: null },
      { source: { via: 'poll' } },
    );
    await done;
    expect(seen.map((r) => r.status)).toEqual(['PROCESSING', 'FAILED']);
    await events.stop();
  });

  it('ends every stream on stop, so SSE responses can finish', async () => {
    const events = new PredictionEvents(db.database, createLogger('silent'));
    await events.start();
    const id = '10000000-0000-4000-8000-000000000003';
    const initial = await insertPrediction(db.database.db, row(id));
    const seen: PredictionRow[] = [];
    const done = take(events.watch(initial), seen);
    await events.stop();
    await done;
    expect(seen).toHaveLength(1);
  });

  it('ends a stream whose subscriber stopped reading, MAX_UNREAD rows behind, and the other streams get every row', async () => {
    const events = new PredictionEvents(db.database, createLogger('silent'));
    await events.start();
    const owner = { id: 'stops-reading', tenantId: null };
    // A client that stopped reading but keeps its connection: it asked for one row, and no more.
    const stalled = events.watchOwner(owner)[Symbol.asyncIterator]();
    const first = stalled.next();
    const read: PredictionRow[] = [];
    void take(events.watchOwner(owner), read);
    const jobs = Array.from({ length: MAX_UNREAD + 20 }, (_, i) => ({
      ...row(`20000000-0000-4000-8000-${String(i).padStart(12, '0')}`),
      ownerId: owner.id,
    }));
    await insertPredictions(db.database.db, jobs);
    await eventually(
      () => read.length,
      (n) => n === jobs.length,
    );
    // The stalled stream holds what it was handed up to the limit, then ends (Repeater throws at 1,024
    // pending rows, inside the fan-out, which then skipped the streams after it).
    let held = (await first).done ? 0 : 1;
    while (!(await stalled.next()).done) held++;
    expect(held).toBe(MAX_UNREAD);
    await events.stop();
  });

  it('tells onAnyChange of every change announced, of predictions nobody watches (the poller wakes from idle on it)', async () => {
    const events = new PredictionEvents(db.database, createLogger('silent'));
    await events.start();
    let heard = 0;
    events.onAnyChange(() => heard++);
    const id = '10000000-0000-4000-8000-000000000009';
    await insertPrediction(db.database.db, row(id));
    await applyChange(
      db.database.db,
      { log: createLogger('silent') },
      id,
      { status: 'SUCCEEDED', outputs: ['https://cdn.example/x.mp4'], nextPollAt: null },
      { source: { via: 'poll' } },
    );
    await eventually(
      () => heard,
      (n) => n >= 1,
    );
    await events.stop();
  });

  it('hands a change to many watchers a batch per turn of the event loop, and ends their streams only after all have it', async () => {
    // Counts the rows read for watchers: each watch reads its row once more as it registers.
    class CountingCache extends PredictionCache {
      offers = 0;
      override offer(row: PredictionRow): void {
        this.offers++;
        super.offer(row);
      }
    }
    const cache = new CountingCache();
    const events = new PredictionEvents(db.database, createLogger('silent'), cache);
    await events.start();
    const id = '10000000-0000-4000-8000-000000000010';
    const initial = await insertPrediction(db.database.db, row(id));
    const watchers = 10 * DELIVERIES_PER_TURN;
    let succeeded = 0;
    /** How many watchers had SUCCEEDED once the event loop turned after the first got it. */
    let seenByNextTurn: number | undefined;
    /** How many had it when the first stream ended. */
    let seenWhenFirstEnded: number | undefined;
    const streams = Array.from({ length: watchers }, async () => {
      const statuses: string[] = [];
      for await (const event of events.watch(initial)) {
        statuses.push(event.status);
        if (event.status !== 'SUCCEEDED') continue;
        if (succeeded++ === 0) setImmediate(() => (seenByNextTurn = succeeded));
      }
      seenWhenFirstEnded ??= succeeded;
      return statuses;
    });
    await eventually(
      () => cache.offers,
      (n) => n >= watchers,
    );

    await applyChange(
      db.database.db,
      { log: createLogger('silent') },
      id,
      { status: 'SUCCEEDED', outputs: ['https://cdn.example/x.mp4'], nextPollAt: null },
      { source: { via: 'poll' } },
    );
    const statuses = await Promise.all(streams);
    expect(statuses.every((s) => s.join() === 'PROCESSING,SUCCEEDED')).toBe(true);
    // The first streams were written before the last were reached, not after all 1,000 executions.
    expect(seenByNextTurn).toBeLessThan(watchers);
    expect(seenWhenFirstEnded).toBe(watchers);
    await events.stop();
  });
});
