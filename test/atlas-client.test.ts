import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { AtlasClient, type AtlasClientOptions } from '../src/atlas/client.ts';
import { AtlasError, type AtlasErrorCode } from '../src/atlas/errors.ts';
import type { UpstreamState } from '../src/atlas/replies.ts';
import { createLogger } from '../src/log.ts';
import type { UpstreamRequest as VideoRequest } from '../src/models/index.ts';
import { changeFromUpstream } from '../src/predictions/upstreamChange.ts';
import { HAPPYHORSE_TEXT_TO_VIDEO } from '../src/vocabulary.ts';
import { bare, FakeAtlas, type FakeReply, httpError, wrapped } from './support/fakeAtlas.ts';
import { TEST_KEY } from './support/gateway.ts';

const CREATE_PATH = '/api/v1/model/generateVideo';
const TIMEOUT_MS = 300;

let fake: FakeAtlas;
let lines: string[];

beforeAll(async () => {
  fake = await FakeAtlas.start();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  fake.reset();
  lines = [];
});
afterEach(() => {
  vi.restoreAllMocks();
});

function client(options: Partial<AtlasClientOptions> = {}): AtlasClient {
  return new AtlasClient({
    baseUrl: fake.url,
    apiKey: TEST_KEY,
    timeoutMs: TIMEOUT_MS,
    retries: 2,
    backoffMs: 5,
    log: createLogger('debug', (line) => lines.push(line)),
    ...options,
  });
}

/** The AtlasError a call fails with; fails the test if it succeeds or fails with anything else. */
async function atlasError(call: Promise<unknown>): Promise<AtlasError> {
  const outcome = await call.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  if (outcome.ok) throw new Error(`expected an AtlasError, got ${JSON.stringify(outcome.value)}`);
  expect(outcome.error).toBeInstanceOf(AtlasError);
  return outcome.error as AtlasError;
}

/** A port nothing listens on: bound, noted, released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const request: VideoRequest = {
  model: HAPPYHORSE_TEXT_TO_VIDEO,
  prompt: 'a horse galloping on a beach at dawn',
  resolution: '1080P',
  aspectRatio: '9:16',
  duration: 7,
  seed: 42,
};

/** Script one status reply for `id` and read it through the client. */
async function readStatus(id: string, reply: FakeReply) {
  fake.statusScripts.set(id, [reply]);
  return client().getPrediction(id);
}

const parsedLines = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>);

