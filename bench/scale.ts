/**
 * Bench section 5: the poller at scale. Thousands of running jobs are seeded straight into a fresh
 * database (rows with an upstream id, as generateVideo leaves them), a FakeAtlas answers every status
 * call at once with "processing", and one or more pollers follow them for a bounded time. Every
 * status call they start is recorded with the time it was due, which gives:
 * - poll lag: when a poll started − when it was due;
 * - the interval between two polls of one job, against POLL_INTERVAL_MS;
 * - status calls per second, and each gateway process's CPU.
 *
 * Each poller is a process of its own (bench/pollWorker.ts) on the Postgres server; the fake and
 * the seeding stay in this one. (PGlite is for one gateway in development, not for thousands of jobs.)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { type Database, openDatabase } from '../src/db/database.ts';
import { executedRows } from '../src/db/rows.ts';
import { type NewPredictionRow, predictions } from '../src/db/schema.ts';
import { HAPPYHORSE_TEXT_TO_VIDEO } from '../src/vocabulary.ts';
import { FakeAtlas, wrapped } from '../test/support/fakeAtlas.ts';
import { createServerDatabase } from '../test/support/gateway.ts';
import { type Poll, type PollerRun, READY, RESULT_MARK, type WorkerArgs } from './pollWorker.ts';
import {
  ascending,
  type Defer,
  percentile,
  processCommand,
  processStat,
  withResources,
  withTimeout,
} from './support.ts';

/** Gateway processes on one Postgres database, and POLL_CONCURRENCY: the default, and 64 to show what more calls in flight buy. */
export const SCALE_SETUPS = ['1x16', '2x16', '1x64', '2x64'] as const;
export type ScaleSetup = (typeof SCALE_SETUPS)[number];
const processes = (setup: ScaleSetup) => Number(setup.split('x')[0]);
const concurrency = (setup: ScaleSetup) => setup.split('x')[1]!;

export const SCALE_JOBS = 5_000;
export const SCALE_INTERVAL_MS = 2_000;
/** Steady state: how long the pollers run once the first job is due. */
export const STEADY_MS = 20_000;
/** Catch-up: how long every job has to get its first poll when all are due at once. */
export const BURST_MS = 6_000;
/** Time from scheduling the seeded jobs to the first due time, so every poller is running by then. */
const LEAD_MS = 300;
/** The gateway's defaults but for the interval and POLL_CONCURRENCY; BENCH_POLLER_ENV='{"UPSTREAM_RETRIES":"0"}' tries other settings. */
const gatewayEnv = (setup: ScaleSetup): Record<string, string> => ({
  POLL_INTERVAL_MS: String(SCALE_INTERVAL_MS),
  POLL_CONCURRENCY: concurrency(setup),
  ...(JSON.parse(process.env.BENCH_POLLER_ENV ?? '{}') as Record<string, string>),
});
/** BENCH_TRACE=1: where a run's time goes, on stderr. */
const trace = (what: string) => process.env.BENCH_TRACE && console.error(`bench: ${new Date().toISOString()} ${what}`);

export interface SteadyResult {
  callsPerSecond: number;
  lagP50Ms: number;
  lagP99Ms: number;
  lagMaxMs: number;
  intervalP50Ms: number;
  intervalP99Ms: number;
  /** |interval − POLL_INTERVAL_MS| / POLL_INTERVAL_MS, in %. */
  deviationP50Pct: number;
  deviationP99Pct: number;
  /** Per gateway process. */
  cpuPercent: number[];
  /** The process with the fake Atlas. */
  fakeCpuPercent: number;
  /** CPU ms per status call started: every gateway process together. */
  gatewayCpuMsPerCall: number;
  /**
   * CPU ms per status call started of the Postgres server: the sessions of this run's database, and
   * (shared with anything else on the server, so an upper bound) its background processes besides.
   */
  postgresSessionsCpuMsPerCall: number;
  postgresBackgroundCpuMsPerCall: number;
  /**
   * `select 1` from this process every 100 ms while the pollers ran: how the shared Postgres server
   * (and the machine) answered meanwhile, to read the other figures by.
   */
  probeP50Ms: number;
  probeP99Ms: number;
}

