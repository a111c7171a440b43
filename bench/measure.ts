import type { Server } from 'node:http';
import { performance } from 'node:perf_hooks';
import { and, count, eq, inArray } from 'drizzle-orm';
import type { ExecutionResult } from 'graphql';
import { type Client, createClient } from 'graphql-sse';
import { AtlasClient } from '../src/atlas/client.ts';
import type { Db } from '../src/db/database.ts';
import { predictions } from '../src/db/schema.ts';
import { createLogger } from '../src/log.ts';
import { type FakeAtlas, type FakeReply, wrapped } from '../test/support/fakeAtlas.ts';
import { TEST_KEY } from '../test/support/gateway.ts';
import { ascending, type MemoryReading, percentile, readMemory, waitFor } from './support.ts';

const GENERATE = `mutation Generate($input: GenerateVideoInput!) {
  generateVideo(input: $input) { prediction { id status upstreamId } }
}`;
const WATCH = `subscription Watch($id: ID!) { predictionUpdated(id: $id) { id status } }`;

const processing = (id: string) => wrapped({ id, status: 'processing' });
const completed = (id: string) => wrapped({ id, status: 'completed', outputs: [`https://cdn.example/${id}.mp4`] });

/** Upstream jobs that are done the first time anyone asks. */
export const finishesOnFirstPoll = (n: number) => ({ id: `bench_${n}`, script: [completed(`bench_${n}`)] });
/** Upstream jobs that keep running until the script is swapped. */
const runsUntilTold = (n: number) => ({ id: `fanout_${n}`, script: [processing(`fanout_${n}`)] });

interface Submitted {
  id: string;
  status: string;
  upstreamId: string | null;
}

/** One generateVideo mutation, a real HTTP request to the gateway's /graphql. */
async function generate(url: string, prompt: string): Promise<Submitted & { upstreamId: string }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body: JSON.stringify({ query: GENERATE, variables: { input: { prompt } } }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await response.json()) as ExecutionResult<{ generateVideo: { prediction: Submitted } }>;
  const prediction = body.data?.generateVideo.prediction;
  if (!response.ok || body.errors?.length || prediction?.status !== 'PROCESSING' || !prediction.upstreamId) {
    throw new Error(`generateVideo failed: HTTP ${response.status} ${JSON.stringify(body).slice(0, 500)}`);
  }
  return { ...prediction, upstreamId: prediction.upstreamId };
}

export interface GenerateResult {
  ids: string[];
  requestsPerSecond: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
}

/**
 * 1. generateVideo throughput and latency: `total` mutations over HTTP, `concurrency` in flight at a
 * time, each one INSERT + NOTIFY, a create call to the fake (answered at once), UPDATE + NOTIFY.
 * Latency is per request, client side (fetch start to parsed body); a few warm-up requests first.
 */
export async function measureGenerate(
  url: string,
  { total, concurrency, warmup, timeoutMs }: { total: number; concurrency: number; warmup: number; timeoutMs: number },
): Promise<GenerateResult> {
  const deadline = performance.now() + timeoutMs;
  const inTime = () => {
    if (performance.now() > deadline) throw new Error(`generateVideo measurement took over ${timeoutMs} ms`);
  };
  for (let i = 0; i < warmup; i++) {
    inTime();
    await generate(url, `warm-up ${i}`);
  }

  const latencies: number[] = [];
  const ids: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < total) {
      inTime();
      const n = next++;
      const started = performance.now();
      const { id } = await generate(url, `bench video ${n}`);
      latencies.push(performance.now() - started);
      ids.push(id);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;

  const sorted = ascending(latencies);
  return {
    ids,
    requestsPerSecond: total / seconds,
    p50Ms: percentile(sorted, 50),
    p95Ms: percentile(sorted, 95),
    p99Ms: percentile(sorted, 99),
  };
}

export interface PollerResult {
  seconds: number;
  jobsPerSecond: number;
  statusCalls: number;
}

async function countSucceeded(db: Db, ids: string[]): Promise<number> {
  const [row] = await db
    .select({ n: count() })
    .from(predictions)
    .where(and(inArray(predictions.id, ids), eq(predictions.status, 'SUCCEEDED')));
  return row?.n ?? 0;
}

/**
 * 2. Poller throughput: the jobs from measurement 1 (unfinished, upstream says "completed" on the
 * first status call) are all made due at once; the clock runs until the database shows every one
 * SUCCEEDED (checked every 10 ms). Covers claim (FOR UPDATE SKIP LOCKED), status call, UPDATE + NOTIFY.
 */
export async function measurePoller(
  db: Db,
  fake: FakeAtlas,
  ids: string[],
  { timeoutMs }: { timeoutMs: number },
): Promise<PollerResult> {
  const callsBefore = fake.statusCalls().length;
  const started = performance.now();
  await db.update(predictions).set({ nextPollAt: new Date() }).where(inArray(predictions.id, ids));
  await waitFor(`${ids.length} jobs to be SUCCEEDED`, async () => (await countSucceeded(db, ids)) === ids.length, {
    timeoutMs,
    everyMs: 10,
  });
  const seconds = (performance.now() - started) / 1000;
  return { seconds, jobsPerSecond: ids.length / seconds, statusCalls: fake.statusCalls().length - callsBefore };
}

/** What one SSE subscriber has seen, with the times (performance.now) of the events that matter. */
interface Subscriber {
  processingAt?: number;
  succeededAt?: number;
  completed: boolean;
  error?: unknown;
}

