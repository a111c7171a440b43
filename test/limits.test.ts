/**
 * Limits and idempotency hold for all gateway processes together: racing submissions from one caller
 * across two real gateway processes on one Postgres database admit exactly what the limit allows,
 * and identical submissions with one idempotency key make one job. The same on PGlite, in process.
 */
import { SignJWT } from 'jose';
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../src/auth/apiKeys.ts';
import { type Database, openDatabase } from '../src/db/database.ts';
import { type Child, children, startChild } from './support/childGateway.ts';
import { FakeAtlas, httpError, wrapped } from './support/fakeAtlas.ts';
import { createServerDatabase, eventually, gatewayFixture, TEST_KEY } from './support/gateway.ts';

interface Reply {
  data?: { generateVideo: { prediction: { id: string; priceUsd: number } } } | null;
  errors?: { message: string; extensions: Record<string, unknown> }[];
}

const GENERATE = `mutation G($input: GenerateVideoInput!) { generateVideo(input: $input) { prediction { id priceUsd } } }`;

async function submit(base: string, token: string, input: Record<string, unknown>): Promise<Reply> {
  const response = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: GENERATE, variables: { input } }),
  });
  return (await response.json()) as Reply;
}

/** The outcome of each reply: the prediction id, or the error code. */
const outcome = (reply: Reply) => reply.data?.generateVideo.prediction.id ?? String(reply.errors?.[0]?.extensions.code);
const codes = (replies: Reply[]) => replies.map(outcome).filter((o) => !/^[0-9a-f-]{36}$/.test(o));
const admitted = (replies: Reply[]) => replies.filter((reply) => reply.data?.generateVideo);

/** Jobs that stay unfinished upstream, so they keep counting as active. */
function jobsStayRunning(fake: FakeAtlas) {
  fake.newJob = (n) => ({ id: `job_${n}`, script: [wrapped({ id: `job_${n}`, status: 'processing' })] });
}

