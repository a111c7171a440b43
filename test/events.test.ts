import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../src/db/database.ts';
import { insertPrediction } from '../src/db/queries/insertPrediction.ts';
import type { PredictionRow } from '../src/db/schema.ts';
import { createLogger } from '../src/log.ts';
import { PredictionEvents } from '../src/predictions/events.ts';
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

  it('re-reads watched predictions when the listening connection comes back', async () => {
    // A database whose reconnect the test triggers, so the lost-notice window is exact.
    let reconnect = () => {};
    const database: Database = {
      ...db.database,
      listen: async (_channel, _onPayload, onReconnect) => {
        reconnect = onReconnect;
        return async () => {};
      },
    };
    const events = new PredictionEvents(database, createLogger('silent'));
    await events.start();
    const id = '10000000-0000-4000-8000-000000000001';
    const initial = await insertPrediction(db.database.db, row(id));
    const seen: PredictionRow[] = [];
    const done = take(events.watch(initial), seen);
    // Nothing observable marks the watch's own catch-up read as done: give it a moment.
    await letTimePass(100);

    // The change commits while no notice can arrive.
    await applyChange(
      db.database.db,
      { log: createLogger('silent') },
      id,
      { status: 'SUCCEEDED', outputs: ['https://cdn.example/x.mp4'], nextPollAt: null },
      { source: { via: 'poll' } },
    );
    // Nothing observable marks "no notice came": a moment in which a wrongly seen change would show.
    await letTimePass(100);
    expect(seen.map((r) => r.status)).toEqual(['PROCESSING']);

    reconnect();
    await done;
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
});
