/**
 * What Atlas does not have, through the gateway: cancelling a job, a deadline per job, and progress
 * estimated from how long recent jobs took.
 */
import { sql } from 'drizzle-orm';
import { SignJWT } from 'jose';
import { beforeEach, describe, expect, it } from 'vitest';
import { priorMs } from '../src/predictions/progress.ts';
import { wrapped } from './support/fakeAtlas.ts';
import { afterCycles, eventually, gatewayFixture } from './support/gateway.ts';

const FIELDS =
  'id status error errorCode costUsd priceUsd createdAt completedAt deadlineAt elapsedMs estimatedProgress estimatedCompletionAt progressIsEstimate';
const GENERATE = `mutation G($input: GenerateVideoInput!) { generateVideo(input: $input) { prediction { ${FIELDS} } } }`;
const ONE = `query P($id: ID!) { prediction(id: $id) { ${FIELDS} } }`;
const CANCEL = `mutation C($id: ID!) { cancelPrediction(id: $id) { ${FIELDS} } }`;

interface Job {
  id: string;
  status: string;
  error: string | null;
  errorCode: string | null;
  costUsd: number | null;
  priceUsd: number;
  createdAt: string;
  completedAt: string | null;
  deadlineAt: string | null;
  elapsedMs: number;
  estimatedProgress: number | null;
  estimatedCompletionAt: string | null;
  progressIsEstimate: boolean;
}

const SECRET = 'lifecycle-secret-of-at-least-32-chars';
const tokenFor = (sub: string) =>
  new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime('10m')
    .sign(new TextEncoder().encode(SECRET));

