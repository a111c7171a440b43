/**
 * What the log tells an operator, read from the gateway's own lines: an upstream failure with its
 * cause (the refused connection), a mirrored job's end after its copy, a cancel without a false
 * alarm, and a stop that says what it waits for.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { freePort } from './support/childGateway.ts';
import { FakeAtlas, generatedChunk, wrapped } from './support/fakeAtlas.ts';
import {
  eventually,
  gatewayFixture,
  ONE_BACKEND,
  openTestDatabase,
  startGateway,
  type TestDatabase,
  type TestGateway,
} from './support/gateway.ts';

interface LoggedError {
  name?: string;
  message?: string;
  code?: string;
  cause?: LoggedError;
}
interface Line {
  level: string;
  msg: string;
  predictionId?: string;
  err?: LoggedError;
  [field: string]: unknown;
}

const parsed = (gw: TestGateway): Line[] => gw.logs.map((line) => JSON.parse(line) as Line);
/** The error and each of its causes, outermost first. */
function chain(error: LoggedError | undefined): LoggedError[] {
  const links: LoggedError[] = [];
  for (let link = error; link && links.length < 20; link = link.cause) links.push(link);
  return links;
}

const GENERATE = 'mutation($prompt: String!) { generateVideo(input: { prompt: $prompt }) { prediction { id } } }';
async function submit(gw: TestGateway, prompt = 'a horse on a beach'): Promise<string> {
  const result = await gw.request<{ generateVideo: { prediction: { id: string } } }>(GENERATE, { prompt });
  expect(result.errors).toBeUndefined();
  return result.data!.generateVideo.prediction.id;
}

describe('an upstream that cannot be reached', () => {
  let db: TestDatabase;
  let gw: TestGateway;
  beforeAll(async () => {
    db = await openTestDatabase(ONE_BACKEND);
    // A port nothing listens on: every call is refused.
    gw = await startGateway({
      database: db.database,
      atlasUrl: `http://127.0.0.1:${await freePort()}`,
      env: { AUTH_MODE: 'none' },
    });
  });
  afterAll(async () => {
    await gw?.close();
    await db?.close();
  });

  it("is logged under err with its cause: the refused connection's code", async () => {
    const result = await gw.request(GENERATE, { prompt: 'a horse' });
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
    const line = parsed(gw).find((each) => each.msg === 'prediction submission failed');
    expect(line, gw.logs.join('\n')).toMatchObject({ level: 'warn', code: 'UPSTREAM_UNAVAILABLE' });
    const links = chain(line!.err);
    expect(links[0]).toMatchObject({ name: 'AtlasError', message: expect.stringContaining('ECONNREFUSED') });
    // Below the gateway's own words, the network's: what tells "refused" from "reset" or "DNS".
    expect(links.length).toBeGreaterThan(1);
    expect(links.slice(1).some((link) => link.code === 'ECONNREFUSED')).toBe(true);
  });
});

describe('a job whose outputs are copied', () => {
  const t = gatewayFixture(ONE_BACKEND, {
    AUTH_MODE: 'none',
    STORAGE_URL: `file:${mkdtempSync(join(tmpdir(), 'hh-oplog-videos-'))}`,
  });

  it('is logged as finished once, after its outputs are copied', async () => {
    t.fake.jobsWithFiles(() => ({ body: generatedChunk(0, 200_000) }));
    const id = await submit(t.gw);
    const lines = await eventually(
      () => parsed(t.gw).filter((line) => line.predictionId === id),
      (mine) => mine.some((line) => line.msg === 'prediction finished'),
      20_000,
    );
    const order = lines.map((line) => line.msg);
    const held = order.indexOf('prediction succeeded upstream; held until its outputs are copied');
    const copied = order.indexOf('outputs copied');
    const finished = order.indexOf('prediction finished');
    expect(held, order.join('\n')).toBeGreaterThanOrEqual(0);
    expect(copied).toBeGreaterThan(held);
    expect(finished).toBeGreaterThan(copied);
    expect(order.filter((msg) => msg === 'prediction finished')).toHaveLength(1);
    expect(lines[finished]).toMatchObject({ status: 'SUCCEEDED', via: 'copy', outputsCopied: true });
  });
});

describe('a cancel while a poll is under way', () => {
  const t = gatewayFixture(ONE_BACKEND, { AUTH_MODE: 'none' });
  beforeEach(() => t.fake.reset());

  it('drops the late poll result without warning of a lost lease', async () => {
    // The first status call takes its time, so the cancel lands while it is under way.
    t.fake.newJob = (n) => ({
      id: `job_${n}`,
      script: [{ ...wrapped({ id: `job_${n}`, ...FakeAtlas.done(`job_${n}`) }), delayMs: 800 }],
    });
    const id = await submit(t.gw);
    await eventually(
      () => t.fake.inFlight.get('job_1') ?? 0,
      (n) => n > 0,
    );
    const canceled = await t.gw.request<{ cancelPrediction: { status: string } }>(
      'mutation($id: ID!) { cancelPrediction(id: $id) { status } }',
      { id },
    );
    expect(canceled.data?.cancelPrediction.status).toBe('CANCELED');
    // The poll's answer arrives and its write finds the job ended: one line or the other says so.
    const lines = await eventually(
      () => parsed(t.gw).filter((line) => line.predictionId === id),
      (mine) => mine.some((line) => /poll result dropped|poll lease lost/.test(line.msg)),
      10_000,
    );
    expect(lines.filter((line) => line.level === 'warn')).toEqual([]);
    expect(lines.find((line) => line.msg === 'poll result dropped: the job had already ended')).toMatchObject({
      level: 'debug',
      status: 'CANCELED',
    });
  });
});

describe('a stop', () => {
  let fake: FakeAtlas;
  let db: TestDatabase;
  let gw: TestGateway;
  beforeAll(async () => {
    [fake, db] = await Promise.all([FakeAtlas.start(), openTestDatabase(ONE_BACKEND)]);
    gw = await startGateway({ database: db.database, atlasUrl: fake.url, env: { AUTH_MODE: 'none' } });
  });
  afterAll(async () => {
    await fake?.close();
    await db?.close();
  });

  it('says it is draining and what for, then that it stopped', async () => {
    fake.createDelayMs = 500;
    const submission = submit(gw);
    // The create call reached Atlas: a submission is under way as the stop begins.
    await eventually(
      () => fake.creates.length,
      (n) => n === 1,
    );
    await gw.gateway.close('SIGTERM');
    await submission;
    const lines = parsed(gw);
    const order = lines.map((line) => line.msg);
    const draining = order.indexOf('gateway draining');
    expect(draining, order.join('\n')).toBeGreaterThanOrEqual(0);
    expect(lines[draining]).toMatchObject({
      level: 'info',
      reason: 'SIGTERM',
      submissionsUnderWay: 1,
      waitsUpToMs: expect.any(Number),
      waitsFor: expect.stringContaining('submissions under way'),
    });
    // The drain waited for the submission to be recorded, and only then stopped.
    expect(order.indexOf('prediction submitted')).toBeGreaterThan(draining);
    expect(order.at(-1)).toBe('gateway stopped');
    expect(lines.at(-1)).toMatchObject({ reason: 'SIGTERM', ms: expect.any(Number) });
  });
});