export interface BurstResult {
  /** Until every job had its first poll; null when some had none within BURST_MS. */
  seconds: number | null;
  polled: number;
  /** Of the polls after each job's first: whether the jobs stay bunched (polled late every round) or spread out. */
  laterLagP99Ms: number;
}

export interface ScaleResult {
  steady: SteadyResult;
  burst: BurstResult;
}

/** `onWatchdog`: registers what to do if the run is given up on (drop its Postgres database). */
export async function measureScale(
  setup: ScaleSetup,
  onWatchdog: (cleanUp: () => Promise<unknown>) => void,
): Promise<ScaleResult> {
  return withResources(async (defer) => {
    const fake = await FakeAtlas.start();
    defer('the fake Atlas', () => fake.close());
    fake.record = false;
    const upstreamIds = Array.from({ length: SCALE_JOBS }, (_, n) => `scale_${n}`);
    for (const id of upstreamIds) fake.statusScripts.set(id, [wrapped({ id, status: 'processing' })]);

    const server = await createServerDatabase();
    defer('the Postgres scale database (drop)', () => server.drop());
    onWatchdog(() => server.drop());
    const database = await openDatabase({ url: server.url });
    defer('the Postgres connections', () => database.close());
    const workers = Array.from({ length: processes(setup) }, () =>
      startWorker({ databaseUrl: server.url, atlasUrl: fake.url, env: gatewayEnv(setup) }, defer),
    );
    await withTimeout(Promise.all(workers.map((w) => w.ready)), 30_000, 'poll workers to start');
    trace('workers ready');

    /** Seed the jobs, due from t0 on, spread evenly over `spreadMs` (0: all at t0), and poll them until t0 + runMs. */
    const phase = async (spreadMs: number, runMs: number) => {
      await database.db.delete(predictions);
      await seed(database, upstreamIds);
      const t0 = Date.now() + LEAD_MS;
      await schedule(database, t0, spreadMs / SCALE_JOBS);
      trace('seeded');
      const stopAt = t0 + runMs;
      const cpu = cpuMeter();
      const postgresCpu = await postgresCpuMeter(database);
      const probe = probeDatabase(database, stopAt);
      const runs = await withTimeout(
        Promise.all(workers.map((w) => w.run(stopAt))),
        runMs + 30_000,
        'poll workers to finish',
      );
      trace(`workers done, ${Date.now() - stopAt} ms after stopAt`);
      const fakeCpuPercent = cpu();
      return { t0, runs, fakeCpuPercent, postgresCpuMs: await postgresCpu(), probeMs: ascending(await probe) };
    };
    const steady = await phase(SCALE_INTERVAL_MS, STEADY_MS);
    const burst = await phase(0, BURST_MS);
    // Every call each worker started while its CPU was measured (until stopAt), not only those in the window.
    const calls = steady.runs.reduce((n, run) => n + run.polls.length, 0);
    const gatewayCpuMs = steady.runs.reduce((ms, run) => ms + run.cpuMs, 0);
    return {
      steady: {
        ...steadyResult(steady.runs, steady.t0, STEADY_MS),
        fakeCpuPercent: steady.fakeCpuPercent,
        gatewayCpuMsPerCall: gatewayCpuMs / calls,
        postgresSessionsCpuMsPerCall: steady.postgresCpuMs.sessions / calls,
        postgresBackgroundCpuMsPerCall: steady.postgresCpuMs.background / calls,
        probeP50Ms: percentile(steady.probeMs, 50),
        probeP99Ms: percentile(steady.probeMs, 99),
      },
      burst: burstResult(burst.runs, burst.t0),
    };
  });
}

/** Running jobs as generateVideo leaves them, not yet due (that is `schedule`'s, in one quick statement). */
async function seed(database: Database, upstreamIds: string[]): Promise<void> {
  const now = new Date();
  const rows: NewPredictionRow[] = upstreamIds.map((upstreamId, n) => ({
    id: randomUUID(),
    status: 'PROCESSING',
    prompt: `scale ${n}`,
    model: HAPPYHORSE_TEXT_TO_VIDEO,
    resolution: '720P',
    aspectRatio: '16:9',
    duration: 5,
    upstreamId,
    upstreamStatus: 'processing',
    createdAt: now,
    updatedAt: now,
    nextPollAt: null,
  }));
  for (let i = 0; i < rows.length; i += 1_000) await database.db.insert(predictions).values(rows.slice(i, i + 1_000));
}

