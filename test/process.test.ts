/**
 * The gateway as a real process, configured only by environment variables, killed with SIGKILL or
 * SIGTERM and restarted on the same database, against the scriptable fake of Atlas Cloud running in
 * this process. The SIGTERM test starts it as `npm start` does (`node scripts/start.js`); the
 * others from the bundled source, which starts faster (test/support/childGateway.ts).
 */
import postgres from 'postgres';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createVideoClient } from '../packages/client/src/client/index.ts';
import { type Child, children, startChild } from './support/childGateway.ts';
import { FakeAtlas, httpError, wrapped } from './support/fakeAtlas.ts';
import { createServerDatabase, eventually, TEST_KEY } from './support/gateway.ts';

interface GraphQLReply<T> {
  data?: T;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

// biome-ignore lint/suspicious/noExplicitAny: replies are read loosely, field by field, in the assertions
async function gql<T = any>(
  child: Child,
  query: string,
  variables?: Record<string, unknown>,
): Promise<GraphQLReply<T>> {
  const response = await fetch(`${child.base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as GraphQLReply<T>;
}

const GENERATE = /* GraphQL */ `
  mutation Generate($prompt: String!) {
    generateVideo(input: { prompt: $prompt }) {
      prediction { id status upstreamId }
    }
  }
`;
const PREDICTION = /* GraphQL */ `
  query One($id: ID!) {
    prediction(id: $id) { id status videoUrl errorCode error }
  }
`;
const LIST = /* GraphQL */ `
  query List {
    predictions(first: 10) { edges { node { id status errorCode error } } }
  }
`;

/** The raw row, read behind the gateway's back. */
interface RawRow {
  id: string;
  status: string;
  upstream_id: string | null;
  upstream_status: string | null;
  next_poll_at: Date | null;
}

// ---------------------------------------------------------------------------------------------

describe('the gateway as a process', () => {
  let fake: FakeAtlas;
  let database: { url: string; drop(): Promise<void> };
  let sql: postgres.Sql;
  let startedHere: Child[] = [];
  /** Every child this file started (the support module's `children` also holds earlier files' in this worker). */
  const startedInFile: Child[] = [];

  const rows = () => sql<RawRow[]>`select id, status, upstream_id, upstream_status, next_poll_at from predictions`;
  const start = async (env: Record<string, string> = {}, via: 'bundle' | 'npm start' = 'bundle') => {
    const child = await startChild({ DATABASE_URL: database.url, ATLASCLOUD_BASE_URL: fake.url, ...env }, { via });
    startedHere.push(child);
    startedInFile.push(child);
    return child;
  };
  /** Jobs that stay 'processing' upstream until a test rewrites their script. */
  const jobsStayProcessing = () => {
    fake.newJob = (n) => ({ id: `job_${n}`, script: [wrapped({ id: `job_${n}`, status: 'processing' })] });
  };

  beforeEach(async () => {
    startedHere = [];
    fake = await FakeAtlas.start();
    database = await createServerDatabase();
    sql = postgres(database.url, { max: 1, onnotice: () => {} });
  });

  afterEach(async () => {
    await Promise.all(children.map((child) => child.kill9()));
    await sql.end({ timeout: 1 });
    await database.drop();
    await fake.close();
    // Secrets: whatever happened in the test, no child ever printed the API key.
    for (const child of startedHere) expect(child.output()).not.toContain(TEST_KEY);
  });

  afterAll(async () => {
    await Promise.all(children.map((child) => child.kill9()));
  });

  it('resumes a job after kill -9 and a restart on the same database, without resubmitting it', async () => {
    jobsStayProcessing();
    // A slow poll on the first child leaves a wide gap between polls to kill it in (see below).
    const first = await start({ POLL_INTERVAL_MS: '1000' });

    const created = await gql(first, GENERATE, { prompt: 'a horse crossing a river at dawn' });
    expect(created.errors).toBeUndefined();
    const { id, status, upstreamId } = created.data.generateVideo.prediction;
    expect(status).toBe('PROCESSING');
    expect(upstreamId).toBe('job_1');

    // Kill it mid-job, but not while it holds the row's poll lease (a kill then leaves a lease that
    // outlasts this test): after a status call came back 'processing', when the row is next due
    // well in the future, i.e. it is between polls.
    await eventually(
      async () => {
        const [row] = await rows();
        return { calls: fake.statusCalls('job_1').length, inFlight: fake.inFlight.get('job_1') ?? 0, row };
      },
      ({ calls, inFlight, row }) => {
        const dueIn = row!.next_poll_at ? row!.next_poll_at.getTime() - Date.now() : -1;
        return calls >= 1 && inFlight === 0 && row!.upstream_status === 'processing' && dueIn > 300 && dueIn < 1_500;
      },
      10_000,
    );
    expect(await first.kill9()).toEqual({ code: null, signal: 'SIGKILL' });
    const [left] = await rows();
    expect(left!.status).toBe('PROCESSING');
    expect(left!.next_poll_at!.getTime()).toBeLessThan(Date.now() + 2_000); // no lease left behind

    const statusCallsBefore = fake.statusCalls('job_1').length;
    fake.statusScripts.set('job_1', [
      wrapped({
        id: 'job_1',
        status: 'completed',
        outputs: ['https://cdn.example/job_1.mp4'],
        metrics: { predict_time: 4.2 },
      }),
    ]);

    const second = await start();
    const done = await eventually(
      () => gql(second, PREDICTION, { id }),
      (reply) => reply.data?.prediction?.status === 'SUCCEEDED',
      10_000,
    );
    expect(done.data.prediction).toMatchObject({ id, status: 'SUCCEEDED', videoUrl: 'https://cdn.example/job_1.mp4' });
    expect(fake.statusCalls('job_1').length).toBeGreaterThan(statusCallsBefore); // the new process polled it
    expect(fake.creates).toHaveLength(1); // never resubmitted
  });

  it('ends a job whose create call was cut off by kill -9 as SUBMISSION_UNKNOWN, never resubmitting it', async () => {
    fake.createReplies.push({ hang: true });
    // The first child's own create timeout must not fire before the kill: that would fail the row
    // itself, and the restart would have nothing left to decide.
    const first = await start({ UPSTREAM_TIMEOUT_MS: '2000' });

    const inFlight = gql(first, GENERATE, { prompt: 'a horse in the snow' }).then(
      (reply) => ({ reply }),
      (error: unknown) => ({ error }),
    );
    await eventually(
      () => fake.creates.length,
      (n) => n === 1,
      10_000,
    );
    const [stored] = await rows();
    expect(stored).toMatchObject({ status: 'STARTING', upstream_id: null });
    expect(await first.kill9()).toEqual({ code: null, signal: 'SIGKILL' });
    expect(await inFlight).toHaveProperty('error'); // the client saw the connection die, not an answer
    const [afterKill] = await rows();
    expect(afterKill).toMatchObject({ status: 'STARTING', upstream_id: null });

    const second = await start({ UPSTREAM_TIMEOUT_MS: '500' });
    const listed = await eventually(
      () => gql(second, LIST),
      (reply) => reply.data?.predictions.edges[0]?.node.status === 'FAILED',
      15_000,
    );
    const edges = listed.data.predictions.edges;
    expect(edges).toHaveLength(1);
    expect(edges[0].node).toMatchObject({ id: stored!.id, status: 'FAILED', errorCode: 'SUBMISSION_UNKNOWN' });
    expect(edges[0].node.error).toMatch(/billed/i);
    expect(fake.creates).toHaveLength(1);
    expect(fake.statusCalls()).toHaveLength(0);
  });

  it('on SIGTERM cuts open SSE subscriptions (so clients reconnect) and exits with code 0 within 5 s', async () => {
    jobsStayProcessing();
    // As `npm start` runs it (scripts/start.js, which imports the bundle in its own process).
    const child = await start({}, 'npm start');
    const created = await gql(child, GENERATE, { prompt: 'a horse under the stars' });
    const { id } = created.data.generateVideo.prediction;

    const response = await fetch(`${child.base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({
        query: 'subscription Watch($id: ID!) { predictionUpdated(id: $id) { status } }',
        variables: { id },
      }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let stream = '';
    while (!stream.includes('"PROCESSING"')) {
      const { done, value } = await reader.read();
      if (done) throw new Error(`stream ended before the first event: ${stream}`);
      stream += decoder.decode(value, { stream: true });
    }

    // Read the rest in the background: it must end by itself once the process shuts down.
    const ended = (async () => {
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return { clean: true as const, at: Date.now() };
          stream += decoder.decode(value, { stream: true });
        }
      } catch (error) {
        return { clean: false as const, at: Date.now(), error: String(error) };
      }
    })();

    const signalledAt = Date.now();
    child.proc.kill('SIGTERM');
    const timeout = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(resolve, ms, value).unref());
    const exit = await Promise.race([child.exited, timeout(5_000, 'still running' as const)]);
    expect(exit).toEqual({ code: 0, signal: null });
    const exitedAfter = Date.now() - signalledAt;
    expect(exitedAfter).toBeLessThan(5_000);

    const end = await Promise.race([ended, timeout(1_000, 'still open' as const)]);
    // The stream ended, but was not completed: a `complete` event would tell clients the
    // subscription is over, when the job is still running and a successor gateway can serve it.
    expect(end).not.toBe('still open');
    expect(stream).not.toContain('event: complete');
    expect(child.output()).toContain('gateway stopped');
  });

  it('keeps a watching client through a SIGTERM and a restart on the same port', async () => {
    jobsStayProcessing();
    const first = await start();
    const created = await gql(first, GENERATE, { prompt: 'a horse across a deploy' });
    const { id } = created.data.generateVideo.prediction;
    const client = createVideoClient({ url: `${first.base}/graphql` });
    const statuses: string[] = [];
    const watching = (async () => {
      for await (const update of client.watchPrediction(id)) statuses.push(update.status);
    })();
    await eventually(
      () => statuses.length,
      (n) => n >= 1,
      10_000,
    );

    first.proc.kill('SIGTERM');
    expect(await first.exited).toEqual({ code: 0, signal: null });
    const second = await start({ PORT: new URL(first.base).port });
    fake.statusScripts.set('job_1', [
      wrapped({ id: 'job_1', status: 'completed', outputs: ['https://cdn.example/deployed.mp4'] }),
    ]);

    // graphql-sse reconnects with backoff, the new gateway sends the current state, then the end.
    await Promise.race([
      watching,
      new Promise((_, reject) => setTimeout(() => reject(new Error('client never finished')), 40_000).unref()),
    ]);
    expect(statuses[0]).toBe('PROCESSING');
    expect(statuses.at(-1)).toBe('SUCCEEDED');
    expect(fake.creates).toHaveLength(1);
    client.dispose();
    await second.kill9();
  }, 60_000);

  it('never prints the API key, even when Atlas echoes it back in errors', async () => {
    const child = await start();
    // A refused create whose message carries the key, then a job whose status calls do the same.
    fake.createReplies.push(httpError(401, `invalid api key ${TEST_KEY}`));
    fake.newJob = (n) => ({
      id: `job_${n}`,
      script: [
        httpError(400, `bad request for key ${TEST_KEY}`),
        wrapped({ id: `job_${n}`, status: 'failed', error: `quota exceeded for ${TEST_KEY}` }),
      ],
    });

    const refused = await gql(child, GENERATE, { prompt: 'a horse in the rain' });
    expect(refused.errors?.length).toBeGreaterThan(0);
    expect(JSON.stringify(refused)).not.toContain(TEST_KEY);
    expect(JSON.stringify(refused)).toContain('[redacted]'); // the echo arrived, and was scrubbed

    const created = await gql(child, GENERATE, { prompt: 'a horse in the fog' });
    expect(created.errors).toBeUndefined();
    const { id } = created.data.generateVideo.prediction;
    const failed = await eventually(
      () => gql(child, PREDICTION, { id }),
      (reply) => reply.data?.prediction?.status === 'FAILED',
      10_000,
    );
    expect(failed.data.prediction.errorCode).toBe('UPSTREAM_FAILED');
    expect(JSON.stringify(failed)).not.toContain(TEST_KEY);
    expect(failed.data.prediction.error).toBe('quota exceeded for [redacted]');
    // The key did reach the upstream (so it was in play), and the child did log those failures.
    expect(fake.creates[0]!.headers.authorization).toBe(`Bearer ${TEST_KEY}`);
    // Log lines cross a pipe: they may arrive a little after the GraphQL answer.
    await eventually(
      () => child.output(),
      (out) => ['atlas call refused', 'status call failed', 'prediction finished'].every((line) => out.includes(line)),
      5_000,
    );

    // Every child of this file so far, the killed ones included.
    await child.kill9();
    for (const each of startedInFile) {
      expect(each.output().length).toBeGreaterThan(0);
      expect(each.output()).not.toContain(TEST_KEY);
    }
  });
});