describe('reply shapes', () => {
  it('reads a reply wrapped in {code, message, data}', async () => {
    const prediction = await readStatus(
      'w1',
      wrapped({
        id: 'w1',
        status: 'completed',
        outputs: ['https://cdn.example/w1.mp4'],
        metrics: { predict_time: 4.2 },
        completed_at: '2025-01-02T03:04:05.000Z',
      }),
    );
    expect(prediction).toEqual({
      id: 'w1',
      state: 'succeeded',
      rawStatus: 'completed',
      outputs: ['https://cdn.example/w1.mp4'],
      error: null,
      errorCode: null,
      predictTime: 4.2,
      completedAt: new Date('2025-01-02T03:04:05.000Z'),
    });
  });

  it('reads a bare reply with the fields at the top level', async () => {
    const prediction = await readStatus(
      'b1',
      bare({ id: 'b1', status: 'succeeded', outputs: ['https://cdn.example/b1.mp4'] }),
    );
    expect(prediction).toMatchObject({
      id: 'b1',
      state: 'succeeded',
      rawStatus: 'succeeded',
      outputs: ['https://cdn.example/b1.mp4'],
    });
  });

  it('reads `output` given as a single string', async () => {
    const prediction = await readStatus(
      'o1',
      wrapped({ id: 'o1', status: 'completed', output: 'https://cdn.example/o1.mp4' }),
    );
    expect(prediction.outputs).toEqual(['https://cdn.example/o1.mp4']);
  });

  it('passes on only http(s) output URLs and plain error codes', async () => {
    const prediction = await readStatus(
      's1',
      wrapped({
        id: 's1',
        status: 'failed',
        outputs: ['javascript:alert(1)', 'https://cdn.example/s1.mp4'],
        error_code: '<script>',
      }),
    );
    expect(prediction.outputs).toEqual(['https://cdn.example/s1.mp4']);
    expect(prediction.errorCode).toBeNull();
  });

  it('falls back to `output` when `outputs` is present but empty', async () => {
    const prediction = await readStatus(
      'o4',
      wrapped({ id: 'o4', status: 'completed', outputs: [], output: 'https://cdn.example/o4.mp4' }),
    );
    expect(prediction.outputs).toEqual(['https://cdn.example/o4.mp4']);
  });

  it('reads `output` given as an array', async () => {
    const prediction = await readStatus(
      'o2',
      bare({ id: 'o2', status: 'completed', output: ['https://cdn.example/o2a.mp4', 'https://cdn.example/o2b.mp4'] }),
    );
    expect(prediction.outputs).toEqual(['https://cdn.example/o2a.mp4', 'https://cdn.example/o2b.mp4']);
  });

  it('reads `outputs` and drops empty URLs', async () => {
    const prediction = await readStatus(
      'o3',
      wrapped({ id: 'o3', status: 'completed', outputs: ['', 'https://cdn.example/o3.mp4'] }),
    );
    expect(prediction.outputs).toEqual(['https://cdn.example/o3.mp4']);
  });

  it('reads a numeric or a string error_code as the same code', async () => {
    const numeric = await readStatus('e1', wrapped({ id: 'e1', status: 'failed', error: 'blocked', error_code: 1039 }));
    const text = await readStatus('e2', bare({ id: 'e2', status: 'failed', error: 'blocked', error_code: '1039' }));
    expect(numeric).toMatchObject({ state: 'failed', error: 'blocked', errorCode: '1039' });
    expect(text).toMatchObject({ state: 'failed', error: 'blocked', errorCode: '1039' });
  });

  const words: [string, UpstreamState][] = [
    ['starting', 'running'],
    ['queued', 'running'],
    ['processing', 'running'],
    ['completed', 'succeeded'],
    ['succeeded', 'succeeded'],
    ['failed', 'failed'],
    ['timeout', 'timed_out'],
    ['cancelled', 'canceled'],
    ['canceled', 'canceled'],
    ['Processing', 'running'],
    [' COMPLETED ', 'succeeded'],
    ['rendering-ish', 'unknown'],
  ];
  it.each(words)('maps the status word %j to %j, wrapped and bare', async (word, state) => {
    const fromWrapped = await readStatus('s1', wrapped({ id: 's1', status: word }));
    const fromBare = await readStatus('s2', bare({ id: 's2', status: word }));
    expect(fromWrapped.state).toBe(state);
    expect(fromBare.state).toBe(state);
    expect(fromWrapped.rawStatus).toBe(word);
  });

  it('treats a reply with no status word as just started', async () => {
    const prediction = await readStatus('s3', wrapped({ id: 's3' }));
    expect(prediction).toMatchObject({ state: 'running', rawStatus: 'starting' });
  });
});

