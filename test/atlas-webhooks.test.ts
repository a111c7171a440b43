import { createHash, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';
import { findPrediction } from '../src/db/queries/findPrediction.ts';
import { atlasWebhookDeliveries } from '../src/db/schema.ts';
import { type Child, freePort, startChild } from './support/childGateway.ts';
import { FakeAtlas, wrapped } from './support/fakeAtlas.ts';
import {
  BACKENDS,
  collect,
  eventually,
  letTimePass,
  openTestDatabase,
  startGateway,
  TEST_KEY,
  type TestDatabase,
  type TestGateway,
} from './support/gateway.ts';
import { newSigningKey, terminalBody } from './support/signingAtlas.ts';

type Generated = { generateVideo: { prediction: { id: string } } };
type Update = { predictionUpdated: { status: string; videoUrl: string | null; errorCode: string | null } };
const GENERATE = 'mutation G($input: GenerateVideoInput!) { generateVideo(input: $input) { prediction { id } } }';
const UPDATES = 'subscription W($id: ID!) { predictionUpdated(id: $id) { status videoUrl errorCode } }';
const WEBHOOK_URL = /^http:\/\/127\.0\.0\.1:\d+\/webhooks\/atlas\/([A-Za-z0-9_-]{43})$/;
/** ATLASCLOUD_WEBHOOK_JWKS_COOLDOWN_MS of the gateways here: short, so the tests that wait one out are quick. */
const JWKS_COOLDOWN_MS = 500;

async function generate(gw: TestGateway, prompt = 'a horse'): Promise<string> {
  const created = await gw.request<Generated>(GENERATE, { input: { prompt } });
  expect(created.errors).toBeUndefined();
  return created.data!.generateVideo.prediction.id;
}

/** The row, read straight from the database. */
async function row(db: TestDatabase, id: string) {
  const found = await findPrediction(db.database.db, id);
  if (!found) throw new Error(`no prediction ${id}`);
  return found;
}

/** A running job with a webhook URL: its prediction id, upstream id and the URL Atlas was given. */
async function runningJob(gw: TestGateway, fake: FakeAtlas, db: TestDatabase) {
  const id = await generate(gw);
  const upstreamId = (
    await eventually(
      () => row(db, id),
      (r) => r.upstreamId !== null,
    )
  ).upstreamId!;
  const url = fake.webhookUrls.get(upstreamId);
  if (!url) throw new Error(`job ${upstreamId} was created without a webhook_url`);
  return { id, upstreamId, url };
}

const refusals = (gw: TestGateway) =>
  gw.logs
    .filter((line) => line.includes('atlas webhook refused'))
    .map((line) => JSON.parse(line) as { reason: string; httpStatus: number });

/**
 * The most JWKS fetches a cooldown of JWKS_COOLDOWN_MS allows from `since` (performance.now()) to now:
 * two (the one a rotation needs, and one more once its cooldown is over), or one per cooldown when the
 * deliveries took longer than that (a loaded machine), never one per forged delivery.
 */
function fetchesAllowedSince(since: number): number {
  return Math.max(2, 1 + Math.floor((performance.now() - since) / JWKS_COOLDOWN_MS));
}

describe.each(BACKENDS)('Atlas webhooks (%s)', (backend) => {
  let fake: FakeAtlas;
  let db: TestDatabase;
  let gw: TestGateway;

  beforeAll(async () => {
    [fake, db] = await Promise.all([FakeAtlas.start(), openTestDatabase(backend)]);
    const port = await freePort();
    gw = await startGateway({
      database: db.database,
      atlasUrl: fake.url,
      port,
      env: {
        PUBLIC_URL: `http://127.0.0.1:${port}`,
        // Jobs without a webhook are polled every 40 ms (the helper's default); with one, every minute:
        // anything that finishes within a test here finished by its webhook.
        WEBHOOK_POLL_INTERVAL_MS: '60000',
        ATLASCLOUD_WEBHOOK_JWKS_COOLDOWN_MS: String(JWKS_COOLDOWN_MS),
      },
    });
  }, 90_000); // PGlite has taken 30 s to start on this 2-core machine under other helpers' load
  afterAll(async () => {
    await gw?.close();
    await Promise.all([fake?.close(), db?.close()]);
  });
  beforeEach(async () => {
    fake.reset();
    // Jobs run until a test ends them.
    fake.newJob = (n) => ({ id: `job_${n}`, script: [wrapped({ id: `job_${n}`, status: 'processing' })] });
    await db.truncate();
    gw.logs.length = 0;
  });

  it('a job reaches SUCCEEDED and its subscriber from the webhook alone, with no status call', async () => {
    fake.timedJobs = { runMs: 300 };
    const id = await generate(gw, 'a horse, by webhook');
    const events = collect(gw.subscribe<Update>(UPDATES, { id }));
    const seen = await events;
    await fake.deliveriesSettled();

    expect(seen.map((e) => e.data!.predictionUpdated.status)).toEqual(['PROCESSING', 'SUCCEEDED']);
    expect(seen.at(-1)!.data!.predictionUpdated.videoUrl).toBe('https://cdn.example/job_1.mp4');
    // Polling every 40 ms would have made about 8 status calls in 300 ms; the webhook made them needless.
    expect(fake.statusCalls()).toHaveLength(0);
    const [attempt] = fake.signer.attempts;
    // No status call at all: the end came by the delivery (how soon is bench/webhooks.ts' to measure).
    expect(attempt!.status).toBe(200);

    // What Atlas was given: the gateway's PUBLIC_URL, a path and a 256-bit token. Only its hash is stored.
    const webhookUrl = (fake.creates[0]!.body as { webhook_url: string }).webhook_url;
    const token = WEBHOOK_URL.exec(webhookUrl)?.[1];
    expect(token).toBeDefined();
    const stored = await row(db, id);
    expect(stored.atlasWebhookTokenHash).toBe(createHash('sha256').update(token!).digest('hex'));
    expect(JSON.stringify(stored)).not.toContain(token);
    expect(gw.logs.join('\n')).not.toContain(token);
    expect(stored.nextPollAt).toBeNull();
    expect(stored.costUsd).toBe(0.14);
  });

  it('applies a failure delivery like a polled one, the key redacted from its text', async () => {
    const job = await runningJob(gw, fake, db);
    const before = await row(db, job.id);
    const body = terminalBody(job.upstreamId, {
      status: 'failed',
      error: `flagged (key ${TEST_KEY})`,
      error_code: 1039,
    });
    const answer = await fake.signer.deliver(job.url, body);
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text)).toEqual({ status: 'applied' });
    const after = await row(db, job.id);
    expect(after).toMatchObject({
      status: 'FAILED',
      errorCode: 'CONTENT_POLICY',
      error: 'flagged (key [redacted])',
      costUsd: 0,
    });
    expect(after.version).toBe(before.version + 1);
    expect(gw.logs.join('\n')).not.toContain(TEST_KEY);
  });

  it('polls a job with a webhook less often, but never later than its deadline', async () => {
    const plainJob = await runningJob(gw, fake, db);
    const created = await gw.request<Generated>(GENERATE, { input: { prompt: 'deadline', timeoutSeconds: 30 } });
    const id = created.data!.generateVideo.prediction.id;
    const bounded = await eventually(
      () => row(db, id),
      (r) => r.upstreamId !== null,
    );
    // 30 s to live and a 60 s safety interval: the first poll is at the deadline, where it ends the job.
    expect(bounded.nextPollAt!.getTime()).toBe(bounded.deadlineAt!.getTime() + 1);
    const unbounded = await row(db, plainJob.id);
    expect(unbounded.nextPollAt!.getTime() - unbounded.updatedAt.getTime()).toBeGreaterThanOrEqual(59_000);
  });

  describe('refuses what it cannot verify, and changes nothing', () => {
    const cases: Array<{
      name: string;
      status: number;
      reason: RegExp;
      send: (
        job: { upstreamId: string; url: string },
        other: { upstreamId: string; url: string },
      ) => Promise<{ status: number }>;
    }> = [
      {
        name: 'a bad signature (body changed after signing)',
        status: 401,
        reason: /bad signature/,
        send: async ({ upstreamId, url }) => {
          const signed = JSON.stringify(terminalBody(upstreamId, FakeAtlas.done(upstreamId)));
          const headers = fake.signer.headers(signed);
          return fake.signer.deliver(url, signed.replace('completed', 'succeeded'), { headers });
        },
      },
      {
        name: 'a signature by a key Atlas does not publish',
        status: 401,
        reason: /bad signature/,
        send: ({ upstreamId, url }) =>
          fake.signer.deliver(url, terminalBody(upstreamId, FakeAtlas.done(upstreamId)), {
            key: newSigningKey(fake.signer.current.kid),
          }),
      },
      {
        name: 'an unknown key id',
        status: 401,
        reason: /unknown key id/,
        send: ({ upstreamId, url }) =>
          fake.signer.deliver(url, terminalBody(upstreamId, FakeAtlas.done(upstreamId)), { kid: 'k_nobody' }),
      },
      {
        name: 'a stale timestamp (6 minutes old)',
        status: 401,
        reason: /timestamp 36\d s away/,
        send: ({ upstreamId, url }) =>
          fake.signer.deliver(url, terminalBody(upstreamId, FakeAtlas.done(upstreamId)), {
            timestamp: Math.floor(Date.now() / 1000) - 360,
          }),
      },
      {
        name: 'a timestamp from the future',
        status: 401,
        reason: /timestamp \d+ s away/,
        send: ({ upstreamId, url }) =>
          fake.signer.deliver(url, terminalBody(upstreamId, FakeAtlas.done(upstreamId)), {
            timestamp: Math.floor(Date.now() / 1000) + 400,
          }),
      },
      {
        name: 'no signature header',
        status: 401,
        reason: /no x-atlascloud-webhook-signature-ed25519/,
        send: ({ upstreamId, url }) =>
          fake.signer.deliver(url, terminalBody(upstreamId, FakeAtlas.done(upstreamId)), {
            headers: { 'x-atlascloud-webhook-signature-ed25519': '' },
          }),
      },
      {
        name: 'a wrong token',
        status: 401,
        reason: /the token belongs to no job/,
        send: ({ upstreamId, url }) =>
          fake.signer.deliver(
            url.replace(/[^/]+$/, randomBytes(32).toString('base64url')),
            terminalBody(upstreamId, FakeAtlas.done(upstreamId)),
          ),
      },
      {
        name: "another job's token",
        status: 401,
        reason: /session_id is not this job's/,
        send: ({ upstreamId }, other) =>
          fake.signer.deliver(other.url, terminalBody(upstreamId, FakeAtlas.done(upstreamId))),
      },
      {
        name: 'a body over 1 MB',
        status: 413,
        reason: /body of \d+ bytes/,
        send: ({ upstreamId, url }) =>
          fake.signer.deliver(url, {
            ...terminalBody(upstreamId, FakeAtlas.done(upstreamId)),
            padding: 'x'.repeat(1024 * 1024),
          }),
      },
      {
        name: 'a signed body that is not a delivery',
        status: 400,
        reason: /session_id/,
        send: ({ url }) => fake.signer.deliver(url, { event_type: 'video.task.terminal', status: 'OK' }),
      },
    ];

    it.each(cases)('$name: $status', async ({ send, status, reason }) => {
      const job = await runningJob(gw, fake, db);
      const other = await runningJob(gw, fake, db);
      const before = await Promise.all([row(db, job.id), row(db, other.id)]);
      const answer = await send(job, other);
      expect(answer.status).toBe(status);
      expect(refusals(gw).map((r) => r.reason)).toEqual([expect.stringMatching(reason)]);
      expect(await Promise.all([row(db, job.id), row(db, other.id)])).toEqual(before);
      expect(await db.database.db.$count(atlasWebhookDeliveries)).toBe(0);
    });
  });

  it('ignores a replayed delivery id, also when two copies arrive at once', async () => {
    const job = await runningJob(gw, fake, db);
    const body = JSON.stringify(terminalBody(job.upstreamId, FakeAtlas.done(job.upstreamId)));
    const headers = fake.signer.headers(body);
    const answers = await Promise.all([1, 2, 3].map(() => fake.signer.deliver(job.url, body, { headers })));
    expect(answers.map((a) => JSON.parse(a.text).status).sort()).toEqual(['applied', 'duplicate', 'duplicate']);
    const finished = await row(db, job.id);
    expect(finished.status).toBe('SUCCEEDED');

    // Later, the same bytes again: still a duplicate, and the row does not move.
    const again = await fake.signer.deliver(job.url, body, { headers });
    expect(JSON.parse(again.text)).toEqual({ status: 'duplicate' });
    expect(await row(db, job.id)).toEqual(finished);
  });

  it('takes a signed body replayed under a new delivery id as a duplicate, also when the copies arrive at once', async () => {
    const job = await runningJob(gw, fake, db);
    const body = JSON.stringify(terminalBody(job.upstreamId, FakeAtlas.done(job.upstreamId)));
    // The same signed bytes (timestamp and signature too) under ids of a replayer's choosing: the id is not signed.
    const signed = fake.signer.headers(body);
    const underId = (deliveryId: string) => ({ headers: { ...signed, 'x-atlascloud-webhook-id': deliveryId } });
    const answers = await Promise.all(
      ['whd_replay_1', 'whd_replay_2', 'whd_replay_3'].map((id) => fake.signer.deliver(job.url, body, underId(id))),
    );
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(answers.map((a) => JSON.parse(a.text).status).sort()).toEqual(['applied', 'duplicate', 'duplicate']);
    const finished = await row(db, job.id);
    expect(finished.status).toBe('SUCCEEDED');

    const later = await fake.signer.deliver(job.url, body, underId('whd_replay_later'));
    expect(JSON.parse(later.text)).toEqual({ status: 'duplicate' });
    expect(await row(db, job.id)).toEqual(finished);
    // Only the first application was noted.
    expect(await db.database.db.$count(atlasWebhookDeliveries)).toBe(1);

    // A body that changed nothing (a job still running) is not applied twice either.
    const other = await runningJob(gw, fake, db);
    const unfinished = JSON.stringify(terminalBody(other.upstreamId, { status: 'processing' }));
    const unfinishedSigned = fake.signer.headers(unfinished);
    const first = await fake.signer.deliver(other.url, unfinished, { headers: unfinishedSigned });
    expect([first.status, JSON.parse(first.text)]).toEqual([202, { status: 'not terminal' }]);
    const replayed = await fake.signer.deliver(other.url, unfinished, {
      headers: { ...unfinishedSigned, 'x-atlascloud-webhook-id': 'whd_replay_progress' },
    });
    expect([replayed.status, JSON.parse(replayed.text)]).toEqual([200, { status: 'duplicate' }]);
  });

  it('a delivery for a finished job changes nothing', async () => {
    const job = await runningJob(gw, fake, db);
    expect(
      (await fake.signer.deliver(job.url, terminalBody(job.upstreamId, FakeAtlas.done(job.upstreamId)))).status,
    ).toBe(200);
    const finished = await row(db, job.id);
    // A different (newly signed) delivery claiming failure must not overturn the success.
    const late = await fake.signer.deliver(job.url, terminalBody(job.upstreamId, { status: 'failed', error: 'late' }));
    expect(JSON.parse(late.text)).toEqual({ status: 'already finished' });
    expect(await row(db, job.id)).toEqual(finished);
  });

  it('follows a key rotation: an unknown key id fetches the JWKS again, within a cooldown', async () => {
    const first = await runningJob(gw, fake, db);
    expect(
      (await fake.signer.deliver(first.url, terminalBody(first.upstreamId, FakeAtlas.done(first.upstreamId)))).status,
    ).toBe(200);
    const fetchesBefore = fake.signer.jwksFetches;
    expect(fetchesBefore).toBeGreaterThanOrEqual(1);

    // Atlas rotates, dropping the old key, and spells the new one's alg the newer way.
    const old = fake.signer.current;
    fake.signer.rotate({ dropOld: true, alg: 'Ed25519' });
    // Time is the subject: the JWKS refetch cooldown (500 ms) must be over.
    await letTimePass(600);
    const since = performance.now();
    const second = await runningJob(gw, fake, db);
    expect(
      (await fake.signer.deliver(second.url, terminalBody(second.upstreamId, FakeAtlas.done(second.upstreamId))))
        .status,
    ).toBe(200);
    expect(fake.signer.jwksFetches).toBe(fetchesBefore + 1);
    expect((await row(db, second.id)).status).toBe('SUCCEEDED');

    // The retired key is no longer believed; and forged key ids cannot make the gateway hammer Atlas.
    const third = await runningJob(gw, fake, db);
    const stale = await fake.signer.deliver(
      third.url,
      terminalBody(third.upstreamId, FakeAtlas.done(third.upstreamId)),
      { key: old },
    );
    expect(stale.status).toBe(401);
    for (let i = 0; i < 5; i++) {
      const forged = await fake.signer.deliver(
        third.url,
        terminalBody(third.upstreamId, FakeAtlas.done(third.upstreamId)),
        { kid: `k_forged_${i}` },
      );
      expect(forged.status).toBe(401);
    }
    expect(fake.signer.jwksFetches).toBeLessThanOrEqual(fetchesBefore + fetchesAllowedSince(since));
    expect((await row(db, third.id)).status).toBe('PROCESSING');
  });

  it('follows a new key under a known key id: a signature that fails under it fetches the JWKS again, within the cooldown', async () => {
    const first = await runningJob(gw, fake, db);
    expect(
      (await fake.signer.deliver(first.url, terminalBody(first.upstreamId, FakeAtlas.done(first.upstreamId)))).status,
    ).toBe(200);
    const fetchesBefore = fake.signer.jwksFetches;

    // Atlas replaces the key behind the id the gateway has cached, and signs with the new one.
    const kid = fake.signer.current.kid;
    const old = fake.signer.current;
    fake.signer.rotate({ dropOld: true, kid });
    const since = performance.now();
    const second = await runningJob(gw, fake, db);
    const body = terminalBody(second.upstreamId, FakeAtlas.done(second.upstreamId));
    // Atlas retries a refused delivery: within the 500 ms cooldown of the last fetch none is made, then one.
    await eventually(
      async () => (await fake.signer.deliver(second.url, body)).status,
      (status) => status === 200,
    );
    expect(fake.signer.jwksFetches).toBe(fetchesBefore + 1);
    expect((await row(db, second.id)).status).toBe('SUCCEEDED');

    // The replaced key no longer verifies, and bad signatures under a known id cannot make the gateway hammer Atlas.
    const third = await runningJob(gw, fake, db);
    for (let i = 0; i < 5; i++) {
      const stale = await fake.signer.deliver(
        third.url,
        terminalBody(third.upstreamId, FakeAtlas.done(third.upstreamId)),
        { key: old, kid },
      );
      expect(stale.status).toBe(401);
    }
    expect(fake.signer.jwksFetches).toBeLessThanOrEqual(fetchesBefore + fetchesAllowedSince(since));
    expect((await row(db, third.id)).status).toBe('PROCESSING');
    expect(refusals(gw).at(-1)?.reason).toMatch(/^bad signature/);
  });
});

