/**
 * `npm run bench`: the gateway's hot paths on PGlite (in process) and on the Postgres server at
 * 127.0.0.1:5432, with FakeAtlas standing in for Atlas Cloud on loopback. Prints one table.
 *
 * Each backend runs in a child process of its own (this file with `--backend NAME`), so its memory
 * readings start from a fresh process and do not carry what the other backend left behind. The
 * gateway, its database client, the fake and the load generator share that process.
 *
 * Section 5, the poller at scale (bench/scale.ts), runs after them, one child per setup (`--scale
 * SETUP`), and prints a table of its own. `npm run bench -- --only scale` runs just that section,
 * `--only base` just the others.
 */
import { spawn } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config.ts';
import { type Database, openDatabase } from '../src/db/database.ts';
import { createLogger } from '../src/log.ts';
import { createGateway, type Gateway } from '../src/server.ts';
import { FakeAtlas } from '../test/support/fakeAtlas.ts';
import { createServerDatabase, TEST_KEY } from '../test/support/gateway.ts';
import {
  type FanOutResult,
  finishesOnFirstPoll,
  type GenerateResult,
  type HugeRepliesResult,
  measureFanOut,
  measureGenerate,
  measureHugeReplies,
  measurePoller,
  type PollerResult,
} from './measure.ts';
import {
  BURST_MS,
  measureScale,
  SCALE_INTERVAL_MS,
  SCALE_JOBS,
  SCALE_SETUPS,
  type ScaleResult,
  type ScaleSetup,
  STEADY_MS,
} from './scale.ts';
import { type Defer, loadAverage, type MemoryReading, printTableFooter, readMemory, withResources } from './support.ts';

const JOBS = 300;
const CONCURRENCY = 10;
const WARMUP = 20;
const SUBSCRIBERS = 200;
const HUGE_REPLIES = { calls: 8, bytes: 50 * 2 ** 20 };
/**
 * Last resort only: every wait below has its own bound and resources are closed on the way out.
 * A backend's run that passes this drops its Postgres database and exits; the parent kills a child
 * that is still there a little later.
 */
const CHILD_WATCHDOG_MS = 55_000;
/** A scale child runs two phases (steady state, then catch-up), each with workers to start. */
const SCALE_WATCHDOG_MS = 120_000;
/** What the child's watchdog does before it exits: drop the Postgres database, if there is one. */
const onWatchdog: Array<() => Promise<unknown>> = [];
/** The line of a child's stdout that carries its result. */
const RESULT_MARK = 'BENCH_RESULT ';

type Backend = 'pglite' | 'postgres';
const BACKENDS: Backend[] = ['pglite', 'postgres'];

/** Measurement 1 runs on a gateway whose poller stays idle, so only the request path is timed. */
const IDLE_POLLER = { POLL_INTERVAL_MS: '600000' };
/** Measurements 2 and 3 as the brief sets them. */
const BUSY_POLLER = { POLL_INTERVAL_MS: '50', POLL_CONCURRENCY: '16' };

interface BackendResult {
  generate: GenerateResult;
  poller: PollerResult;
  fanOut: FanOutResult;
  /**
   * 4. Memory of the backend's own process, after a full GC: at its start (modules loaded, nothing
   * open), just before the subscribers connect, with all of them open, and after everything closed.
   */
  memory: {
    before: MemoryReading;
    beforeSubscriptions: MemoryReading;
    withSubscriptions: MemoryReading;
    after: MemoryReading;
  };
  /** 5. Last, so its memory does not colour the readings above. */
  hugeReplies: HugeRepliesResult;
}

async function openBackend(backend: Backend, defer: Defer): Promise<Database> {
  if (backend === 'pglite') {
    const database = await openDatabase({ dataDir: 'memory://' });
    defer('PGlite', () => database.close());
    return database;
  }
  const server = await createServerDatabase();
  defer('the Postgres bench database (drop)', () => server.drop());
  onWatchdog.push(() => server.drop());
  const database = await openDatabase({ url: server.url });
  defer('the Postgres connections', () => database.close());
  return database;
}