describe('50 racing submissions across two gateway processes on one Postgres database', () => {
  let fake: FakeAtlas;
  let server: { url: string; drop(): Promise<void> };
  let database: Database;
  let sql: postgres.Sql;
  let a: Child;
  let b: Child;

  /** Half the requests to each process, all at once. */
  const race = (token: string, input: (i: number) => Record<string, unknown>, n = 50) =>
    Promise.all(Array.from({ length: n }, (_, i) => submit((i % 2 ? a : b).base, token, input(i))));
  const key = async (limits: Parameters<typeof createApiKey>[1]['limits'], name = 'racer') =>
    (await createApiKey(database.db, { name, limits })).key;
  const rowsOf = async (prompt: string) => (await sql`select id from predictions where prompt = ${prompt}`).length;
  const createsOf = (prompt: string) =>
    fake.creates.filter((request) => (request.body as { prompt?: string }).prompt === prompt).length;

  beforeAll(async () => {
    [fake, server] = await Promise.all([FakeAtlas.start(), createServerDatabase()]);
    jobsStayRunning(fake);
    database = await openDatabase({ url: server.url });
    sql = postgres(server.url, { max: 1, onnotice: () => {} });
    const env = {
      DATABASE_URL: server.url,
      ATLASCLOUD_BASE_URL: fake.url,
      AUTH_MODE: 'apikey',
      POLL_INTERVAL_MS: '60000',
      UPSTREAM_TIMEOUT_MS: '5000',
    };
    [a, b] = await Promise.all([startChild(env), startChild(env)]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(children.map((child) => child.kill9()));
    for (const child of children) expect(child.output()).not.toContain(TEST_KEY);
    await sql?.end({ timeout: 1 });
    await database?.close();
    await Promise.all([fake?.close(), server?.drop()]);
  });

  it('admits exactly LIMIT_ACTIVE_JOBS unfinished jobs, refusing the rest before anything is stored or sent', async () => {
    const token = await key({ activeJobs: 3 });
    const replies = await race(token, () => ({ prompt: 'active limit' }));
    expect(admitted(replies)).toHaveLength(3);
    expect(new Set(codes(replies))).toEqual(new Set(['TOO_MANY_ACTIVE_JOBS']));
    const refusal = replies.find((reply) => reply.errors)!.errors![0]!;
    expect(refusal.message).toContain('LIMIT_ACTIVE_JOBS');
    expect(refusal.extensions).toMatchObject({ limit: 3, active: 3 });
    expect(await rowsOf('active limit')).toBe(3);
    expect(createsOf('active limit')).toBe(3);
  });

  it('admits exactly LIMIT_JOBS_PER_MINUTE submissions, with a retryAfterMs within the minute', async () => {
    const token = await key({ jobsPerMinute: 5 });
    const replies = await race(token, () => ({ prompt: 'rate limit' }));
    expect(admitted(replies)).toHaveLength(5);
    expect(new Set(codes(replies))).toEqual(new Set(['RATE_LIMITED']));
    for (const reply of replies.filter((r) => r.errors)) {
      const retryAfterMs = reply.errors![0]!.extensions.retryAfterMs as number;
      expect(retryAfterMs).toBeGreaterThan(0);
      expect(retryAfterMs).toBeLessThanOrEqual(60_000);
    }
    expect(createsOf('rate limit')).toBe(5);
  });

  it('admits jobs only up to LIMIT_DAILY_SPEND_USD, counting unfinished jobs at their price', async () => {
    const token = await key({ dailySpendUsd: 1 });
    const replies = await race(token, () => ({ prompt: 'budget' }));
    // $0.14 a run: seven fit in $1.00, the eighth would make $1.12.
    expect(admitted(replies)).toHaveLength(7);
    expect(new Set(codes(replies))).toEqual(new Set(['BUDGET_EXCEEDED']));
    const refusal = replies.find((reply) => reply.errors)!.errors![0]!;
    expect(refusal.message).toContain('LIMIT_DAILY_SPEND_USD');
    expect(refusal.extensions).toMatchObject({
      limitName: 'LIMIT_DAILY_SPEND_USD',
      limit: 1,
      spentUsd: 0.98,
      priceUsd: 0.14,
    });
    expect(createsOf('budget')).toBe(7);
  });

  it('makes one job of 50 identical submissions with one idempotency key: one row, one upstream POST, one id', async () => {
    const token = await key({});
    const replies = await race(token, () => ({ prompt: 'double click', idempotencyKey: 'click-1' }));
    const ids = replies.map(outcome);
    expect(new Set(ids).size).toBe(1);
    expect(ids[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(await rowsOf('double click')).toBe(1);
    expect(createsOf('double click')).toBe(1);

    // The same key with another request is refused; another caller's same key is their own.
    const reused = await submit(a.base, token, { prompt: 'something else', idempotencyKey: 'click-1' });
    expect(reused.errors?.[0]?.extensions).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED', predictionId: ids[0] });
    const other = await submit(b.base, await key({}, 'someone else'), {
      prompt: 'double click',
      idempotencyKey: 'click-1',
    });
    expect(outcome(other)).toMatch(/^[0-9a-f-]{36}$/);
    expect(outcome(other)).not.toBe(ids[0]);
    expect(createsOf('double click')).toBe(2);
  });

  it("does not make a caller's submissions wait on each other when no limit needs counting; a limit does", async () => {
    const free = await createApiKey(database.db, { name: 'unlimited', limits: {} });
    const limited = await createApiKey(database.db, { name: 'limited', limits: { activeJobs: 5 } });
    // The caller's admission lock (src/db/queries/lockSubmissions.ts), held by another session.
    const callerLock = (row: { id: string; tenantId: string | null }) =>
      JSON.stringify([`key:${row.id}`, row.tenantId]);
    const holder = postgres(server.url, { max: 1, onnotice: () => {} });
    try {
      await holder`select pg_advisory_lock(7301, hashtext(${callerLock(free.row)})),
                          pg_advisory_lock(7301, hashtext(${callerLock(limited.row)}))`;
      // Nothing to count: admitted at once, with an idempotency key too (its unique index needs no lock).
      expect(outcome(await submit(a.base, free.key, { prompt: 'not counted' }))).toMatch(/^[0-9a-f-]{36}$/);
      const keyed = await submit(b.base, free.key, { prompt: 'not counted', idempotencyKey: 'k' });
      expect(outcome(keyed)).toMatch(/^[0-9a-f-]{36}$/);
      expect(outcome(await submit(a.base, free.key, { prompt: 'not counted', idempotencyKey: 'k' }))).toBe(
        outcome(keyed),
      );

      // A limit is counted under the lock: the submission waits for it, then is admitted.
      const waiting = submit(a.base, limited.key, { prompt: 'counted' });
      await eventually(
        async () =>
          (await sql`select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted`)[0]!.n,
        (n: number) => n >= 1,
      );
      expect(await rowsOf('counted')).toBe(0);
      await holder`select pg_advisory_unlock_all()`;
      expect(outcome(await waiting)).toMatch(/^[0-9a-f-]{36}$/);
    } finally {
      await holder.end({ timeout: 1 });
    }
  });

  it('never refuses a repeat of an admitted submission for a limit the first one used up', async () => {
    const token = await key({ activeJobs: 1 });
    const first = await submit(a.base, token, { prompt: 'repeat at the limit', idempotencyKey: 'only-one' });
    const again = await race(token, () => ({ prompt: 'repeat at the limit', idempotencyKey: 'only-one' }), 10);
    expect(new Set(again.map(outcome))).toEqual(new Set([outcome(first)]));
    const another = await submit(b.base, token, { prompt: 'repeat at the limit', idempotencyKey: 'a-new-one' });
    expect(another.errors?.[0]?.extensions.code).toBe('TOO_MANY_ACTIVE_JOBS');
  });
});

describe('LIMIT_DAILY_SPEND_USD_TOTAL across two gateway processes', () => {
  it('holds for every caller together', async () => {
    const [fake, server] = await Promise.all([FakeAtlas.start(), createServerDatabase()]);
    const database = await openDatabase({ url: server.url });
    try {
      jobsStayRunning(fake);
      const env = {
        DATABASE_URL: server.url,
        ATLASCLOUD_BASE_URL: fake.url,
        AUTH_MODE: 'apikey',
        POLL_INTERVAL_MS: '60000',
        UPSTREAM_TIMEOUT_MS: '5000',
        LIMIT_DAILY_SPEND_USD_TOTAL: '2',
      };
      const [a, b] = await Promise.all([startChild(env), startChild(env)]);
      const tokens = await Promise.all(
        ['one', 'two', 'three'].map(async (name) => (await createApiKey(database.db, { name })).key),
      );
      const replies = await Promise.all(
        Array.from({ length: 48 }, (_, i) => submit((i % 2 ? a : b).base, tokens[i % 3]!, { prompt: `total ${i}` })),
      );
      // Fourteen $0.14 jobs fit in $2.00, whoever submits them.
      expect(admitted(replies)).toHaveLength(14);
      expect(new Set(codes(replies))).toEqual(new Set(['BUDGET_EXCEEDED']));
      expect(replies.find((reply) => reply.errors)!.errors![0]!.extensions).toMatchObject({
        limitName: 'LIMIT_DAILY_SPEND_USD_TOTAL',
        limit: 2,
      });
      expect(fake.creates).toHaveLength(14);
    } finally {
      await Promise.all(children.map((child) => child.kill9()));
      await database.close();
      await Promise.all([fake.close(), server.drop()]);
    }
  }, 60_000);
});

const SECRET = 'a-test-secret-of-at-least-32-characters';
const signIn = (subject: string) =>
  new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(subject)
    .setExpirationTime('10m')
    .sign(new TextEncoder().encode(SECRET));

describe('limits and idempotency on PGlite, racing in one process', () => {
  const t = gatewayFixture('pglite', {
    AUTH_MODE: 'jwt,apikey',
    AUTH_JWT_SECRET: SECRET,
    LIMIT_ACTIVE_JOBS: '3',
    LIMIT_JOBS_PER_MINUTE: '10',
    // Room for 20 racing create calls on a busy machine: a timed-out one would read as SUBMISSION_UNKNOWN.
    UPSTREAM_TIMEOUT_MS: '5000',
  });
  // Replies a test queued but did not use must not answer the next test's creates.
  afterEach(() => {
    t.fake.createReplies.length = 0;
  });
  const race = async (subject: string, input: (i: number) => Record<string, unknown>, n = 20) => {
    const token = await signIn(subject);
    return Promise.all(Array.from({ length: n }, (_, i) => submit(new URL(t.gw.url).origin, token, input(i))));
  };

  it('admits exactly LIMIT_ACTIVE_JOBS', async () => {
    jobsStayRunning(t.fake);
    const replies = await race('active', () => ({ prompt: 'p' }));
    expect(admitted(replies)).toHaveLength(3);
    expect(new Set(codes(replies))).toEqual(new Set(['TOO_MANY_ACTIVE_JOBS']));
  });

  it('admits exactly LIMIT_JOBS_PER_MINUTE, finished jobs included', async () => {
    // Atlas refuses each one: nothing stays active and nothing is charged, but each was a submission.
    t.fake.newJob = () => ({ id: 'never', script: [] });
    t.fake.createReplies.push(...Array.from({ length: 20 }, () => httpError(400, 'bad prompt')));
    // A key that may have many jobs running, so only the rate limit binds while the creates are in flight.
    const { key } = await createApiKey(t.db.database.db, { name: 'rate', limits: { activeJobs: 100 } });
    const base = new URL(t.gw.url).origin;
    const replies = await Promise.all(Array.from({ length: 20 }, () => submit(base, key, { prompt: 'p' })));
    expect(codes(replies).filter((code) => code === 'UPSTREAM_REJECTED')).toHaveLength(10);
    expect(codes(replies).filter((code) => code === 'RATE_LIMITED')).toHaveLength(10);
    t.fake.createReplies.length = 0;
  });

  it("counts what finished jobs were charged against an API key's LIMIT_DAILY_SPEND_USD", async () => {
    t.fake.newJob = FakeAtlas.defaultJob;
    const { key } = await createApiKey(t.db.database.db, { name: 'spender', limits: { dailySpendUsd: 0.5 } });
    const base = new URL(t.gw.url).origin;
    for (let i = 0; i < 3; i++) {
      const reply = await submit(base, key, { prompt: `spend ${i}` });
      expect(reply.errors).toBeUndefined();
      const id = reply.data!.generateVideo.prediction.id;
      // SUCCEEDED: charged its price.
      await eventually(
        () => fetchCost(base, key, id),
        (cost) => cost === 0.14,
      );
    }
    // $0.42 charged; one more $0.14 would make $0.56 > $0.50.
    const refused = await submit(base, key, { prompt: 'one too many' });
    expect(refused.errors?.[0]?.extensions).toMatchObject({
      code: 'BUDGET_EXCEEDED',
      limit: 0.5,
      spentUsd: 0.42,
      priceUsd: 0.14,
    });
  });

  it('makes one job of 20 identical submissions with one key', async () => {
    jobsStayRunning(t.fake);
    const before = t.fake.creates.length;
    const replies = await race('idempotent', () => ({ prompt: 'same', idempotencyKey: 'k' }));
    expect(new Set(replies.map(outcome)).size).toBe(1);
    expect(t.fake.creates.length - before).toBe(1);
  });
});

async function fetchCost(base: string, token: string, id: string): Promise<number | null> {
  const response = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: 'query($id: ID!) { prediction(id: $id) { costUsd } }', variables: { id } }),
  });
  const body = (await response.json()) as { data: { prediction: { costUsd: number | null } } };
  return body.data.prediction.costUsd;
}

