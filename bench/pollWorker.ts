/**
 * One gateway's poller for bench section 5. `pollFor` runs it, wired as createGateway wires it,
 * against a database and a fake Atlas until a given moment, and returns every status call it started.
 *
 * Run as a script (`pollWorker.ts '{"databaseUrl":…,"atlasUrl":…,"env":{…}}'`), it is one gateway
 * process of a multi-process run: it opens the database, prints READY, and for each `GO {"stopAt":…}`
 * on stdin polls until then and prints its result as one line after RESULT_MARK.
 */

import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { AtlasClient } from '../src/atlas/client.ts';
import { loadConfig } from '../src/config.ts';
import { type Database, openDatabase } from '../src/db/database.ts';
import { createLogger } from '../src/log.ts';
import { startPoller } from '../src/predictions/poller.ts';
import { TEST_KEY } from '../test/support/gateway.ts';

export const RESULT_MARK = 'BENCH_RESULT ';
export const READY = 'READY';

/** One status call: prediction id, when it was due, when it started (epoch ms, one clock on one machine). */
export type Poll = [id: string, dueAt: number, startedAt: number];

export interface PollerRun {
  polls: Poll[];
  /** CPU time of this whole process while the poller ran, as a share of one core. */
  cpuPercent: number;
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
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const cpuBefore = process.cpuUsage();
  const wallBefore = performance.now();
  const poller = startPoller({
    db: database.db,
    atlas,
    log,
    pollIntervalMs: config.pollIntervalMs,
    concurrency: config.pollConcurrency,
    predictionTimeoutMs: config.predictionTimeoutMs,
    leaseMs: atlas.maxStatusCallMs + 5_000,
    onPoll: (poll) => polls.push([poll.predictionId, poll.dueAt.getTime(), poll.startedAt.getTime()]),
  });
  await sleep(Math.max(0, stopAt - Date.now()));
  const cpu = process.cpuUsage(cpuBefore);
  const cpuPercent = ((cpu.user + cpu.system) / 1000 / (performance.now() - wallBefore)) * 100;
  loop.disable();
  if (process.env.BENCH_TRACE)
    console.error(
      `bench: event loop delay p50 ${(loop.percentile(50) / 1e6).toFixed(1)} ms, p99 ${(loop.percentile(99) / 1e6).toFixed(1)} ms, max ${(loop.max / 1e6).toFixed(1)} ms`,
    );
  const stopping = performance.now();
  await poller.stop();
  return { polls, cpuPercent, stopMs: performance.now() - stopping };
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