describe('changeFromUpstream', () => {
  const now = new Date('2030-06-01T12:00:00.000Z');

  it('turns a done reply without any output URL into FAILED with NO_OUTPUT', async () => {
    const upstream = await readStatus('n1', wrapped({ id: 'n1', status: 'completed', outputs: [] }));
    expect(changeFromUpstream(upstream, now)).toMatchObject({
      status: 'FAILED',
      errorCode: 'NO_OUTPUT',
      upstreamStatus: 'completed',
      completedAt: now,
      nextPollAt: null,
    });
  });

  it('turns a done reply with only empty URLs into FAILED with NO_OUTPUT', async () => {
    const upstream = await readStatus('n2', bare({ id: 'n2', status: 'succeeded', output: '' }));
    expect(changeFromUpstream(upstream, now)).toMatchObject({ status: 'FAILED', errorCode: 'NO_OUTPUT' });
  });

  it('turns a done reply with a URL into SUCCEEDED with its outputs and timing', async () => {
    const upstream = await readStatus(
      'n3',
      wrapped({
        id: 'n3',
        status: 'completed',
        outputs: ['https://cdn.example/n3.mp4'],
        metrics: { predict_time: 3.5 },
        completed_at: '2030-06-01T11:59:00.000Z',
      }),
    );
    const change = changeFromUpstream(upstream, now);
    expect(change).toMatchObject({
      status: 'SUCCEEDED',
      outputs: ['https://cdn.example/n3.mp4'],
      predictTime: 3.5,
      completedAt: new Date('2030-06-01T11:59:00.000Z'),
      nextPollAt: null,
    });
    expect(change.errorCode).toBeUndefined();
  });

  it('reads error_code 1039 as CONTENT_POLICY, not as still rendering', async () => {
    const upstream = await readStatus(
      'c1',
      wrapped({ id: 'c1', status: 'failed', error: 'content flagged by moderation', error_code: 1039 }),
    );
    expect(changeFromUpstream(upstream, now)).toMatchObject({
      status: 'FAILED',
      errorCode: 'CONTENT_POLICY',
      error: 'content flagged by moderation',
    });
  });

  it('reads another numeric code as UPSTREAM_<code>', async () => {
    const upstream = await readStatus(
      'c2',
      bare({ id: 'c2', status: 'failed', error: 'gpu fell over', error_code: 5003 }),
    );
    expect(changeFromUpstream(upstream, now)).toMatchObject({
      status: 'FAILED',
      errorCode: 'UPSTREAM_5003',
      error: 'gpu fell over',
    });
  });

  it('reads a failure without a code as UPSTREAM_FAILED', async () => {
    const upstream = await readStatus('c3', wrapped({ id: 'c3', status: 'failed' }));
    expect(changeFromUpstream(upstream, now)).toMatchObject({ status: 'FAILED', errorCode: 'UPSTREAM_FAILED' });
  });

  it('keeps an unknown word PROCESSING: not done, no completion time', async () => {
    const upstream = await readStatus(
      'u1',
      wrapped({ id: 'u1', status: 'warming_up_gpus', outputs: ['https://cdn.example/u1.mp4'] }),
    );
    const change = changeFromUpstream(upstream, now);
    expect(change).toMatchObject({ status: 'PROCESSING', upstreamStatus: 'warming_up_gpus' });
    expect(change.completedAt).toBeUndefined();
    expect(change.outputs).toBeUndefined();
  });

  it('keeps a running word PROCESSING', async () => {
    const upstream = await readStatus('u2', wrapped({ id: 'u2', status: 'queued' }));
    expect(changeFromUpstream(upstream, now)).toMatchObject({ status: 'PROCESSING' });
  });

  it('ends timeout as FAILED with UPSTREAM_TIMED_OUT and cancelled as CANCELED', async () => {
    const timedOut = await readStatus('t1', wrapped({ id: 't1', status: 'timeout' }));
    const cancelled = await readStatus('t2', wrapped({ id: 't2', status: 'cancelled' }));
    expect(changeFromUpstream(timedOut, now)).toMatchObject({
      status: 'FAILED',
      errorCode: 'UPSTREAM_TIMED_OUT',
      completedAt: now,
    });
    expect(changeFromUpstream(cancelled, now)).toMatchObject({ status: 'CANCELED', completedAt: now });
  });
});