/** Job n (upstream id scale_n) is due at t0 + n × stepMs, in whole milliseconds. */
async function schedule(database: Database, t0: number, stepMs: number): Promise<void> {
  await database.db.update(predictions).set({
    nextPollAt: sql`${new Date(t0).toISOString()}::timestamptz + floor(substr(${predictions.upstreamId}, 7)::int * ${stepMs}::float8) * interval '1 millisecond'`,
  });
}

interface Worker {
  ready: Promise<void>;
  /** Poll until `stopAt`; the worker's result for that run. */
  run(stopAt: number): Promise<PollerRun>;
}

/** A gateway poller in a process of its own; killed on the way out if it is still there. */
function startWorker(args: WorkerArgs, defer: Defer): Worker {
  const file = fileURLToPath(new URL('./pollWorker.ts', import.meta.url));
  const proc: ChildProcess = spawn(
    process.execPath,
    [
      ...process.execArgv,
      ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []),
      file,
      JSON.stringify(args),
    ],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  defer('a poll worker', async () => {
    // Closing its stdin ends it (it closes its connections); a worker still there after 5 s is killed.
    const exited = new Promise((resolve) =>
      proc.exitCode === null && proc.signalCode === null ? proc.once('close', resolve) : resolve(null),
    );
    proc.stdin?.end();
    await Promise.race([exited, sleep(5_000)]);
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  const waiting: Array<{ resolve(run: PollerRun): void; reject(error: Error): void }> = [];
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      if (line === READY) resolve();
      else if (line.startsWith(RESULT_MARK))
        waiting.shift()?.resolve(JSON.parse(line.slice(RESULT_MARK.length)) as PollerRun);
    });
    proc.on('error', reject);
    proc.on('close', (code, signal) => {
      const error = new Error(`poll worker exited with ${signal ?? `code ${code}`}`);
      reject(error);
      for (const w of waiting.splice(0)) w.reject(error);
    });
  });
  return {
    ready,
    run: (stopAt) =>
      new Promise((resolve, reject) => {
        waiting.push({ resolve, reject });
        proc.stdin!.write(`GO ${JSON.stringify({ stopAt })}\n`);
      }),
  };
}

function pollsBetween(runs: PollerRun[], from: number, to: number): Poll[] {
  return runs.flatMap((run) => run.polls).filter(([, , startedAt]) => startedAt >= from && startedAt < to);
}

/** Round trips of `select 1` every 100 ms until `until`. */
async function probeDatabase(database: Database, until: number): Promise<number[]> {
  const times: number[] = [];
  while (Date.now() < until) {
    const started = performance.now();
    await database.db.execute(sql`select 1`);
    times.push(performance.now() - started);
    await sleep(100);
  }
  return times;
}

/** CPU ms (user + system) of a process so far; 0 once it is gone. */
const processCpuMs = (pid: number) => processStat(pid)?.cpuMs ?? 0;

/**
 * The Postgres server's CPU from now to the call of the function returned, in ms: `sessions`, the
 * backends serving this database (a session that started meanwhile counts whole); `background`, the
 * server's other processes (WAL writer, checkpointer, autovacuum …), which other databases share.
 * Zeros where the server's processes cannot be read (another machine).
 */
