/**
 * One gateway's poller for bench section 5. `pollFor` runs it, wired as createGateway wires it,
 * against a database and a fake Atlas until a given moment, and returns every status call it started.
 *
 * Run as a script (`pollWorker.ts '{"databaseUrl":…,"atlasUrl":…,"env":{…}}'`), it is one gateway
 * process of a multi-process run: it opens the database, prints READY, and for each `GO {"stopAt":…}`
 * on stdin polls until then and prints its result as one line after RESULT_MARK.
 */

import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { AtlasClient } from '../src/atlas/client.ts';
import { loadConfig } from '../src/config.ts';
import { type Database, openDatabase } from '../src/db/database.ts';
import { createLogger } from '../src/log.ts';
import { type ClaimTaken, startPoller } from '../src/predictions/poller.ts';
import { TEST_KEY } from '../test/support/gateway.ts';

export const RESULT_MARK = 'BENCH_RESULT ';
export const READY = 'READY';

/** One status call: prediction id, when it was due, when it started (epoch ms, one clock on one machine). */
export type Poll = [id: string, dueAt: number, startedAt: number];

export interface PollerRun {
  polls: Poll[];
  /** CPU time of this whole process while the poller ran, as a share of one core, and in ms. */
  cpuPercent: number;
  cpuMs: number;
  /** How long stop() took: in-flight calls aborted, leases handed back. */
  stopMs: number;
}

export interface WorkerArgs {
  databaseUrl: string;
  atlasUrl: string;
  /** Gateway settings, as in the environment (POLL_INTERVAL_MS …). */
  env: Record<string, string>;
}

export async function pollFor(
  database: Database,
  { atlasUrl, env, stopAt }: { atlasUrl: string; env: Record<string, string>; stopAt: number },
): Promise<PollerRun> {
  const config = loadConfig({ NODE_ENV: 'test', ATLASCLOUD_API_KEY: TEST_KEY, ATLASCLOUD_BASE_URL: atlasUrl, ...env });
  // Warnings and errors still show: a run that hides its failures measures nothing.
  const log = createLogger('warn', (line) => process.stderr.write(`${line}\n`));
  const atlas = new AtlasClient({
    baseUrl: atlasUrl,
    apiKey: TEST_KEY,
    timeoutMs: config.upstreamTimeoutMs,
    retries: config.upstreamRetries,
    log,
  });
  const polls: Poll[] = [];
  const claims: ClaimTaken[] = [];
  const callMs: number[] = [];
  const runQueueBefore = runQueueWaitMs();
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const cpuBefore = process.cpuUsage();
  const wallBefore = performance.now();
  const timedAtlas: Pick<AtlasClient, 'getPrediction'> = {
    async getPrediction(id, signal) {
      const started = performance.now();
      try {
        return await atlas.getPrediction(id, signal);
      } finally {
        callMs.push(performance.now() - started);
      }
    },
  };
  const poller = startPoller({
    db: database.db,
    atlas: timedAtlas,
    log,
    pollIntervalMs: config.pollIntervalMs,
    concurrency: config.pollConcurrency,
    predictionTimeoutMs: config.predictionTimeoutMs,
    leaseMs: atlas.maxStatusCallMs + 5_000,
    onPoll: (poll) => polls.push([poll.predictionId, poll.dueAt.getTime(), poll.startedAt.getTime()]),
    onClaim: (claim) => claims.push(claim),
  });
  await sleep(Math.max(0, stopAt - Date.now()));
  const cpu = process.cpuUsage(cpuBefore);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const cpuPercent = (cpuMs / (performance.now() - wallBefore)) * 100;
  loop.disable();
  if (process.env.BENCH_TRACE) {
    const wallMs = performance.now() - wallBefore;
    const lags = polls.map(([, dueAt, startedAt]) => startedAt - dueAt).sort((a, b) => a - b);
    const sizes = claims.map((c) => c.claimed).sort((a, b) => a - b);
    const claimMs = claims.map((c) => c.ms).sort((a, b) => a - b);
    const at = (list: number[], p: number) => list[Math.min(list.length - 1, Math.floor((p / 100) * list.length))] ?? 0;
    console.error(
      [
        `bench: worker ${process.pid}: ${polls.length} calls, CPU ${cpuPercent.toFixed(0)} %`,
        // Time this process's main thread was runnable but waited for a core (Linux schedstat).
        `run-queue wait ${(((runQueueWaitMs() - runQueueBefore) / wallMs) * 100).toFixed(0)} % of wall`,
        `event loop delay p50 ${(loop.percentile(50) / 1e6).toFixed(1)} ms, p99 ${(loop.percentile(99) / 1e6).toFixed(1)} ms, max ${(loop.max / 1e6).toFixed(1)} ms`,
        `status call ms p50 ${at(
          callMs.sort((a, b) => a - b),
          50,
        ).toFixed(0)} p99 ${at(callMs, 99).toFixed(0)}`,
        `lag p50 ${at(lags, 50)} p99 ${at(lags, 99)}`,
        `${claims.length} claims (${claims.filter((c) => c.claimed === 0).length} empty, ${claims.filter((c) => c.claimed === c.asked).length} full, ${claims.reduce((n, c) => n + c.overdue, 0)} rows overdue when claimed): rows p50 ${at(sizes, 50)} max ${at(sizes, 100)}, ms p50 ${at(claimMs, 50)} p99 ${at(claimMs, 99)}`,
      ].join('; '),
    );
  }
  const stopping = performance.now();
  await poller.stop();
  return { polls, cpuPercent, cpuMs, stopMs: performance.now() - stopping };
}

/** How long this process's main thread has waited on a run queue, in ms (0 where /proc has no schedstat). */
function runQueueWaitMs(): number {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[1]) / 1e6;
  } catch {
    return 0;
  }
}

/** Each `GO {"stopAt":…}` line on stdin is one run, answered with one result line; stdin closing ends the process. */
async function worker(args: WorkerArgs): Promise<void> {
  const database = await openDatabase({ url: args.databaseUrl });
  const input = createInterface({ input: process.stdin });
  try {
    process.stdout.write(`${READY}\n`);
    for await (const line of input) {
      if (!line.startsWith('GO ')) throw new Error(`poll worker: expected GO, got ${JSON.stringify(line)}`);
      const { stopAt } = JSON.parse(line.slice(3)) as { stopAt: number };
      const run = await pollFor(database, { atlasUrl: args.atlasUrl, env: args.env, stopAt });
      process.stdout.write(`${RESULT_MARK}${JSON.stringify(run)}\n`);
    }
  } finally {
    input.close();
    await database.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.env.NODE_ENV = 'test';
  await worker(JSON.parse(process.argv[2] ?? '{}') as WorkerArgs);
}