describe('createVideo', () => {
  it('sends one flat POST body with the bearer key and keeps the X-Request-ID', async () => {
    fake.createReplies.push({
      status: 200,
      json: { code: 200, message: 'success', data: { id: 'job_abc', status: 'starting' } },
      headers: { 'x-request-id': 'rid-create-1' },
    });
    const created = await client().createVideo(request);

    expect(created.requestId).toBe('rid-create-1');
    expect(created.prediction).toMatchObject({ id: 'job_abc', state: 'running', rawStatus: 'starting' });
    expect(fake.requests).toHaveLength(1);
    const [sent] = fake.creates;
    expect(sent!.method).toBe('POST');
    expect(sent!.path).toBe(CREATE_PATH);
    expect(sent!.headers.authorization).toBe(`Bearer ${TEST_KEY}`);
    expect(sent!.headers['content-type']).toMatch(/^application\/json/);
    expect(sent!.body).toEqual({
      model: HAPPYHORSE_TEXT_TO_VIDEO,
      prompt: 'a horse galloping on a beach at dawn',
      resolution: '1080P',
      aspect_ratio: '9:16',
      duration: 7,
      seed: 42,
    });
  });

  it('leaves `seed` out of the body when none is given', async () => {
    await client().createVideo({ ...request, seed: null });
    const body = fake.creates[0]!.body as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['aspect_ratio', 'duration', 'model', 'prompt', 'resolution']);
  });

  it('sends a seed of 0 (a valid seed, not "no seed")', async () => {
    await client().createVideo({ ...request, seed: 0 });
    expect(fake.creates[0]!.body).toMatchObject({ seed: 0 });
  });

  it('strips trailing slashes from the base URL', async () => {
    await client({ baseUrl: `${fake.url}//` }).createVideo(request);
    expect(fake.creates).toHaveLength(1);
  });

  it('reads a bare create reply too', async () => {
    fake.createReplies.push(bare({ id: 'job_bare', status: 'queued' }));
    const created = await client().createVideo(request);
    expect(created.prediction).toMatchObject({ id: 'job_bare', state: 'running' });
  });

  const statuses: [number, AtlasErrorCode][] = [
    [400, 'UPSTREAM_REJECTED'],
    [401, 'UPSTREAM_UNAUTHORIZED'],
    [402, 'INSUFFICIENT_BALANCE'],
    [403, 'UPSTREAM_FORBIDDEN'],
    [404, 'UPSTREAM_REJECTED'],
    [413, 'UPSTREAM_REJECTED'],
    [422, 'UPSTREAM_REJECTED'],
    [429, 'UPSTREAM_RATE_LIMITED'],
    [451, 'UPSTREAM_FORBIDDEN'],
    [500, 'UPSTREAM_UNAVAILABLE'],
    [502, 'SUBMISSION_UNKNOWN'],
    [503, 'UPSTREAM_UNAVAILABLE'],
    [504, 'SUBMISSION_UNKNOWN'],
  ];
  it.each(statuses)('maps HTTP %i to %s and sends it exactly once', async (status, code) => {
    fake.createReplies.push({
      ...httpError(status, `upstream says ${status}`),
      headers: { 'x-request-id': `rid-${status}` },
    });
    const error = await atlasError(client({ retries: 3 }).createVideo(request));

    expect(error.code).toBe(code);
    expect(error.details).toEqual({ httpStatus: status, requestId: `rid-${status}` });
    expect(error.message).toContain(`upstream says ${status}`);
    expect(fake.creates).toHaveLength(1);
    expect(fake.requests).toHaveLength(1);
    const refused = parsedLines().find((line) => line.msg === 'atlas call refused');
    expect(refused).toMatchObject({
      level: 'warn',
      call: 'create',
      httpStatus: status,
      upstreamRequestId: `rid-${status}`,
      code,
    });
  });

  it('reports SUBMISSION_UNKNOWN when the call hangs past the timeout, and sends it once', async () => {
    fake.createReplies.push({ hang: true });
    const started = Date.now();
    const error = await atlasError(client({ retries: 3 }).createVideo(request));
    const elapsed = Date.now() - started;

    expect(error.code).toBe('SUBMISSION_UNKNOWN');
    expect(error.message).toMatch(/timed out/);
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
    // Ends at its timeout rather than hanging (a bound generous for a busy machine); sent once, not retried.
    expect(elapsed).toBeLessThan(TIMEOUT_MS + 5_000);
    expect(fake.creates).toHaveLength(1);
  });

  it('reports SUBMISSION_UNKNOWN when the connection is reset after sending, and sends it once', async () => {
    fake.createReplies.push({ reset: true });
    const error = await atlasError(client({ retries: 3 }).createVideo(request));
    expect(error.code).toBe('SUBMISSION_UNKNOWN');
    expect(error.message).toMatch(/cut off/);
    expect(fake.creates).toHaveLength(1);
  });

  it('reports SUBMISSION_UNKNOWN for a 200 reply whose body cannot be read', async () => {
    fake.createReplies.push({
      status: 200,
      text: '<html>gateway hiccup</html>',
      headers: { 'x-request-id': 'rid-html' },
    });
    const error = await atlasError(client().createVideo(request));
    expect(error.code).toBe('SUBMISSION_UNKNOWN');
    expect(error.details).toEqual({ httpStatus: 200, requestId: 'rid-html' });
    expect(fake.creates).toHaveLength(1);
  });

  it('reports SUBMISSION_UNKNOWN for a 200 JSON reply without a prediction id', async () => {
    fake.createReplies.push(wrapped({ status: 'starting' }));
    const error = await atlasError(client().createVideo(request));
    expect(error.code).toBe('SUBMISSION_UNKNOWN');
    expect(fake.creates).toHaveLength(1);
  });

  it('reports UPSTREAM_UNAVAILABLE (nothing submitted) when the connection is refused', async () => {
    const port = await closedPort();
    const error = await atlasError(client({ baseUrl: `http://127.0.0.1:${port}` }).createVideo(request));
    expect(error.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(error.message).toMatch(/ECONNREFUSED/);
    expect(error.message).toMatch(/nothing was submitted/);
  });
});

