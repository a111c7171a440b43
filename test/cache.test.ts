/**
 * The read path's per-process cache of prediction rows never serves a state older than one the
 * process was told of: not after a notice from another gateway, not after its own write, not after
 * its LISTEN connection came back.
 */
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { wrapped } from './support/fakeAtlas.ts';
import { collect, eventually, type TestGateway, twoGatewaysFixture } from './support/gateway.ts';

const GENERATE =
  'mutation G($input: GenerateVideoInput!) { generateVideo(input: $input) { prediction { id status } } }';
const READ = 'query P($id: ID!) { prediction(id: $id) { status } }';
const WATCH = 'subscription W($id: ID!) { predictionUpdated(id: $id) { status } }';
type Status = { prediction: { status: string } };

describe('cached reads on two gateways sharing one Postgres database', () => {
  // Either may poll a job; every change reaches the other only as a notice. (Create calls get time
  // enough on a busy machine.)
  const t = twoGatewaysFixture({ UPSTREAM_TIMEOUT_MS: '5000' });

  const status = async (gw: TestGateway, id: string) =>
    (await gw.request<Status>(READ, { id })).data!.prediction.status;

  it('reads the new state on the other gateway as soon as its subscriber got it', async () => {
    t.fake.newJob = (n) => ({ id: `job_${n}`, script: [wrapped({ id: `job_${n}`, status: 'processing' })] });
    const created = await t.a.request<{ generateVideo: { prediction: { id: string } } }>(GENERATE, {
      input: { prompt: 'cache me' },
    });
    const id = created.data!.generateVideo.prediction.id;
    // B reads (and caches) the running state, and watches.
    expect(await status(t.b, id)).toBe('PROCESSING');
    const events = collect(t.b.subscribe<{ predictionUpdated: { status: string } }>(WATCH, { id }));
    await eventually(
      () => t.fake.statusCalls('job_1').length,
      (n) => n >= 1,
    );
    t.fake.statusScripts.set('job_1', [
      wrapped({ id: 'job_1', status: 'completed', outputs: ['https://cdn.example/c.mp4'] }),
    ]);
    expect((await events).at(-1)!.data!.predictionUpdated.status).toBe('SUCCEEDED');
    // The notice that moved the subscriber dropped the cached row first.
    expect(await status(t.b, id)).toBe('SUCCEEDED');
  });

  it('drops a cached row on the notice of its change, with nobody watching it', async () => {
    // Done on the fifth poll (A polls every 40 ms), well after B has read and cached the running state.
    t.fake.newJob = (n) => ({
      id: `quiet_${n}`,
      script: [
        ...Array.from({ length: 4 }, () => wrapped({ id: `quiet_${n}`, status: 'processing' })),
        wrapped({ id: `quiet_${n}`, status: 'completed', outputs: ['https://cdn.example/q.mp4'] }),
      ],
    });
    const created = await t.a.request<{ generateVideo: { prediction: { id: string } } }>(GENERATE, {
      input: { prompt: 'read only' },
    });
    const id = created.data!.generateVideo.prediction.id;
    expect(await status(t.b, id)).toBe('PROCESSING');
    await eventually(
      () => status(t.a, id),
      (s) => s === 'SUCCEEDED',
    );
    await eventually(
      () => status(t.b, id),
      (s) => s === 'SUCCEEDED',
      5_000,
    );
  });

  it("reads its own write at once, before the write's notice comes back", async () => {
    t.fake.newJob = (n) => ({ id: `job_${n}`, script: [wrapped({ id: `job_${n}`, status: 'processing' })] });
    const created = await t.b.request<{ generateVideo: { prediction: { id: string } } }>(GENERATE, {
      input: { prompt: 'cancel me' },
    });
    const id = created.data!.generateVideo.prediction.id;
    expect(await status(t.b, id)).toBe('PROCESSING');
    await t.b.request('mutation C($id: ID!) { cancelPrediction(id: $id) { status } }', { id });
    expect(await status(t.b, id)).toBe('CANCELED');
  });

  it('forgets everything cached when its notification connection comes back, as notices were lost', async () => {
    t.fake.newJob = (n) => ({ id: `job_${n}`, script: [wrapped({ id: `job_${n}`, status: 'processing' })] });
    const created = await t.a.request<{ generateVideo: { prediction: { id: string } } }>(GENERATE, {
      input: { prompt: 'missed notice' },
    });
    const id = created.data!.generateVideo.prediction.id;
    expect(await status(t.b, id)).toBe('PROCESSING');
    // A change B is never told of (no notice at all), then B's LISTEN connection drops and returns.
    await t.db.database.db.execute(
      sql`update predictions set status = 'CANCELED', version = version + 1, next_poll_at = null where id = ${id}`,
    );
    expect(await status(t.b, id)).toBe('PROCESSING'); // the cache, as designed: no notice, no news
    await t.db.database.db.execute(
      sql`select pg_terminate_backend(pid) from pg_stat_activity where query ilike 'listen%' and datname = current_database()`,
    );
    await eventually(
      () => status(t.b, id),
      (s) => s === 'CANCELED',
      10_000,
    );
  });
});