describe('what a job costs', () => {
  // A short upstream timeout, for the create call that hangs.
  const t = gatewayFixture('pglite', {
    PRICE_PER_RUN_USD: '0.14',
    PRICE_PER_SECOND_1080P_USD: '0.05',
    UPSTREAM_TIMEOUT_MS: '400',
  });
  const COST = `query($id: ID!) { prediction(id: $id) { status errorCode priceUsd costUsd } }`;
  type Cost = { prediction: { status: string; errorCode: string | null; priceUsd: number; costUsd: number | null } };
  const generate = async (input: Record<string, unknown>) => {
    const reply = await t.gw.request<{ generateVideo: { prediction: { id: string } } }>(GENERATE, { input });
    return (reply.data?.generateVideo.prediction.id ?? reply.errors?.[0]?.extensions?.predictionId) as string;
  };
  const finished = (id: string) =>
    eventually(
      async () => (await t.gw.request<Cost>(COST, { id })).data!.prediction,
      (p) => p.costUsd !== null,
    );

  it('prices per second by resolution when that price is set, else per run; charges a SUCCEEDED job its price', async () => {
    t.fake.newJob = FakeAtlas.defaultJob;
    expect(await finished(await generate({ prompt: 'p', resolution: 'RES_1080P', duration: 6 }))).toEqual({
      status: 'SUCCEEDED',
      errorCode: null,
      priceUsd: 0.3,
      costUsd: 0.3,
    });
    expect(await finished(await generate({ prompt: 'p', resolution: 'RES_720P', duration: 6 }))).toMatchObject({
      priceUsd: 0.14,
      costUsd: 0.14,
    });
  });

  it('charges nothing for a job Atlas refused or failed, and the price for one that may have been billed', async () => {
    t.fake.createReplies.push(httpError(400, 'bad prompt'));
    expect(await finished(await generate({ prompt: 'refused' }))).toMatchObject({
      errorCode: 'UPSTREAM_REJECTED',
      costUsd: 0,
    });

    t.fake.newJob = (n) => ({
      id: `job_${n}`,
      script: [wrapped({ id: `job_${n}`, status: 'failed', error: 'blocked', error_code: 1039 })],
    });
    expect(await finished(await generate({ prompt: 'moderated' }))).toMatchObject({
      errorCode: 'CONTENT_POLICY',
      costUsd: 0,
    });

    // The create call times out after it was sent: Atlas may have made (and billed) the job.
    t.fake.createReplies.push({ hang: true });
    expect(await finished(await generate({ prompt: 'lost answer' }))).toMatchObject({
      errorCode: 'SUBMISSION_UNKNOWN',
      costUsd: 0.14,
    });
  });
});