describe('getPrediction retries', () => {
  const done = (id: string) => wrapped({ id, status: 'completed', outputs: [`https://cdn.example/${id}.mp4`] });

  it('retries 503 then 429 with backoff and then succeeds', async () => {
    fake.statusScripts.set('r1', [httpError(503), httpError(429), done('r1')]);
    const prediction = await client({ retries: 2 }).getPrediction('r1');

    expect(prediction).toMatchObject({ id: 'r1', state: 'succeeded', outputs: ['https://cdn.example/r1.mp4'] });
    expect(fake.statusCalls('r1')).toHaveLength(3);
    const retries = parsedLines().filter((line) => line.msg === 'atlas status call failed, retrying');
    expect(retries).toMatchObject([
      { level: 'debug', upstreamId: 'r1', attempt: 0, code: 'UPSTREAM_UNAVAILABLE' },
      { level: 'debug', upstreamId: 'r1', attempt: 1, code: 'UPSTREAM_RATE_LIMITED' },
    ]);
    // Full jitter under a doubling cap: backoffMs * 2 ** attempt.
    expect(retries[0]!.delayMs as number).toBeLessThanOrEqual(5);
    expect(retries[1]!.delayMs as number).toBeLessThanOrEqual(10);
  });

  it('retries a reset and a hang, then succeeds', async () => {
    fake.statusScripts.set('r2', [{ reset: true }, { hang: true }, done('r2')]);
    const prediction = await client({ retries: 2 }).getPrediction('r2');
    expect(prediction.state).toBe('succeeded');
    expect(fake.statusCalls('r2')).toHaveLength(3);
    const codes = parsedLines()
      .filter((line) => line.msg === 'atlas status call failed, retrying')
      .map((line) => line.code);
    expect(codes).toEqual(['UPSTREAM_UNAVAILABLE', 'UPSTREAM_TIMEOUT']);
  });

  it('waits between attempts, doubling the backoff step', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.999);
    fake.statusScripts.set('r3', [httpError(503), httpError(503), done('r3')]);
    const started = Date.now();
    await client({ retries: 2, backoffMs: 50 }).getPrediction('r3');
    const elapsed = Date.now() - started;

    const delays = parsedLines()
      .filter((line) => line.msg === 'atlas status call failed, retrying')
      .map((line) => line.delayMs);
    expect(delays).toEqual([50, 100]);
    expect(elapsed).toBeGreaterThanOrEqual(140);
  });

  const giveUps: [string, FakeReply, AtlasErrorCode][] = [
    ['503', httpError(503), 'UPSTREAM_UNAVAILABLE'],
    ['429', httpError(429), 'UPSTREAM_RATE_LIMITED'],
    ['reset', { reset: true }, 'UPSTREAM_UNAVAILABLE'],
    ['hang', { hang: true }, 'UPSTREAM_TIMEOUT'],
    ['unreadable 200', { status: 200, text: 'not json' }, 'UPSTREAM_UNAVAILABLE'],
  ];
  it.each(giveUps)('gives up on repeated %s after `retries` extra attempts', async (_name, reply, code) => {
    fake.statusScripts.set('g1', [reply]);
    const error = await atlasError(client({ retries: 2 }).getPrediction('g1'));
    expect(error.code).toBe(code);
    expect(fake.statusCalls('g1')).toHaveLength(3);
  });

  it('makes a single attempt when retries is 0', async () => {
    fake.statusScripts.set('g2', [httpError(503), done('g2')]);
    const error = await atlasError(client({ retries: 0 }).getPrediction('g2'));
    expect(error.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(fake.statusCalls('g2')).toHaveLength(1);
  });

  it('does not retry a 404', async () => {
    // No script for this id: the fake answers 404 "prediction not found".
    const error = await atlasError(client({ retries: 3 }).getPrediction('missing'));
    expect(error.code).toBe('UPSTREAM_REJECTED');
    expect(error.details.httpStatus).toBe(404);
    expect(error.message).toContain('prediction not found');
    expect(fake.statusCalls('missing')).toHaveLength(1);
  });

  it('does not retry a 400', async () => {
    fake.statusScripts.set('bad', [httpError(400, 'bad id'), done('bad')]);
    const error = await atlasError(client({ retries: 3 }).getPrediction('bad'));
    expect(error.code).toBe('UPSTREAM_REJECTED');
    expect(fake.statusCalls('bad')).toHaveLength(1);
  });

  it('does not retry a 401 or 402', async () => {
    fake.statusScripts.set('k1', [httpError(401), done('k1')]);
    fake.statusScripts.set('k2', [httpError(402), done('k2')]);
    expect((await atlasError(client({ retries: 3 }).getPrediction('k1'))).code).toBe('UPSTREAM_UNAUTHORIZED');
    expect((await atlasError(client({ retries: 3 }).getPrediction('k2'))).code).toBe('INSUFFICIENT_BALANCE');
    expect(fake.statusCalls('k1')).toHaveLength(1);
    expect(fake.statusCalls('k2')).toHaveLength(1);
  });

  it('encodes the id into the path', async () => {
    fake.statusScripts.set('a/b c', [done('a/b c')]);
    const prediction = await client().getPrediction('a/b c');
    expect(prediction.id).toBe('a/b c');
    expect(fake.requests[0]!.path).toBe('/api/v1/model/prediction/a%2Fb%20c');
    expect(fake.requests[0]!.headers.authorization).toBe(`Bearer ${TEST_KEY}`);
  });

  it('reports UPSTREAM_UNAVAILABLE when the connection is refused', async () => {
    const port = await closedPort();
    const error = await atlasError(client({ baseUrl: `http://127.0.0.1:${port}`, retries: 1 }).getPrediction('x'));
    expect(error.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(error.message).toMatch(/ECONNREFUSED/);
  });
});

