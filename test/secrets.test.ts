/**
 * The key must not come back out of the gateway through anything Atlas says. Each test makes the
 * fake upstream echo the key in one field, runs the job through the gateway (GraphQL in, fake Atlas
 * over HTTP, the database, the poller), then looks for the key, in any spelling, in every GraphQL
 * reply, every log line and every stored row.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { predictions } from '../src/db/schema.ts';
import { httpError, wrapped } from './support/fakeAtlas.ts';
import { eventually, gatewayFixture, ONE_BACKEND, TEST_KEY } from './support/gateway.ts';

const FIELDS = 'id status upstreamId outputs videoUrl error errorCode';
const GENERATE = `mutation Generate($input: GenerateVideoInput!) { generateVideo(input: $input) { prediction { ${FIELDS} } } }`;
const PREDICTION = `query One($id: ID!) { prediction(id: $id) { ${FIELDS} } }`;

interface Prediction {
  id: string;
  status: string;
  upstreamId: string | null;
  outputs: string[];
  videoUrl: string | null;
  error: string | null;
  errorCode: string | null;
}

/** The key as an echo may spell it: as is, in another case, percent-encoded (any hex case), twice encoded. */
const encodeAll = (text: string, hex: (h: string) => string = (h) => h.toUpperCase()) =>
  [...text].map((c) => `%${hex(c.charCodeAt(0).toString(16).padStart(2, '0'))}`).join('');
const SPELLINGS = {
  plain: TEST_KEY,
  upper: TEST_KEY.toUpperCase(),
  lower: TEST_KEY.toLowerCase(),
  encoded: encodeAll(TEST_KEY),
  encodedLowerHex: encodeAll(TEST_KEY, (h) => h.toLowerCase()),
  partlyEncoded: TEST_KEY.replaceAll('-', '%2d'),
  doublyEncoded: encodeAll(TEST_KEY).replaceAll('%', '%25'),
};

/** Whether text carries the key in any of those spellings: decoded and case-folded, as a reader would. */
function carriesKey(text: string): boolean {
  let current = text;
  for (let round = 0; round < 4; round++) {
    if (current.toLowerCase().includes(TEST_KEY.toLowerCase())) return true;
    const decoded = current.replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    if (decoded === current) return false;
    current = decoded;
  }
  return false;
}

describe('the helper that looks for the key', () => {
  it.each(Object.entries(SPELLINGS))('finds the %s spelling', (_name, spelling) => {
    expect(carriesKey(`https://cdn.example/v.mp4?k=${spelling}`)).toBe(true);
  });
});