describe('polling stays the safety net', () => {
  let fake: FakeAtlas;
  let db: TestDatabase;
  let gw: TestGateway;
  let plain: TestGateway;
  let plainDb: TestDatabase;

  beforeAll(async () => {
    // Two databases on the server: two PGlite instances starting at once in one worker can take long.
    [fake, db, plainDb] = await Promise.all([
      FakeAtlas.start(),
      openTestDatabase('postgres'),
      openTestDatabase('postgres'),
    ]);
    const port = await freePort();
    gw = await startGateway({
      database: db.database,
      atlasUrl: fake.url,
      port,
      env: { PUBLIC_URL: `http://127.0.0.1:${port}`, WEBHOOK_POLL_INTERVAL_MS: '1000' },
    });
    // The same upstream without PUBLIC_URL: every job is polled at POLL_INTERVAL_MS (40 ms).
    plain = await startGateway({ database: plainDb.database, atlasUrl: fake.url });
  });
  afterAll(async () => {
    await Promise.all([gw?.close(), plain?.close()]);
    await Promise.all([fake?.close(), db?.close(), plainDb?.close()]);
  });
  beforeEach(async () => {
    fake.reset();
    await Promise.all([db.truncate(), plainDb.truncate()]);
  });

  it('a lost webhook: the job still finishes, by a slower poll', async () => {
    fake.timedJobs = { runMs: 1_200 };
    fake.sendWebhooks = false;
    const id = await generate(gw);
    const seen = await collect(gw.subscribe<Update>(UPDATES, { id }));
    expect(seen.at(-1)!.data!.predictionUpdated.status).toBe('SUCCEEDED');
    // 1.2 s of running polled every second: two polls, where POLL_INTERVAL_MS (40 ms) would make 30.
    expect(fake.statusCalls().length).toBeGreaterThanOrEqual(1);
    expect(fake.statusCalls().length).toBeLessThanOrEqual(3);
  });

  it('far fewer status calls with webhooks than without', async () => {
    fake.timedJobs = { runMs: 1_500 };
    const [hooked, polled] = await Promise.all([generate(gw), generate(plain)]);
    const [a, b] = await Promise.all([
      collect(gw.subscribe<Update>(UPDATES, { id: hooked })),
      collect(plain.subscribe<Update>(UPDATES, { id: polled })),
    ]);
    expect(a.at(-1)!.data!.predictionUpdated.status).toBe('SUCCEEDED');
    expect(b.at(-1)!.data!.predictionUpdated.status).toBe('SUCCEEDED');
    const [withHook, without] = [await row(db, hooked), await row(plainDb, polled)].map(
      (r) => fake.statusCalls(r.upstreamId!).length,
    );
    // 1.5 s of running: up to 37 polls at 40 ms (fewer on a busy machine); with the webhook, a safety
    // poll a second: one, and a second when a busy machine (CI, cold caches) delivers the webhook late.
    expect(without).toBeGreaterThanOrEqual(5);
    expect(withHook!).toBeLessThanOrEqual(2);
    expect(fake.creates.map((c) => (c.body as { webhook_url?: string }).webhook_url === undefined).sort()).toEqual([
      false,
      true,
    ]);
  });
});

