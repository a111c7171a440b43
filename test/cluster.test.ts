import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { FakeAtlas, wrapped } from './support/fakeAtlas.ts';
import {
  ADMIN_URL,
  collect,
  eventually,
  openTestDatabase,
  startGateway,
  twoGatewaysFixture,
} from './support/gateway.ts';

type Generated = { generateVideo: { prediction: { id: string } } };
const GENERATE = 'mutation G($input: GenerateVideoInput!) { generateVideo(input: $input) { prediction { id } } }';
const UPDATES = 'subscription W($id: ID!) { predictionUpdated(id: $id) { status videoUrl } }';

describe('two gateways on one Postgres database', () => {
  const t = twoGatewaysFixture({ POLL_CONCURRENCY: '4' });

  it('shares the polling, never polls one job twice at once, and streams to subscribers on either', async () => {
    // Slow status replies, so that two pollers on one job would overlap and show up in maxInFlight.
    t.fake.newJob = (n) => ({
      id: `job_${n}`,
      script: [
        ...Array.from({ length: 4 }, () => ({ ...wrapped({ id: `job_${n}`, status: 'processing' }), delayMs: 30 })),
        { ...wrapped({ id: `job_${n}`, status: 'completed', outputs: [`https://cdn.example/${n}.mp4`] }), delayMs: 30 },
      ],
    });

    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const created = await t.a.request<Generated>(GENERATE, { input: { prompt: `job ${i}` } });
      expect(created.errors).toBeUndefined();
      ids.push(created.data!.generateVideo.prediction.id);
    }
    // Subscribers on the gateway that did not create the jobs see every one finish.
    const streams = await Promise.all(
      ids.map((id) => collect(t.b.subscribe<{ predictionUpdated: { status: string } }>(UPDATES, { id }))),
    );
    for (const events of streams) expect(events.at(-1)!.data!.predictionUpdated.status).toBe('SUCCEEDED');

    expect(t.fake.creates).toHaveLength(12);
    for (let n = 1; n <= 12; n++) {
      expect(t.fake.maxInFlight.get(`job_${n}`)).toBe(1);
      // Five scripted replies: any double polling would add calls beyond them.
      expect(t.fake.statusCalls(`job_${n}`)).toHaveLength(5);
    }
  });

  it('a change polled by one gateway reaches a subscriber on the other mid-job', async () => {
    t.fake.reset();
    t.fake.newJob = (n) => ({ id: `slow_${n}`, script: [wrapped({ id: `slow_${n}`, status: 'processing' })] });
    const created = await t.a.request<Generated>(GENERATE, { input: { prompt: 'watch me from b' } });
    const id = created.data!.generateVideo.prediction.id;
    const events = collect(
      t.b.subscribe<{ predictionUpdated: { status: string; videoUrl: string | null } }>(UPDATES, { id }),
    );
    await eventually(
      () => t.fake.statusCalls('slow_1').length,
      (n) => n >= 2,
    );
    t.fake.statusScripts.set('slow_1', [
      wrapped({ id: 'slow_1', status: 'succeeded', outputs: ['https://cdn.example/late.mp4'] }),
    ]);
    const seen = await events;
    expect(seen.map((e) => e.data!.predictionUpdated.status)).toEqual(['PROCESSING', 'SUCCEEDED']);
    expect(seen.at(-1)!.data!.predictionUpdated.videoUrl).toBe('https://cdn.example/late.mp4');
  });
});

describe('Postgres dropping every connection mid-job', () => {
  it('loses nothing: the job finishes and its subscriber sees the end', async () => {
    const [fake, db] = await Promise.all([FakeAtlas.start(), openTestDatabase('postgres')]);
    const gw = await startGateway({ database: db.database, atlasUrl: fake.url });
    try {
      fake.newJob = (n) => ({ id: `job_${n}`, script: [wrapped({ id: `job_${n}`, status: 'processing' })] });
      const created = await gw.request<Generated>(GENERATE, { input: { prompt: 'through a database restart' } });
      const id = created.data!.generateVideo.prediction.id;
      const events = collect(gw.subscribe<{ predictionUpdated: { status: string } }>(UPDATES, { id }));
      await eventually(
        () => fake.statusCalls('job_1').length,
        (n) => n >= 2,
      );

      // What a Postgres restart does to its clients: every connection to the database is cut.
      const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
      const name = new URL(db.url!).pathname.slice(1);
      const cut =
        await admin`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${name} and pid <> pg_backend_pid()`;
      await admin.end();
      expect(cut.length).toBeGreaterThan(1); // the pool and the LISTEN connection

      fake.statusScripts.set('job_1', [
        wrapped({ id: 'job_1', status: 'completed', outputs: ['https://cdn.example/after.mp4'] }),
      ]);
      const seen = await events;
      expect(seen.map((e) => e.data!.predictionUpdated.status)).toEqual(['PROCESSING', 'SUCCEEDED']);
      expect(fake.creates).toHaveLength(1);
    } finally {
      await gw.close();
      await Promise.all([fake.close(), db.close()]);
    }
  });
});