describe('the API key never leaves through an upstream field', () => {
  const t = gatewayFixture(ONE_BACKEND, { PREDICTION_TIMEOUT_MS: '3000' });
  const replies: unknown[] = [];

  beforeEach(async () => {
    t.fake.reset();
    await t.db.truncate();
    t.gw.logs.length = 0;
    replies.length = 0;
  });

  async function generate(prompt: string) {
    const result = await t.gw.request<{ generateVideo: { prediction: Prediction } }>(GENERATE, { input: { prompt } });
    replies.push(result);
    return result;
  }
  async function stored(id: string) {
    const result = await t.gw.request<{ prediction: Prediction | null }>(PREDICTION, { id });
    replies.push(result);
    return result.data?.prediction ?? null;
  }
  async function finished(id: string) {
    return eventually(
      () => stored(id),
      (p) => p !== null && p.status !== 'PROCESSING' && p.status !== 'STARTING',
    );
  }

  /** Nothing the gateway said, logged or stored carries the key; `expectLogs` guards against checking an empty log. */
  async function expectNoKeyAnywhere() {
    for (const reply of replies) expect(carriesKey(JSON.stringify(reply)), JSON.stringify(reply)).toBe(false);
    expect(t.gw.logs.length).toBeGreaterThan(0);
    for (const line of t.gw.logs) expect(carriesKey(line), line).toBe(false);
    const rows = await t.db.database.db.select().from(predictions);
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(carriesKey(JSON.stringify(row)), JSON.stringify(row)).toBe(false);
  }

  it('drops an error_code that is the key: the job fails as UPSTREAM_FAILED', async () => {
    t.fake.newJob = (n) => ({
      id: `job_${n}`,
      script: [wrapped({ id: `job_${n}`, status: 'failed', error: 'refused', error_code: TEST_KEY })],
    });
    const { data } = await generate('an error code echoing the key');
    const job = await finished(data!.generateVideo.prediction.id);
    expect(job).toMatchObject({ status: 'FAILED', errorCode: 'UPSTREAM_FAILED', error: 'refused' });
    // Atlas echoing the key is worth an operator's attention: said once per reply, without the key.
    expect(t.gw.logs.some((line) => line.includes('atlas reply carried the API key; redacted'))).toBe(true);
    await expectNoKeyAnywhere();
  });

  it('takes a create reply whose job id carries the key as unreadable: SUBMISSION_UNKNOWN, nothing stored of it', async () => {
    t.fake.createReplies.push(wrapped({ id: `job-${TEST_KEY}`, status: 'starting' }));
    const result = await generate('a job id echoing the key');
    const error = result.errors![0]!;
    expect(error.extensions?.code).toBe('SUBMISSION_UNKNOWN');
    const job = await stored(error.extensions!.predictionId as string);
    expect(job).toMatchObject({ status: 'FAILED', errorCode: 'SUBMISSION_UNKNOWN', upstreamId: null });
    expect(t.fake.creates).toHaveLength(1);
    await expectNoKeyAnywhere();
  });

  it('drops an X-Request-ID that carries the key, on a refused create and on an accepted one', async () => {
    t.fake.createReplies.push({ ...httpError(400, 'bad request'), headers: { 'x-request-id': `req-${TEST_KEY}` } });
    const refused = await generate('a refused create with the key in its request id');
    expect(refused.errors![0]!.extensions).toMatchObject({ code: 'UPSTREAM_REJECTED' });
    expect(refused.errors![0]!.extensions).not.toHaveProperty('upstreamRequestId');

    t.fake.createReplies.push({
      ...wrapped({ id: 'job_ok', status: 'starting' }),
      headers: { 'x-request-id': SPELLINGS.upper },
    });
    t.fake.statusScripts.set('job_ok', [
      {
        ...wrapped({ id: 'job_ok', status: 'completed', outputs: ['https://cdn.example/ok.mp4'] }),
        headers: { 'x-request-id': TEST_KEY },
      },
    ]);
    const accepted = await generate('an accepted create with the key in its request id');
    expect(accepted.errors).toBeUndefined();
    expect(await finished(accepted.data!.generateVideo.prediction.id)).toMatchObject({ status: 'SUCCEEDED' });
    await expectNoKeyAnywhere();
  });

  it('keeps a request id that does not carry the key, for support', async () => {
    t.fake.createReplies.push({ ...httpError(400, 'bad request'), headers: { 'x-request-id': 'req-0a1b2c' } });
    const refused = await generate('a refused create');
    expect(refused.errors![0]!.extensions).toMatchObject({
      code: 'UPSTREAM_REJECTED',
      upstreamRequestId: 'req-0a1b2c',
    });
  });

  it('drops every output URL that carries the key, in any spelling, and keeps the clean one', async () => {
    const tainted = Object.values(SPELLINGS).flatMap((spelling) => [
      `https://cdn.example/v.mp4?token=${spelling}`,
      `https://cdn.example/${spelling}/v.mp4`,
    ]);
    t.fake.newJob = (n) => ({
      id: `job_${n}`,
      script: [
        wrapped({ id: `job_${n}`, status: 'completed', outputs: [...tainted, 'https://cdn.example/clean.mp4'] }),
      ],
    });
    const { data } = await generate('outputs echoing the key');
    const job = await finished(data!.generateVideo.prediction.id);
    expect(job).toMatchObject({
      status: 'SUCCEEDED',
      outputs: ['https://cdn.example/clean.mp4'],
      videoUrl: 'https://cdn.example/clean.mp4',
    });
    await expectNoKeyAnywhere();
  });

  it('fails a job whose only output carries the key as NO_OUTPUT, rather than hand the key out', async () => {
    t.fake.newJob = (n) => ({
      id: `job_${n}`,
      script: [
        wrapped({ id: `job_${n}`, status: 'completed', output: `https://${SPELLINGS.lower}.cdn.example/v.mp4` }),
      ],
    });
    const { data } = await generate('a single output echoing the key');
    const job = await finished(data!.generateVideo.prediction.id);
    expect(job).toMatchObject({ status: 'FAILED', errorCode: 'NO_OUTPUT', outputs: [], videoUrl: null });
    await expectNoKeyAnywhere();
  });

  it('redacts the key from error text and from the status word, in any spelling', async () => {
    t.fake.newJob = (n) => ({
      id: `job_${n}`,
      script: [
        wrapped({ id: `job_${n}`, status: `processing ${SPELLINGS.upper}` }),
        wrapped({
          id: `job_${n}`,
          status: 'failed',
          error: `key ${SPELLINGS.plain} or ${SPELLINGS.partlyEncoded} refused`,
        }),
      ],
    });
    const { data } = await generate('error text echoing the key');
    const job = await finished(data!.generateVideo.prediction.id);
    expect(job).toMatchObject({ status: 'FAILED', errorCode: 'UPSTREAM_FAILED' });
    expect(job!.error).toContain('[redacted]');
    await expectNoKeyAnywhere();
  });
});