async function startGateway(
  database: Database,
  fake: FakeAtlas,
  env: Record<string, string>,
  defer: Defer,
): Promise<{ gateway: Gateway; url: string }> {
  const config = loadConfig({
    NODE_ENV: 'test',
    ATLASCLOUD_API_KEY: TEST_KEY,
    ATLASCLOUD_BASE_URL: fake.url,
    LOG_LEVEL: 'silent',
    ...env,
  });
  const gateway = await createGateway(config, createLogger('silent'), { database });
  defer('a gateway', () => gateway.close());
  return { gateway, url: await gateway.listen(0, '127.0.0.1') };
}

async function benchBackend(backend: Backend): Promise<BackendResult> {
  const before = readMemory();
  const measured = await withResources(async (defer) => {
    const fake = await FakeAtlas.start();
    defer('the fake Atlas', () => fake.close());
    const database = await openBackend(backend, defer);

    fake.newJob = finishesOnFirstPoll;
    const generate = await withResources(async (defer) => {
      const { url } = await startGateway(database, fake, IDLE_POLLER, defer);
      return measureGenerate(url, { total: JOBS, concurrency: CONCURRENCY, warmup: WARMUP, timeoutMs: 20_000 });
    });

    return withResources(async (defer) => {
      const { gateway, url } = await startGateway(database, fake, BUSY_POLLER, defer);
      const poller = await measurePoller(database.db, fake, generate.ids, { timeoutMs: 10_000 });
      const fanOut = await measureFanOut(url, gateway.server, fake, { count: SUBSCRIBERS, timeoutMs: 10_000 });
      return { generate, poller, fanOut };
    });
  });
  const { beforeSubscriptions, withSubscriptions } = measured.fanOut;
  const after = readMemory();
  const hugeReplies = await withResources(async (defer) => {
    const fake = await FakeAtlas.start();
    defer('the fake Atlas for huge replies', () => fake.close());
    return measureHugeReplies(fake, HUGE_REPLIES);
  });
  return { ...measured, memory: { before, beforeSubscriptions, withSubscriptions, after }, hugeReplies };
}

const ms = (n: number) => n.toFixed(1);
const mb = (n: number) => n.toFixed(1);

const ROWS: Array<[string, (r: BackendResult) => string]> = [
  [
    `1. generateVideo over HTTP (${JOBS} req, ${CONCURRENCY} at once): req/s`,
    (r) => r.generate.requestsPerSecond.toFixed(0),
  ],
  ['   latency p50 ms', (r) => ms(r.generate.p50Ms)],
  ['   latency p95 ms', (r) => ms(r.generate.p95Ms)],
  ['   latency p99 ms', (r) => ms(r.generate.p99Ms)],
  [`2. poller (${JOBS} jobs, 50 ms interval, 16 at once): s until all SUCCEEDED`, (r) => r.poller.seconds.toFixed(2)],
  ['   jobs/s', (r) => r.poller.jobsPerSecond.toFixed(0)],
  ['   status calls made', (r) => String(r.poller.statusCalls)],
  [
    `3. SSE fan-out (${SUBSCRIBERS} subscribers, one job): completed reply → SUCCEEDED p50 ms`,
    (r) => ms(r.fanOut.p50Ms),
  ],
  ['   p99 ms', (r) => ms(r.fanOut.p99Ms)],
  ['   max ms', (r) => ms(r.fanOut.maxMs)],
  ['   min ms (first subscriber)', (r) => ms(r.fanOut.minMs)],
  ['   gateway sockets open during fan-out', (r) => String(r.fanOut.connections)],
  ['4. RSS MiB (own process): start / before subs / with subs / end', (r) => memoryRow(r, 'rssMb')],
  ['   heapUsed MiB: start / before subs / with subs / end', (r) => memoryRow(r, 'heapUsedMb')],
  ['   heapUsed KiB per open subscription (server + client)', (r) => perSubscriptionKib(r).toFixed(0)],
  [
    `5. ${HUGE_REPLIES.calls} status calls at once, each answered with ${HUGE_REPLIES.bytes / 2 ** 20} MiB: RSS MiB before / peak`,
    (r) => `${mb(r.hugeReplies.rssBeforeMb)} / ${mb(r.hugeReplies.rssPeakMb)}`,
  ],
];

function memoryRow(r: BackendResult, field: keyof MemoryReading): string {
  const { before, beforeSubscriptions, withSubscriptions, after } = r.memory;
  return [before, beforeSubscriptions, withSubscriptions, after].map((m) => mb(m[field])).join(' / ');
}

