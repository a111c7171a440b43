/**
 * Replies from Atlas are bounded and cleaned before anything is done with them: a huge body is not
 * read (the connection is cut), and text Postgres cannot store does not wedge a job.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AtlasClient } from '../src/atlas/client.ts';
import { AtlasError } from '../src/atlas/errors.ts';
import { MAX_REPLY_BYTES } from '../src/atlas/replyBody.ts';
import { createLogger } from '../src/log.ts';
import { FakeAtlas, type FakeReply, wrapped } from './support/fakeAtlas.ts';
import { eventually, gatewayFixture, ONE_BACKEND, TEST_KEY } from './support/gateway.ts';

const HUGE = 50 * 1024 * 1024;
const GENERATE = 'mutation { generateVideo(input: { prompt: "a horse" }) { prediction { id status upstreamId } } }';
const PREDICTION = `query One($id: ID!) { prediction(id: $id) { id status videoUrl error errorCode } }`;

/** A well-formed reply padded with whitespace to `padBytes`: valid JSON, so only its size is wrong. */
const padded = (
  data: unknown,
  padBytes: number,
  extra: Partial<Extract<FakeReply, { padBytes: number }>> = {},
): FakeReply => ({
  status: 200,
  json: { code: 200, message: 'success', data },
  padBytes,
  ...extra,
});

describe('upstream replies, through the gateway', () => {
  // Time enough to read 50 MB on loopback: what cuts a huge reply short must be the size cap, not a timeout.
  const t = gatewayFixture(ONE_BACKEND, { UPSTREAM_TIMEOUT_MS: '20000' });
  beforeEach(async () => {
    t.fake.reset();
    await t.db.truncate();
    t.gw.logs.length = 0;
  });

  type Generated = { generateVideo: { prediction: { id: string; status: string; upstreamId: string | null } } };
  const generate = () => t.gw.request<Generated>(GENERATE);
  const stored = async (id: string) =>
    (
      await t.gw.request<{
        prediction: { status: string; videoUrl: string | null; error: string | null; errorCode: string | null };
      }>(PREDICTION, { id })
    ).data!.prediction;

  /** The fake's record of the one padded reply: it was cut off, far short of its size. */
  async function expectCutOff(index = 0) {
    const reply = t.fake.streamed[index]!;
    await reply.closed;
    expect(reply.finished).toBe(false);
    expect(reply.sentBytes).toBeLessThan(reply.totalBytes / 4);
  }

  it.each([
    ['streamed without a length', {}],
    ['declared in Content-Length', { declareLength: true }],
  ])('ends a create answered with 50 MB (%s) SUBMISSION_UNKNOWN, without reading it', async (_name, extra) => {
    t.fake.createReplies.push(padded({ id: 'job_big', status: 'starting' }, HUGE, extra));
    const result = await generate();
    const error = result.errors![0]!;
    expect(error.extensions?.code).toBe('SUBMISSION_UNKNOWN');
    expect(error.message).toMatch(/not read.*may have been created and billed/);
    expect(await stored(error.extensions!.predictionId as string)).toMatchObject({
      status: 'FAILED',
      errorCode: 'SUBMISSION_UNKNOWN',
    });
    await expectCutOff();
    expect(t.fake.creates).toHaveLength(1);
    expect(t.gw.logs.some((line) => line.includes('atlas reply too large, not read'))).toBe(true);
  });

  it('lets the status code speak for a refusal whose body is huge', async () => {
    t.fake.createReplies.push(padded(null, HUGE, { status: 503 }));
    const result = await generate();
    expect(result.errors![0]!.extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
    await expectCutOff();
  });

  it('reads a reply just under the limit', async () => {
    t.fake.createReplies.push(padded({ id: 'job_fits', status: 'starting' }, MAX_REPLY_BYTES - 200));
    const result = await generate();
    expect(result.errors).toBeUndefined();
    expect(result.data!.generateVideo.prediction).toMatchObject({ status: 'PROCESSING', upstreamId: 'job_fits' });
    expect(t.fake.streamed[0]!.finished).toBe(true);
  });

  it('treats a huge status reply as a passing failure: the job is polled again and finishes', async () => {
    t.fake.newJob = (n) => ({
      id: `job_${n}`,
      script: [
        padded({ id: `job_${n}`, status: 'completed', outputs: ['https://cdn.example/never.mp4'] }, HUGE),
        wrapped({ id: `job_${n}`, status: 'completed', outputs: [`https://cdn.example/job_${n}.mp4`] }),
      ],
    });
    const { data } = await generate();
    const job = await eventually(
      () => stored(data!.generateVideo.prediction.id),
      (p) => p.status === 'SUCCEEDED',
    );
    expect(job.videoUrl).toBe('https://cdn.example/job_1.mp4');
    await expectCutOff();
  });

  it('stores an error text with NUL in it (as U+FFFD) and ends the job as upstream said', async () => {
    t.fake.newJob = (n) => ({
      id: `job_${n}`,
      script: [wrapped({ id: `job_${n}`, status: 'failed', error: 'bad\u0000input' })],
    });
    const { data } = await generate();
    const id = data!.generateVideo.prediction.id;
    const job = await eventually(
      () => stored(id),
      (p) => p.status !== 'PROCESSING',
    );
    expect(job).toMatchObject({ status: 'FAILED', errorCode: 'UPSTREAM_FAILED', error: 'bad\ufffdinput' });
  });

  it('takes a job id with NUL in it as an unreadable reply, rather than fail to store it', async () => {
    t.fake.createReplies.push(wrapped({ id: 'job\u0000x', status: 'starting' }));
    const result = await generate();
    const error = result.errors![0]!;
    expect(error.extensions?.code).toBe('SUBMISSION_UNKNOWN');
    expect(error.message).toMatch(/reply could not be read/);
    expect(t.gw.logs.filter((line) => line.includes('recording a submission failed'))).toEqual([]);
  });
});

describe('a huge status reply, at the client', () => {
  let fake: FakeAtlas;
  beforeAll(async () => {
    fake = await FakeAtlas.start();
  });
  afterAll(async () => {
    await fake.close();
  });

  it.each([
    ['streamed without a length', {}],
    ['declared in Content-Length', { declareLength: true }],
  ])(
    'fails the call as UPSTREAM_UNAVAILABLE, a transient failure, and cuts the connection (%s)',
    async (_name, extra) => {
      const client = new AtlasClient({
        baseUrl: fake.url,
        apiKey: TEST_KEY,
        timeoutMs: 5_000,
        retries: 0,
        log: createLogger('silent'),
      });
      fake.statusScripts.set('big', [padded({ id: 'big', status: 'processing' }, HUGE, extra)]);
      const error = await client.getPrediction('big').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(AtlasError);
      expect((error as AtlasError).code).toBe('UPSTREAM_UNAVAILABLE');
      expect((error as AtlasError).transient).toBe(true);
      expect((error as AtlasError).message).toMatch(/over 256 KiB, which was not read/);
      const reply = fake.streamed.at(-1)!;
      await reply.closed;
      expect(reply.finished).toBe(false);
    },
  );
});