async function postgresCpuMeter(database: Database): Promise<() => Promise<{ sessions: number; background: number }>> {
  const sessionPids = async () =>
    executedRows<{ pid: number }>(
      await database.db.execute(
        sql`select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`,
      ),
    ).map((row) => Number(row.pid));
  const postmaster = readPostmasterPid();
  const serverPids = () =>
    postmaster
      ? readdirSync('/proc')
          .filter((name) => /^\d+$/.test(name))
          .map(Number)
          .filter((pid) => pid === postmaster || parentOf(pid) === postmaster)
      : [];
  const read = async () => {
    const sessions = new Set(await sessionPids());
    const cpu = new Map(serverPids().map((pid) => [pid, processCpuMs(pid)]));
    return { sessions, cpu };
  };
  const before = await read();
  return async () => {
    const after = await read();
    let sessions = 0;
    let background = 0;
    for (const [pid, ms] of after.cpu) {
      const used = ms - (before.cpu.get(pid) ?? 0);
      if (after.sessions.has(pid) || before.sessions.has(pid)) sessions += used;
      else if (!isSessionOfOtherDatabase(pid)) background += used;
    }
    return { sessions, background };
  };
}

/** The postmaster's pid, from the process list: the postgres process whose parent is not postgres. */
function readPostmasterPid(): number {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (processCommand(pid) === 'postgres' && processCommand(parentOf(pid)) !== 'postgres') return pid;
  }
  return 0;
}

const parentOf = (pid: number) => processStat(pid)?.parent ?? 0;

/** A backend serving a client (its title: "postgres: 15/main: user database host(port) state"), not a background process. */
function isSessionOfOtherDatabase(pid: number): boolean {
  try {
    return /\d+\.\d+\.\d+\.\d+\(\d+\)|\[local\]/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return false;
  }
}

/** This process's CPU from now to the call of the function returned, as a share of one core. */
function cpuMeter(): () => number {
  const cpu = process.cpuUsage();
  const wall = performance.now();
  return () => {
    const used = process.cpuUsage(cpu);
    return ((used.user + used.system) / 1000 / (performance.now() - wall)) * 100;
  };
}

function steadyResult(
  runs: PollerRun[],
  t0: number,
  runMs: number,
): Omit<
  SteadyResult,
  | 'fakeCpuPercent'
  | 'probeP50Ms'
  | 'probeP99Ms'
  | 'gatewayCpuMsPerCall'
  | 'postgresSessionsCpuMsPerCall'
  | 'postgresBackgroundCpuMsPerCall'
> {
  const polls = pollsBetween(runs, t0, t0 + runMs);
  const lags = ascending(polls.map(([, dueAt, startedAt]) => startedAt - dueAt));
  // One job may be polled by either process: merge them all before taking its intervals.
  const starts = new Map<string, number[]>();
  for (const [id, , startedAt] of polls) {
    const list = starts.get(id);
    if (list) list.push(startedAt);
    else starts.set(id, [startedAt]);
  }
  const intervals: number[] = [];
  for (const list of starts.values()) {
    list.sort((a, b) => a - b);
    for (let i = 1; i < list.length; i++) intervals.push(list[i]! - list[i - 1]!);
  }
  const sortedIntervals = ascending(intervals);
  const deviations = ascending(intervals.map((ms) => (Math.abs(ms - SCALE_INTERVAL_MS) / SCALE_INTERVAL_MS) * 100));
  return {
    callsPerSecond: polls.length / (runMs / 1000),
    lagP50Ms: percentile(lags, 50),
    lagP99Ms: percentile(lags, 99),
    lagMaxMs: lags.at(-1) ?? Number.NaN,
    intervalP50Ms: percentile(sortedIntervals, 50),
    intervalP99Ms: percentile(sortedIntervals, 99),
    deviationP50Pct: percentile(deviations, 50),
    deviationP99Pct: percentile(deviations, 99),
    cpuPercent: runs.map((run) => run.cpuPercent),
  };
}

function burstResult(runs: PollerRun[], t0: number): BurstResult {
  const polls = pollsBetween(runs, t0, Number.POSITIVE_INFINITY);
  const first = new Map<string, number>();
  for (const [id, , startedAt] of polls) first.set(id, Math.min(startedAt, first.get(id) ?? Number.POSITIVE_INFINITY));
  const last = Math.max(...first.values());
  const laterLags = ascending(
    polls.filter(([id, , startedAt]) => startedAt > first.get(id)!).map(([, dueAt, startedAt]) => startedAt - dueAt),
  );
  return {
    seconds: first.size === SCALE_JOBS ? (last - t0) / 1000 : null,
    polled: first.size,
    laterLagP99Ms: percentile(laterLags, 99),
  };
}