function perSubscriptionKib(r: BackendResult): number {
  return ((r.memory.withSubscriptions.heapUsedMb - r.memory.beforeSubscriptions.heapUsedMb) * 1024) / SUBSCRIBERS;
}

/** A hand-aligned table: one row per figure, one column per run ("failed" where a run threw). */
function printTable<R>(
  columns: string[],
  results: Array<R | Error | undefined>,
  rows: Array<[string, (r: R) => string]>,
): void {
  const header = ['measurement', ...columns];
  const lines = rows.map(([label, read]) => [
    label,
    ...results.map((result) => (result === undefined || result instanceof Error ? 'failed' : read(result))),
  ]);
  const widths = header.map((_, i) => Math.max(...[header, ...lines].map((line) => line[i]!.length)));
  const format = (line: string[]) =>
    line.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  console.log(format(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const line of lines) console.log(format(line));
}

/** JSON turns NaN (no samples) into null. */
const num = (n: number | null, digits = 0) => (n === null || Number.isNaN(n) ? 'n/a' : n.toFixed(digits));
const pair = (a: number | null, b: number | null, digits = 0) => `${num(a, digits)} / ${num(b, digits)}`;

const SCALE_COLUMNS: Record<ScaleSetup, string> = {
  '1x16': '1 process, 16',
  '2x16': '2 processes, 16',
  '1x64': '1 process, 64',
  '2x64': '2 processes, 64',
};

const SCALE_ROWS: Array<[string, (r: ScaleResult) => string]> = [
  [
    `5. poller at scale on Postgres (gateway processes, POLL_CONCURRENCY): ${SCALE_JOBS} running jobs due over one ${SCALE_INTERVAL_MS} ms interval, ${STEADY_MS / 1000} s: status calls/s`,
    (r) => num(r.steady.callsPerSecond),
  ],
  ['   poll lag (start − due) p50 / p99 ms', (r) => pair(r.steady.lagP50Ms, r.steady.lagP99Ms)],
  ['   poll lag max ms', (r) => num(r.steady.lagMaxMs)],
  ['   interval between two polls of a job p50 / p99 ms', (r) => pair(r.steady.intervalP50Ms, r.steady.intervalP99Ms)],
  [
    `   |interval − ${SCALE_INTERVAL_MS} ms| p50 / p99 %`,
    (r) => pair(r.steady.deviationP50Pct, r.steady.deviationP99Pct, 1),
  ],
  ['   CPU % of each gateway process', (r) => r.steady.cpuPercent.map((p) => p.toFixed(0)).join(' / ')],
  ['   CPU % of the fake Atlas process', (r) => r.steady.fakeCpuPercent.toFixed(0)],
  [
    '   CPU ms per status call: gateway processes / Postgres sessions / Postgres background (shared)',
    (r) =>
      [r.steady.gatewayCpuMsPerCall, r.steady.postgresSessionsCpuMsPerCall, r.steady.postgresBackgroundCpuMsPerCall]
        .map((ms) => ms.toFixed(2))
        .join(' / '),
  ],
  [
    '   meanwhile, Postgres round trip (select 1, every 100 ms) p50 / p99 ms',
    (r) => pair(r.steady.probeP50Ms, r.steady.probeP99Ms, 1),
  ],
  [
    `   catch-up: all ${SCALE_JOBS} due at once: s until each was polled (${BURST_MS / 1000} s at most)`,
    (r) => (r.burst.seconds === null ? `> ${BURST_MS / 1000} (${r.burst.polled} polled)` : r.burst.seconds.toFixed(2)),
  ],
  [
    '   then: poll lag p99 ms of the later polls (a bunch that stays together is late every round)',
    (r) => num(r.burst.laterLagP99Ms),
  ],
];

/** The machine: its load before and after the run is in the footer (printTableFooter). */
function machine(): string {
  const cores = cpus();
  return [
    `machine: node ${process.version}`,
    `${cores.length} × ${cores[0]?.model.trim() ?? 'unknown cpu'}`,
    `${process.platform} ${process.arch}`,
    `${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM`,
  ].join(', ');
}

/** Child: run one measurement and hand the result to the parent on stdout. */
async function child(what: string, watchdogMs: number, measure: () => Promise<unknown>): Promise<void> {
  const watchdog = setTimeout(() => {
    console.error(`bench: ${what} still running after ${watchdogMs / 1000} s; giving up`);
    void Promise.race([Promise.allSettled(onWatchdog.map((run) => run())), sleep(5_000)]).finally(() =>
      process.exit(1),
    );
  }, watchdogMs);
  watchdog.unref();
  try {
    const result = await measure();
    process.stdout.write(`\n${RESULT_MARK}${JSON.stringify(result)}\n`);
  } finally {
    clearTimeout(watchdog);
  }
}

/** Parent: run one child (this file, same node flags, so tsx loads it too). */
function runChild<R>(args: string[], killAfterMs: number): Promise<R> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    proc.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    const killer = setTimeout(() => proc.kill('SIGKILL'), killAfterMs);
    proc.on('error', (error) => {
      clearTimeout(killer);
      reject(error);
    });
    proc.on('close', (code, signal) => {
      clearTimeout(killer);
      const line = stdout.split('\n').find((l) => l.startsWith(RESULT_MARK));
      if (code === 0 && line) resolve(JSON.parse(line.slice(RESULT_MARK.length)) as R);
      else reject(new Error(`the ${args.join(' ')} run exited with ${signal ?? `code ${code}`} and no result`));
    });
  });
}