function subscribe(client: Client, id: string): Subscriber {
  const seen: Subscriber = { completed: false };
  client.subscribe<{ predictionUpdated: { status: string } }>(
    { query: WATCH, variables: { id } },
    {
      next(result) {
        const status = result.data?.predictionUpdated.status;
        if (result.errors?.length) seen.error = result.errors;
        else if (status === 'PROCESSING') seen.processingAt ??= performance.now();
        else if (status === 'SUCCEEDED') seen.succeededAt ??= performance.now();
      },
      error: (error) => (seen.error = error),
      complete: () => (seen.completed = true),
    },
  );
  return seen;
}

function failures(subscribers: Subscriber[]): string {
  const failed = subscribers.filter((s) => s.error !== undefined);
  return failed.length ? `; ${failed.length} subscribers failed, first: ${JSON.stringify(failed[0]!.error)}` : '';
}

/**
 * A reply that notes the moment the fake sends it: FakeAtlas spreads `headers` into writeHead right
 * before it ends the response, so the getter runs as the completed reply goes out.
 */
function timed(reply: FakeReply & { json?: unknown }, onServed: (at: number) => void): FakeReply {
  return {
    ...reply,
    get headers() {
      onServed(performance.now());
      return {};
    },
  };
}

export interface FanOutResult {
  minMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Sockets open on the gateway while the subscriptions ran: one per subscriber, plus any keep-alive. */
  connections: number;
  /** Memory just before the clients connect, and once every subscriber has its first event. */
  beforeSubscriptions: MemoryReading;
  withSubscriptions: MemoryReading;
}

/**
 * 3. SSE fan-out: `count` graphql-sse clients (each subscription its own HTTP connection) watch one
 * running job. Once all have its PROCESSING state, the fake's script turns to "completed"; for each
 * subscriber, the time from that reply leaving the fake to the SUCCEEDED event arriving at the client
 * (next poll's parse, UPDATE + NOTIFY, LISTEN, one re-read, fan-out, SSE write, client parse).
 * Clients run in this same process, so their parsing is part of the time.
 */
export async function measureFanOut(
  url: string,
  server: Server,
  fake: FakeAtlas,
  { count, timeoutMs }: { count: number; timeoutMs: number },
): Promise<FanOutResult> {
  fake.newJob = runsUntilTold;
  const job = await generate(url, 'fan-out');
  const beforeSubscriptions = readMemory();
  const clients = Array.from({ length: count }, () => createClient({ url, singleConnection: false, retryAttempts: 0 }));
  try {
    const subscribers = clients.map((client) => subscribe(client, job.id));
    await waitFor(
      `${count} subscribers to see PROCESSING`,
      () => {
        if (subscribers.some((s) => s.error !== undefined))
          throw new Error(`subscribing failed${failures(subscribers)}`);
        return subscribers.every((s) => s.processingAt !== undefined);
      },
      { timeoutMs },
    );
    const withSubscriptions = readMemory();
    const connections = await new Promise<number>((resolve, reject) =>
      server.getConnections((e, n) => (e ? reject(e) : resolve(n))),
    );

    let servedAt: number | undefined;
    fake.statusScripts.set(job.upstreamId, [timed(completed(job.upstreamId), (at) => (servedAt ??= at))]);
    await waitFor(
      `${count} subscribers to see SUCCEEDED`,
      () => subscribers.every((s) => s.succeededAt !== undefined || s.error !== undefined),
      {
        timeoutMs,
      },
    );
    if (servedAt === undefined || subscribers.some((s) => s.succeededAt === undefined)) {
      throw new Error(`fan-out incomplete${failures(subscribers)}`);
    }

    const delays = ascending(subscribers.map((s) => s.succeededAt! - servedAt!));
    return {
      minMs: delays[0]!,
      p50Ms: percentile(delays, 50),
      p99Ms: percentile(delays, 99),
      maxMs: delays.at(-1)!,
      connections,
      beforeSubscriptions,
      withSubscriptions,
    };
  } finally {
    for (const client of clients) client.dispose();
  }
}

export interface HugeRepliesResult {
  rssBeforeMb: number;
  rssPeakMb: number;
}

/**
 * 5. `calls` status calls at once, each answered with `bytes` of (valid, whitespace-padded) JSON: the
 * process' RSS before, and its peak while they run, sampled every 5 ms. The client reads at most
 * MAX_REPLY_BYTES of each; without that cap it reads them all.
 */
export async function measureHugeReplies(
  fake: FakeAtlas,
  { calls, bytes }: { calls: number; bytes: number },
): Promise<HugeRepliesResult> {
  const client = new AtlasClient({
    baseUrl: fake.url,
    apiKey: TEST_KEY,
    timeoutMs: 60_000,
    retries: 0,
    log: createLogger('silent'),
  });
  const ids = Array.from({ length: calls }, (_, i) => `huge_${i}`);
  for (const id of ids) fake.statusScripts.set(id, [{ json: { data: { id, status: 'processing' } }, padBytes: bytes }]);
  const rssBeforeMb = readMemory().rssMb;
  let peak = process.memoryUsage().rss;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
  await Promise.allSettled(ids.map((id) => client.getPrediction(id)));
  clearInterval(sampler);
  return { rssBeforeMb, rssPeakMb: Math.max(peak, process.memoryUsage().rss) / 2 ** 20 };
}