describe('redirects', () => {
  let elsewhere: FakeAtlas;
  beforeAll(async () => {
    elsewhere = await FakeAtlas.start();
  });
  afterAll(async () => {
    await elsewhere.close();
  });
  beforeEach(() => elsewhere.reset());

  it.each([301, 302, 307, 308])('does not follow a %i on create; nothing reaches the other host', async (status) => {
    fake.createReplies.push({ status, headers: { location: `${elsewhere.url}${CREATE_PATH}` } });
    const error = await atlasError(client().createVideo(request));
    expect(error.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(error.details.httpStatus).toBe(status);
    expect(error.message).toMatch(/redirected/);
    expect(elsewhere.requests).toHaveLength(0);
    expect(fake.creates).toHaveLength(1);
  });

  it('does not follow a 302 on a status call, on any attempt', async () => {
    fake.statusScripts.set('rd', [
      { status: 302, headers: { location: `${elsewhere.url}/api/v1/model/prediction/rd` } },
    ]);
    const error = await atlasError(client({ retries: 2 }).getPrediction('rd'));
    expect(error.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(elsewhere.requests).toHaveLength(0);
    expect(fake.statusCalls('rd')).toHaveLength(3);
  });
});

describe('the key never leaks', () => {
  const noKeyAnywhere = (error: AtlasError) => {
    expect(error.message).not.toContain(TEST_KEY);
    expect(JSON.stringify(error.details)).not.toContain(TEST_KEY);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('\n')).not.toContain(TEST_KEY);
  };

  it('redacts the key when a create error message echoes it', async () => {
    fake.createReplies.push(httpError(401, `bad key ${TEST_KEY}`));
    const error = await atlasError(client().createVideo(request));
    expect(error.code).toBe('UPSTREAM_UNAUTHORIZED');
    expect(error.message).toContain('bad key [redacted]');
    noKeyAnywhere(error);
  });

  it('redacts every copy of the key, in any of the message fields', async () => {
    const shapes: FakeReply[] = [
      { status: 400, json: { msg: `${TEST_KEY} is not ${TEST_KEY}` } },
      { status: 403, json: { error: `forbidden for Bearer ${TEST_KEY}` } },
      { status: 400, json: { code: 400, message: '', data: { message: `key=${TEST_KEY}` } } },
    ];
    for (const reply of shapes) {
      fake.createReplies.push(reply);
      const error = await atlasError(client().createVideo(request));
      expect(error.message).toContain('[redacted]');
      noKeyAnywhere(error);
    }
  });

  it('redacts the key echoed by a status call, through every retry', async () => {
    fake.statusScripts.set('leak', [httpError(503, `upstream down, your key ${TEST_KEY}`)]);
    const error = await atlasError(client({ retries: 2 }).getPrediction('leak'));
    expect(error.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(error.message).toContain('[redacted]');
    expect(fake.statusCalls('leak')).toHaveLength(3);
    noKeyAnywhere(error);
  });

  it('redacts before cutting a long message to size, so no part of the key survives', async () => {
    // Cut first and redact second, and the first 20 characters of the key would get through.
    fake.createReplies.push(httpError(400, `${'x'.repeat(480)}${TEST_KEY}`));
    const error = await atlasError(client().createVideo(request));
    expect(error.message).not.toContain(TEST_KEY.slice(0, 12));
    expect(error.message).toContain('[redacted]');
    expect(error.message.length).toBeLessThan(700);
    noKeyAnywhere(error);
  });
});