describe('cancel, deadlines and progress', () => {
  const t = gatewayFixture('pglite', { AUTH_MODE: 'none,jwt', AUTH_JWT_SECRET: SECRET });
  beforeEach(async () => {
    t.fake.reset();
    await t.db.truncate();
  });

  const jobsStayRunning = () => {
    t.fake.newJob = (n) => ({ id: `job_${n}`, script: [wrapped({ id: `job_${n}`, status: 'processing' })] });
  };
  const generate = async (input: Record<string, unknown>) => {
    const reply = await t.gw.request<{ generateVideo: { prediction: Job } }>(GENERATE, { input });
    expect(reply.errors).toBeUndefined();
    return reply.data!.generateVideo.prediction;
  };
  const read = async (id: string) => (await t.gw.request<{ prediction: Job }>(ONE, { id })).data!.prediction;

  it('cancels a running job at once: CANCELED with the reason, polling stops, the subscriber gets the end, and it is charged', async () => {
    jobsStayRunning();
    const job = await generate({ prompt: 'cancel me' });
    const statuses: string[] = [];
    const events = (async () => {
      const updates = t.gw.subscribe<{ predictionUpdated: { status: string } }>(
        `subscription W($id: ID!) { predictionUpdated(id: $id) { status } }`,
        { id: job.id },
      );
      for await (const update of updates) statuses.push(update.data!.predictionUpdated.status);
      return statuses;
    })();
    // Cancelled once the subscriber is live (it would otherwise start at CANCELED) and polling is under way.
    await eventually(
      () => statuses.length,
      (n) => n >= 1,
    );
    await eventually(
      () => t.fake.statusCalls('job_1').length,
      (n) => n >= 2,
    );

    const cancelled = await t.gw.request<{ cancelPrediction: Job }>(CANCEL, { id: job.id });
    expect(cancelled.data!.cancelPrediction).toMatchObject({
      status: 'CANCELED',
      errorCode: 'CANCELED',
      costUsd: 0.14,
    });
    expect(cancelled.data!.cancelPrediction.error).toMatch(/may still run and be billed/);
    expect(await events).toEqual(['PROCESSING', 'CANCELED']);

    // A poll already claimed (or in flight) when it was cancelled may still run once; then none (every 40 ms before).
    await afterCycles(t.gw.gateway, 'poller', 3);
    const calls = t.fake.statusCalls('job_1').length;
    await afterCycles(t.gw.gateway, 'poller', 10);
    expect(t.fake.statusCalls('job_1').length).toBe(calls);
    expect(await read(job.id)).toMatchObject({ status: 'CANCELED' });
  });

  it("returns a finished job unchanged, and treats unknown and other callers' ids as not found", async () => {
    const job = await generate({ prompt: 'finishes' });
    const done = await eventually(
      () => read(job.id),
      (p) => p.status === 'SUCCEEDED',
    );
    const again = await t.gw.request<{ cancelPrediction: Job }>(CANCEL, { id: job.id });
    expect(again.data!.cancelPrediction).toMatchObject({
      status: 'SUCCEEDED',
      completedAt: done.completedAt,
      costUsd: 0.14,
    });

    expect(
      (await t.gw.request(CANCEL, { id: '00000000-0000-4000-8000-000000000000' })).errors?.[0]?.extensions?.code,
    ).toBe('NOT_FOUND');
    // Someone signed in cannot cancel the anonymous caller's job, and learns nothing about it.
    jobsStayRunning();
    const running = await generate({ prompt: 'not yours' });
    const response = await t.gw.gateway.yoga.fetch('http://gateway/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await tokenFor('mallory')}` },
      body: JSON.stringify({ query: CANCEL, variables: { id: running.id } }),
    });
    const body = (await response.json()) as { errors?: { extensions: { code: string } }[] };
    expect(body.errors?.[0]?.extensions.code).toBe('NOT_FOUND');
    expect(await read(running.id)).toMatchObject({ status: 'PROCESSING' });
  });

  it('takes timeoutSeconds from 30 to 3600, sets the deadline from it, and ends the job TIMED_OUT when it passes', async () => {
    for (const timeoutSeconds of [29, 3601, 40.5]) {
      const reply = await t.gw.request(GENERATE, { input: { prompt: 'p', timeoutSeconds } });
      expect(reply.errors?.[0]?.extensions).toMatchObject({
        code: 'BAD_USER_INPUT',
        issues: [{ field: 'input.timeoutSeconds' }],
      });
    }
    expect(t.fake.creates).toHaveLength(0);

    jobsStayRunning();
    const job = await generate({ prompt: 'bounded', timeoutSeconds: 30 });
    expect(Date.parse(job.deadlineAt!) - Date.parse(job.createdAt)).toBe(30_000);
    const unbounded = await generate({ prompt: 'default deadline' });
    expect(Date.parse(unbounded.deadlineAt!) - Date.parse(unbounded.createdAt)).toBe(30 * 60_000);

    // Thirty seconds later, as far as the poller can tell.
    await t.db.database.db.execute(
      sql`update predictions set deadline_at = now() - interval '1 second', created_at = now() - interval '31 seconds' where id = ${job.id}`,
    );
    const ended = await eventually(
      () => read(job.id),
      (p) => p.status !== 'PROCESSING',
    );
    expect(ended).toMatchObject({ status: 'FAILED', errorCode: 'TIMED_OUT' });
    expect(ended.error).toContain('within 30 s');
    expect(await read(unbounded.id)).toMatchObject({ status: 'PROCESSING' });
  });

  it('estimates progress from a documented prior, then from how long recent jobs took', async () => {
    jobsStayRunning();
    const first = await generate({ prompt: 'no history yet', duration: 5 });
    expect(first.progressIsEstimate).toBe(true);
    expect(Date.parse(first.estimatedCompletionAt!) - Date.parse(first.createdAt)).toBe(priorMs('720P', 5));
    expect(first.estimatedProgress).toBeGreaterThanOrEqual(0);
    expect(first.estimatedProgress).toBeLessThan(0.05);

    // History, in a bucket no estimate has read yet: three 8-second 1080P jobs that took 20, 24 and 90 s.
    await t.db.database.db.execute(sql`
      insert into predictions (id, status, prompt, model, resolution, aspect_ratio, duration, created_at, updated_at, completed_at, cost_usd)
      select gen_random_uuid(), 'SUCCEEDED', 'history', 'alibaba/happyhorse-1.0/text-to-video', '1080P', '16:9', 8,
             now() - interval '1 hour', now(), now() - interval '1 hour' + make_interval(secs => took), 0
      from unnest(array[20, 24, 90]) as took`);
    const second = await generate({ prompt: 'with history', resolution: 'RES_1080P', duration: 7 });
    // The median, not the prior (60 s + 10 s a second = 130 s) nor the mean.
    expect(Date.parse(second.estimatedCompletionAt!) - Date.parse(second.createdAt)).toBe(24_000);

    // Finished jobs: 1 when it succeeded, nothing to estimate when it failed.
    const done = await eventually(
      () => read(first.id),
      () => true,
    );
    expect(done.estimatedProgress).toBeLessThan(1);
    t.fake.statusScripts.set('job_1', [
      wrapped({ id: 'job_1', status: 'completed', outputs: ['https://cdn.example/1.mp4'] }),
    ]);
    const succeeded = await eventually(
      () => read(first.id),
      (p) => p.status === 'SUCCEEDED',
    );
    expect(succeeded).toMatchObject({ estimatedProgress: 1, estimatedCompletionAt: null });
    expect(succeeded.elapsedMs).toBe(Date.parse(succeeded.completedAt!) - Date.parse(succeeded.createdAt));
  });

  it('learns within seconds from the jobs it has just run, though a read before them found too few', async () => {
    // A bucket no other test reads (12 s at 720P): the first job's estimate is the prior, read and kept.
    t.fake.timedJobs = { runMs: 6_000 };
    const history = await Promise.all([1, 2, 3].map((n) => generate({ prompt: `history ${n}`, duration: 12 })));
    expect(Date.parse(history[0]!.estimatedCompletionAt!) - Date.parse(history[0]!.createdAt)).toBe(
      priorMs('720P', 12),
    );
    const tookMs: number[] = [];
    for (const job of history) {
      const done = await eventually(
        () => read(job.id),
        (p) => p.status === 'SUCCEEDED',
        20_000,
      );
      tookMs.push(Date.parse(done.completedAt!) - Date.parse(done.createdAt));
    }
    const medianMs = tookMs.sort((a, b) => a - b)[1]!;

    // A new job like them: its estimate becomes their median (not the prior of 60 s + 10 s a second).
    t.fake.timedJobs = undefined;
    jobsStayRunning();
    const next = await generate({ prompt: 'after history', duration: 12 });
    const learned = await eventually(
      () => read(next.id),
      (p) => Date.parse(p.estimatedCompletionAt!) - Date.parse(p.createdAt) < priorMs('720P', 12),
      15_000,
    );
    // Stored times are finer than a millisecond: the median of the exact ones, within a millisecond or two.
    expect(
      Math.abs(Date.parse(learned.estimatedCompletionAt!) - Date.parse(learned.createdAt) - medianMs),
    ).toBeLessThan(3);
  }, 60_000);

  it('with predictionUpdated(progress: true) repeats the running state every 2 s, progress moving up; without it, only changes', async () => {
    jobsStayRunning();
    const job = await generate({ prompt: 'a progress bar' });
    const WATCH = `subscription W($id: ID!, $progress: Boolean) { predictionUpdated(id: $id, progress: $progress) { status estimatedProgress elapsedMs } }`;
    type Update = { predictionUpdated: { status: string; estimatedProgress: number; elapsedMs: number } };
    const [ticking, quiet] = [
      t.gw.subscribe<Update>(WATCH, { id: job.id, progress: true }),
      t.gw.subscribe<Update>(WATCH, { id: job.id }),
    ];
    const seen: Update['predictionUpdated'][] = [];
    const quietSeen: string[] = [];
    const quietDone = (async () => {
      for await (const event of quiet) quietSeen.push(event.data!.predictionUpdated.status);
    })();
    for await (const event of ticking) {
      seen.push(event.data!.predictionUpdated);
      if (seen.length === 3)
        t.fake.statusScripts.set('job_1', [
          wrapped({ id: 'job_1', status: 'completed', outputs: ['https://cdn.example/1.mp4'] }),
        ]);
    }
    await quietDone;
    expect(seen.slice(0, 3).map((u) => u.status)).toEqual(['PROCESSING', 'PROCESSING', 'PROCESSING']);
    expect(seen.at(-1)).toMatchObject({ status: 'SUCCEEDED', estimatedProgress: 1 });
    for (let i = 1; i < 3; i++) {
      expect(seen[i]!.elapsedMs).toBeGreaterThan(seen[i - 1]!.elapsedMs + 1_500);
      expect(seen[i]!.estimatedProgress).toBeGreaterThan(seen[i - 1]!.estimatedProgress);
    }
    expect(quietSeen).toEqual(['PROCESSING', 'SUCCEEDED']);
  }, 20_000);
});
