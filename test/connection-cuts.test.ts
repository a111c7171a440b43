/**
 * Short database blips (every connection of the gateway ended by the server, as a failover or an
 * operator's pg_terminate_backend does) hold no job back: a write a background loop could not make is
 * made once the database answers again, so no row waits out its lease (two minutes with the defaults).
 */
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeAtlas, wrapped } from './support/fakeAtlas.ts';
import {
  collect,
  createServerDatabase,
  eventually,
  letTimePass,
  startGateway,
  type TestGateway,
} from './support/gateway.ts';

const GENERATE = 'mutation G($input: GenerateVideoInput!) { generateVideo(input: $input) { prediction { id } } }';
const WATCH = 'subscription W($id: ID!) { predictionUpdated(id: $id) { status } }';
const POLL_INTERVAL_MS = 300;

describe('connection cuts while jobs are polled', () => {
  let fake: FakeAtlas;
  let server: { url: string; drop(): Promise<void> };
  let admin: postgres.Sql;
  let gw: TestGateway;

  beforeAll(async () => {
    [fake, server] = await Promise.all([FakeAtlas.start(), createServerDatabase()]);
    admin = postgres(server.url, { max: 1, onnotice: () => {} });
    // The production lease: a status call with all its retries plus 5 s, about two minutes.
    gw = await startGateway({
      databaseUrl: server.url,
      atlasUrl: fake.url,
      env: { POLL_INTERVAL_MS: String(POLL_INTERVAL_MS), UPSTREAM_TIMEOUT_MS: '30000', UPSTREAM_RETRIES: '3' },
    });
  });

  afterAll(async () => {
    await gw?.close();
    await admin?.end({ timeout: 1 });
    await Promise.all([fake?.close(), server?.drop()]);
  });

  /** End every connection to the test database but the one asking. */
  const cutEveryConnection = () =>
    admin`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`;

  it('finishes every job soon after ten cuts, 250 ms apart, and every subscriber hears its end', async () => {
    // Each job answers `processing` to seven status calls, then finishes.
    fake.newJob = (n) => ({
      id: `job_${n}`,
      script: [
        ...Array.from({ length: 7 }, () => wrapped({ id: `job_${n}`, status: 'processing' })),
        wrapped({ id: `job_${n}`, status: 'completed', outputs: [`https://cdn.example/job_${n}.mp4`] }),
      ],
    });
    const ids: string[] = [];
    for (let n = 0; n < 5; n++) {
      const result = await gw.request<{ generateVideo: { prediction: { id: string } } }>(GENERATE, {
        input: { prompt: `a horse ${n}`, duration: 5 },
      });
      expect(result.errors).toBeUndefined();
      ids.push(result.data!.generateVideo.prediction.id);
    }
    // A subscriber on each job, over SSE, follows it through the cuts to its end.
    const followed = ids.map((id) => collect(gw.subscribe<{ predictionUpdated: { status: string } }>(WATCH, { id })));
    await eventually(
      () => gw.gateway.events.openStreams,
      (open) => open === ids.length,
    );
    for (let cut = 0; cut < 10; cut++) {
      await cutEveryConnection();
      // Time is the subject: cuts spread over 2.5 s, so they land in every phase of polls and copies.
      await letTimePass(250);
    }
    // Without the fix some rows stay leased for the whole lease (about 127 s); 15 s leaves a busy
    // machine room while being far from that. The soak (npm run soak) measures how soon.
    const rows = await eventually(
      () => admin<{ id: string; status: string }[]>`select id, status from predictions`,
      (rows) => rows.length === 5 && rows.every((row) => row.status === 'SUCCEEDED'),
      15_000,
    );
    expect(rows.map((row) => row.id).sort()).toEqual([...ids].sort());
    // Each stream heard the end and completed (collect returns once it has). Bounded, so a stream
    // that never hears it fails here by name rather than as the test's timeout.
    const ended = await Promise.race([
      Promise.all(followed),
      letTimePass(15_000).then(() => {
        throw new Error('a subscriber did not hear its job end within 15 s of the jobs ending');
      }),
    ]);
    for (const events of ended) expect(events.at(-1)?.data?.predictionUpdated.status).toBe('SUCCEEDED');
    expect(fake.creates).toHaveLength(5);
    // Seen once at load 9 (the suite beside two spinning processes): over the default 30 s in all.
  }, 60_000);
});
