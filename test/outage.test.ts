/**
 * A database outage while paid jobs are in flight upstream loses none of them: every job Atlas
 * created is recorded (from memory, from the journal on disk after a crash, or late onto a row
 * another gateway had given up on) and followed to its end. Requests that need the database
 * meanwhile fail fast with DATABASE_UNAVAILABLE. The database is taken away through a TCP proxy,
 * so the Postgres server itself keeps serving other test files.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startChild } from './support/childGateway.ts';
import { eventually, letTimePass, startGateway, TEST_KEY } from './support/gateway.ts';
import { GENERATE, type Generated, outageFixture } from './support/outage.ts';

describe('a database outage while jobs are being submitted', () => {
  const t = outageFixture();
  const start = async (databaseUrl: string, env: Record<string, string> = {}) => {
    // Create calls take a while, and the gateway waits for them: the outage begins while they are out.
    const gateway = await startGateway({
      databaseUrl,
      atlasUrl: t.fake.url,
      env: { UPSTREAM_TIMEOUT_MS: '5000', ...env },
    });
    t.gateways.push(gateway);
    return gateway;
  };

  it('records and finishes every job Atlas created during a 10 s outage, and answers new requests DATABASE_UNAVAILABLE at once', async () => {
    const gw = await start(t.proxy.url(t.server.url));
    t.fake.createDelayMs = 1_000;
    const submissions = Promise.all(
      Array.from({ length: 50 }, (_, i) => gw.request<Generated>(GENERATE, { input: { prompt: `in flight ${i}` } })),
    );
    // Every job is stored and its create call is out at Atlas; then the database goes away.
    await eventually(
      () => t.fake.creates.length,
      (n) => n === 50,
    );
    await t.proxy.cut();
    const cutAt = Date.now();

    const replies = await submissions;
    // Each submission answers with its job, accepted upstream, though the database could not take its id yet.
    for (const reply of replies) expect(reply.errors).toBeUndefined();
    const ids = replies.map((reply) => reply.data!.generateVideo.prediction.id);
    expect(new Set(ids).size).toBe(50);

    // New requests fail fast, with a code that says to retry.
    const startedAt = Date.now();
    const during = await gw.request(GENERATE, { input: { prompt: 'during the outage' } });
    expect(during.errors?.[0]?.extensions?.code).toBe('DATABASE_UNAVAILABLE');
    expect(Date.now() - startedAt).toBeLessThan(3_000);
    // (A job this gateway holds in its read cache would still be answered; one it must look up cannot.)
    const read = await gw.request('query($id: ID!) { prediction(id: $id) { id } }', {
      id: '00000000-0000-4000-8000-000000000000',
    });
    expect(read.errors?.[0]?.extensions?.code).toBe('DATABASE_UNAVAILABLE');

    // Time is the subject: the outage lasts 10 s, long past every retry's first attempts.
    await letTimePass(Math.max(0, 10_000 - (Date.now() - cutAt)));
    await t.proxy.restore();

    // Every job Atlas created is recorded with its upstream id and followed to its end.
    const done = await eventually(
      t.rows,
      (all) => all.length === 50 && all.every((row) => row.status === 'SUCCEEDED'),
      30_000,
    );
    expect(new Set(done.map((row) => row.upstream_id)).size).toBe(50);
    expect(done.map((row) => row.id).sort()).toEqual([...ids].sort());
    expect(t.fake.creates).toHaveLength(50);
    expect(gw.logs.join('\n')).not.toContain(TEST_KEY);
  }, 60_000);

  it('stores an upstream id that arrives after another gateway ended the row as SUBMISSION_UNKNOWN, and follows the job', async () => {
    // A writes through the proxy; B, directly, takes A's STARTING row for lost once its lease runs out.
    // Whichever gateway claims the job once its id is stored follows it: A every 2 s (B every 40 ms).
    const a = await start(t.proxy.url(t.server.url), { POLL_INTERVAL_MS: '2000' });
    await start(t.server.url, { UPSTREAM_TIMEOUT_MS: '300' });
    t.fake.createDelayMs = 1_500;
    const submission = a.request<Generated>(GENERATE, { input: { prompt: 'late id' } });
    await eventually(
      () => t.fake.creates.length,
      (n) => n === 1,
    );
    await t.proxy.cut();
    const reply = await submission;
    const id = reply.data!.generateVideo.prediction.id;
    await eventually(t.rows, ([row]) => row?.error_code === 'SUBMISSION_UNKNOWN');

    await t.proxy.restore();
    const [row] = await eventually(t.rows, ([r]) => r?.status === 'SUCCEEDED', 20_000);
    expect(row).toMatchObject({ id, upstream_id: 'job_1', error_code: null });
    expect(t.fake.creates).toHaveLength(1);
  }, 40_000);

  it('keeps an unrecorded upstream id on disk through a kill -9, and the next process records it', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'hh-journal-'));
    const env = {
      DATABASE_URL: t.proxy.url(t.server.url),
      ATLASCLOUD_BASE_URL: t.fake.url,
      DATA_DIR: dataDir,
      UPSTREAM_TIMEOUT_MS: '5000',
    };
    const first = await startChild(env);
    t.fake.createDelayMs = 1_000;
    const submission = fetch(`${first.base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: GENERATE, variables: { input: { prompt: 'survive a crash' } } }),
    });
    await eventually(
      () => t.fake.creates.length,
      (n) => n === 1,
    );
    await t.proxy.cut();
    await submission;
    await eventually(
      () => first.output(),
      (output) => output.includes('keeping it on disk'),
    );
    await first.kill9();

    await t.proxy.restore();
    t.fake.createDelayMs = 0;
    await startChild(env);
    const [row] = await eventually(t.rows, ([r]) => r?.status === 'SUCCEEDED', 20_000);
    expect(row).toMatchObject({ upstream_id: 'job_1' });
    expect(t.fake.creates).toHaveLength(1);
  }, 60_000);
});
