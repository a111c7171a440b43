import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../src/db/database.ts';
import { FakeAtlas, wrapped } from './support/fakeAtlas.ts';
import { createServerDatabase, eventually, startGateway } from './support/gateway.ts';

type Stored = { prediction: { status: string; videoUrl: string | null } | null };
const GENERATE =
  'mutation G($input: GenerateVideoInput!) { generateVideo(input: $input) { prediction { id status } } }';
const PREDICTION = 'query P($id: ID!) { prediction(id: $id) { status videoUrl } }';

/** Restart on the same data, in process (test/process.test.ts does the same with kill -9 on Postgres). */
describe.each(['pglite', 'postgres'] as const)('a gateway restarted mid-job on %s', (backend) => {
  let fake: FakeAtlas;
  let open: () => Promise<Database>;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    fake = await FakeAtlas.start();
    if (backend === 'pglite') {
      const dir = mkdtempSync(join(tmpdir(), 'hh-pglite-'));
      open = () => openDatabase({ dataDir: dir });
      cleanup = async () => rmSync(dir, { recursive: true, force: true });
    } else {
      const server = await createServerDatabase();
      open = () => openDatabase({ url: server.url });
      cleanup = server.drop;
    }
  });
  afterAll(async () => {
    await fake?.close();
    await cleanup?.();
  });

  it('picks the unfinished job up again and finishes it, without submitting it twice', async () => {
    fake.newJob = (n) => ({ id: `job_${n}`, script: [wrapped({ id: `job_${n}`, status: 'processing' })] });
    const firstDb = await open();
    const first = await startGateway({ database: firstDb, atlasUrl: fake.url, env: { UPSTREAM_TIMEOUT_MS: '1500' } });
    const created = await first.request<{ generateVideo: { prediction: { id: string; status: string } } }>(GENERATE, {
      input: { prompt: 'survives a restart' },
    });
    const { id, status } = created.data!.generateVideo.prediction;
    expect(status).toBe('PROCESSING');
    // Stop while a status call is in flight: the poller holds the row's lease at that moment.
    fake.statusScripts.set('job_1', [{ hang: true }]);
    await eventually(
      () => fake.inFlight.get('job_1') ?? 0,
      (n) => n === 1,
    );
    await first.close();
    await firstDb.close();

    // While the gateway is down, the job finishes upstream.
    fake.statusScripts.set('job_1', [
      wrapped({ id: 'job_1', status: 'completed', outputs: ['https://cdn.example/restarted.mp4'] }),
    ]);

    const secondDb = await open();
    const second = await startGateway({ database: secondDb, atlasUrl: fake.url, env: { UPSTREAM_TIMEOUT_MS: '1500' } });
    try {
      // Well inside the lease (about 9.5 s here): only a lease handed back on stop lets it finish this soon.
      const done = await eventually(
        () => second.request<Stored>(PREDICTION, { id }),
        (result) => result.data?.prediction?.status === 'SUCCEEDED',
        3_000,
      );
      expect(done.data!.prediction!.videoUrl).toBe('https://cdn.example/restarted.mp4');
      expect(fake.creates).toHaveLength(1);
    } finally {
      await second.close();
      await secondDb.close();
    }
  });
});