describe('two gateway processes on one Postgres database, webhook and poll racing', () => {
  let fake: FakeAtlas;
  let db: TestDatabase;
  let child: Child;
  let gw: TestGateway;

  beforeAll(async () => {
    [fake, db] = await Promise.all([FakeAtlas.start(), openTestDatabase('postgres')]);
    const port = await freePort();
    // Both poll jobs with a webhook every 15 ms, so a poll lands on nearly every webhook.
    child = await startChild({
      PORT: String(port),
      ATLASCLOUD_BASE_URL: fake.url,
      DATABASE_URL: db.url!,
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      POLL_INTERVAL_MS: '15',
      WEBHOOK_POLL_INTERVAL_MS: '15',
    });
    // This one submits; Atlas calls the other back, as a load balancer would send it anywhere.
    gw = await startGateway({
      databaseUrl: db.url!,
      atlasUrl: fake.url,
      env: { PUBLIC_URL: child.base, POLL_INTERVAL_MS: '15', WEBHOOK_POLL_INTERVAL_MS: '15' },
    });
  });
  afterAll(async () => {
    await gw?.close();
    await child?.kill9();
    await Promise.all([fake?.close(), db?.close()]);
  });

  it('each job ends exactly once, with one terminal event', async () => {
    // Status replies after the end take 0 to 400 ms, about what a delivery takes here, so which of
    // webhook and poll lands first differs from job to job.
    fake.timedJobs = { runMs: 150, terminalReplyDelayMs: () => Math.random() * 400 };
    const ids = await Promise.all(Array.from({ length: 12 }, (_, i) => generate(gw, `race ${i}`)));
    const streams = await Promise.all(ids.map((id) => collect(gw.subscribe<Update>(UPDATES, { id }))));
    await fake.deliveriesSettled();

    for (const events of streams) {
      const statuses = events.map((e) => e.data!.predictionUpdated.status);
      expect(statuses.filter((s) => s === 'SUCCEEDED')).toHaveLength(1);
      expect(statuses.at(-1)).toBe('SUCCEEDED');
    }
    // Every webhook was verified and answered (applied, or "already finished" when the poll won).
    expect(fake.signer.attempts).toHaveLength(12);
    for (const attempt of fake.signer.attempts) expect(attempt.status).toBe(200);

    // Exactly one "prediction finished" per job across both processes, by whichever path won.
    // (A child's lines come through a pipe, which may trail its HTTP answers.)
    const lines = await eventually(
      () => [...gw.logs, ...child.output().split('\n')].filter((line) => line.includes('"prediction finished"')),
      (found) => found.length >= ids.length,
    );
    const finishes = lines.map((line) => JSON.parse(line) as { predictionId: string; via?: string });
    for (const id of ids) expect(finishes.filter((f) => f.predictionId === id)).toHaveLength(1);
    const byWebhook = finishes.filter((f) => f.via === 'atlas webhook').length;
    console.info(`race: ${byWebhook} of 12 jobs finished by webhook, ${12 - byWebhook} by a poll`);
  });
});