async function settle<R>(what: string, run: () => Promise<R>): Promise<R | Error> {
  console.error(`bench: ${what}…`);
  const started = performance.now();
  try {
    return await run();
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  } finally {
    console.error(`bench: ${what} took ${((performance.now() - started) / 1000).toFixed(0)} s`);
  }
}

async function parent(only: string | undefined): Promise<void> {
  const loadBefore = loadAverage();
  const failures: Array<[string, Error]> = [];
  const base: Array<BackendResult | Error> = [];
  const scale: Array<ScaleResult | Error> = [];
  if (only !== 'scale') {
    for (const backend of BACKENDS) {
      base.push(
        await settle(backend, () => runChild<BackendResult>(['--backend', backend], CHILD_WATCHDOG_MS + 10_000)),
      );
    }
  }
  if (only !== 'base') {
    for (const setup of SCALE_SETUPS) {
      scale.push(
        await settle(`poller at scale, ${SCALE_COLUMNS[setup]}`, () =>
          runChild<ScaleResult>(['--scale', setup], SCALE_WATCHDOG_MS + 10_000),
        ),
      );
    }
  }

  console.log(machine());
  if (base.length) {
    printTable(BACKENDS, base, ROWS);
    BACKENDS.forEach((backend, i) => {
      if (base[i] instanceof Error) failures.push([backend, base[i]]);
    });
  }
  if (scale.length) {
    if (base.length) console.log('');
    printTable(
      SCALE_SETUPS.map((setup) => SCALE_COLUMNS[setup]),
      scale,
      SCALE_ROWS,
    );
    SCALE_SETUPS.forEach((setup, i) => {
      if (scale[i] instanceof Error) failures.push([SCALE_COLUMNS[setup], scale[i]]);
    });
  }
  printTableFooter(loadBefore);
  for (const [what, error] of failures) {
    console.error(`\n${what} failed: ${error.message}`);
    process.exitCode = 1;
  }
}

process.env.NODE_ENV = 'test';
const [flag, name] = process.argv.slice(2);
if (flag === '--backend') {
  if (!BACKENDS.includes(name as Backend)) throw new Error(`unknown backend ${name}; one of ${BACKENDS.join(', ')}`);
  await child(name!, CHILD_WATCHDOG_MS, () => benchBackend(name as Backend));
} else if (flag === '--scale') {
  if (!SCALE_SETUPS.includes(name as ScaleSetup))
    throw new Error(`unknown setup ${name}; one of ${SCALE_SETUPS.join(', ')}`);
  await child(name!, SCALE_WATCHDOG_MS, () => measureScale(name as ScaleSetup, (cleanUp) => onWatchdog.push(cleanUp)));
} else if (flag === '--only') {
  if (name !== 'scale' && name !== 'base') throw new Error('--only scale or --only base');
  await parent(name);
} else {
  await parent(undefined);
}