describe('PUBLIC_URL and the webhook settings', () => {
  const base = { ATLASCLOUD_API_KEY: TEST_KEY };
  const fails = (env: Record<string, string>, pattern: RegExp) => {
    expect(() => loadConfig({ ...base, ...env })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, ...env })).toThrow(pattern);
  };

  it('is off by default, and on with an https address', () => {
    expect(loadConfig(base).atlasWebhooks).toBeUndefined();
    expect(loadConfig({ ...base, PUBLIC_URL: 'https://videos.example.com/' }).atlasWebhooks).toEqual({
      publicUrl: 'https://videos.example.com',
      jwksUrl: undefined,
      jwksCooldownMs: 30_000,
      pollIntervalMs: 30_000,
    });
    expect(
      loadConfig({ ...base, PUBLIC_URL: 'https://example.com/gateway/', WEBHOOK_POLL_INTERVAL_MS: '60000' })
        .atlasWebhooks,
    ).toMatchObject({
      publicUrl: 'https://example.com/gateway',
      pollIntervalMs: 60_000,
    });
  });

  it('takes plain http only for a loopback address outside production', () => {
    expect(loadConfig({ ...base, PUBLIC_URL: 'http://127.0.0.1:4000' }).atlasWebhooks?.publicUrl).toBe(
      'http://127.0.0.1:4000',
    );
    expect(loadConfig({ ...base, PUBLIC_URL: 'http://localhost:4000' }).atlasWebhooks?.publicUrl).toBe(
      'http://localhost:4000',
    );
    fails({ PUBLIC_URL: 'http://videos.example.com' }, /PUBLIC_URL: must be https/);
    fails({ PUBLIC_URL: 'http://10.0.0.5:4000' }, /PUBLIC_URL: must be https/);
    fails(
      { PUBLIC_URL: 'http://127.0.0.1:4000', NODE_ENV: 'production', AUTH_MODE: 'none' },
      /PUBLIC_URL: must be https .*NODE_ENV=production/,
    );
    expect(
      loadConfig({ ...base, PUBLIC_URL: 'https://videos.example.com', NODE_ENV: 'production', AUTH_MODE: 'none' })
        .atlasWebhooks,
    ).toBeDefined();
  });

  it('refuses what is not a base address', () => {
    fails({ PUBLIC_URL: 'videos.example.com' }, /PUBLIC_URL/);
    fails({ PUBLIC_URL: 'ftp://videos.example.com' }, /PUBLIC_URL/);
    fails({ PUBLIC_URL: 'https://videos.example.com/?a=1' }, /PUBLIC_URL: must be a base address/);
    fails({ PUBLIC_URL: 'https://videos.example.com/#top' }, /PUBLIC_URL: must be a base address/);
    fails({ PUBLIC_URL: 'https://user:pw@videos.example.com' }, /PUBLIC_URL: must not carry a user name/);
    fails(
      { PUBLIC_URL: `https://videos.example.com/${'a'.repeat(1000)}` },
      /PUBLIC_URL: must be at most \d+ characters/,
    );
    fails({ PUBLIC_URL: 'https://videos.example.com', WEBHOOK_POLL_INTERVAL_MS: '0' }, /WEBHOOK_POLL_INTERVAL_MS/);
    fails({ PUBLIC_URL: 'https://videos.example.com', WEBHOOK_POLL_INTERVAL_MS: 'often' }, /WEBHOOK_POLL_INTERVAL_MS/);
  });

  it('takes a JWKS URL over https, or http to this machine', () => {
    expect(
      loadConfig({
        ...base,
        PUBLIC_URL: 'https://v.example.com',
        ATLASCLOUD_WEBHOOK_JWKS_URL: 'https://keys.example.com/jwks.json',
      }).atlasWebhooks?.jwksUrl,
    ).toBe('https://keys.example.com/jwks.json');
    fails(
      { PUBLIC_URL: 'https://v.example.com', ATLASCLOUD_WEBHOOK_JWKS_URL: 'http://keys.example.com/jwks.json' },
      /ATLASCLOUD_WEBHOOK_JWKS_URL: must be https/,
    );
    fails(
      { PUBLIC_URL: 'https://v.example.com', ATLASCLOUD_WEBHOOK_JWKS_URL: 'not a url' },
      /ATLASCLOUD_WEBHOOK_JWKS_URL/,
    );
  });
});

describe('the built-in simulator', () => {
  it('signs a delivery at the end of each job, so `npm start` with PUBLIC_URL runs the webhook path', async () => {
    const db = await openTestDatabase('postgres');
    const port = await freePort();
    const gw = await startGateway({
      database: db.database,
      atlasUrl: 'https://api.atlascloud.ai',
      port,
      // No key: the simulator stands in, and the JWKS comes from it by default.
      env: { ATLASCLOUD_API_KEY: '', SIMULATOR_JOB_MS: '600', PUBLIC_URL: `http://127.0.0.1:${port}` },
    });
    try {
      expect(gw.gateway.simulator).toBeDefined();
      const ids = [await generate(gw, 'a simulated horse'), await generate(gw, 'a simulated horse [fail]')];
      const ends = await Promise.all(
        ids.map(async (id) => (await collect(gw.subscribe<Update>(UPDATES, { id }))).at(-1)!.data!.predictionUpdated),
      );
      expect(ends.map((end) => [end.status, end.errorCode])).toEqual([
        ['SUCCEEDED', null],
        ['FAILED', 'CONTENT_POLICY'],
      ]);
      // The receiver logs a finish once its transaction is done, which subscribers may hear of first.
      const finishes = await eventually(
        () =>
          gw.logs
            .filter((line) => line.includes('"prediction finished"'))
            .map((line) => JSON.parse(line) as { via?: string }),
        (lines) => lines.length >= 2,
      );
      expect(finishes.map((f) => f.via)).toEqual(['atlas webhook', 'atlas webhook']);
    } finally {
      await gw.close();
      await db.close();
    }
  });
});
