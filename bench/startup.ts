/**
 * `npm run bench` (last part): `npm start` as a newcomer runs it — PGlite in a new DATA_DIR, the
 * built-in simulator, no API key — timed from the command to the first 200 from GET /ready, RUNS
 * times, each on a fresh DATA_DIR. Then the gateway's resident memory (from /proc) once idle, and
 * after a few simulated jobs; and one start after the sources changed (the bundle made first, as
 * scripts/start.js does); and, for comparison on the same machine at the same time, what `npm start`
 * ran before (`node --import tsx src/main.ts`, without the semi-space flag). Prints a table with median
 * and range, and the load average before and after, since a busy machine stretches every figure.
 *
 *   npx tsx bench/startup.ts [--runs N]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { bundleKey } from '../scripts/bundle.js';
import { freePort } from '../test/support/childGateway.ts';
import { ascending, loadAverage, printTableFooter, waitFor } from './support.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 5;
const JOBS = 3;
const MiB = 2 ** 20;

interface Started {
  proc: ChildProcess;
  base: string;
  readyMs: number;
  dataDir: string;
}

/** What `npm start` ran before it ran the bundle: tsx compiling each module at start-up. */
const TSX: [string, string[]] = [process.execPath, ['--import', 'tsx', 'src/main.ts']];

/** `npm start` (or `command`) in its own process group on a fresh DATA_DIR; resolves at the first 200 from /ready. */
async function npmStart([command, args]: [string, string[]] = ['npm', ['start']]): Promise<Started> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hh-bench-start-'));
  const port = await freePort();
  const started = performance.now();
  const proc = spawn(command, args, {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      SIMULATOR_JOB_MS: '500',
      POLL_INTERVAL_MS: '100',
    },
    stdio: 'ignore',
    detached: true,
  });
  const base = `http://127.0.0.1:${port}`;
  await waitFor(
    '/ready',
    async () => {
      if (proc.exitCode !== null) throw new Error(`npm start exited with ${proc.exitCode}`);
      try {
        return (await fetch(`${base}/ready`)).status === 200;
      } catch {
        return false;
      }
    },
    { timeoutMs: 60_000, everyMs: 10 },
  );
  return { proc, base, readyMs: performance.now() - started, dataDir };
}

async function stop({ proc, dataDir }: Started): Promise<void> {
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  // The group: npm, its shell and the gateway.
  process.kill(-proc.pid!, 'SIGTERM');
  await exited;
  // npm may exit before the gateway it started: wait until no one in the group is left.
  await waitFor(
    'the process group to exit',
    () => {
      try {
        process.kill(-proc.pid!, 0);
        return false;
      } catch {
        return true;
      }
    },
    { timeoutMs: 15_000, everyMs: 20 },
  );
  rmSync(dataDir, { recursive: true, force: true });
}

/** Resident memory of the Node process that runs the gateway (npm's child's child), in MiB. */
function gatewayRss(group: number): number {
  let largest = 0;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Field 5 (after the parenthesised name) is the process group.
      const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      if (pgrp !== group) continue;
      if (!/scripts\/start\.js|src\/main\.ts/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'))) continue;
      const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (rss) largest = Math.max(largest, (Number(rss[1]) * 1024) / MiB);
    } catch {
      // gone meanwhile
    }
  }
  return largest;
}

/** Resident memory once it stops falling: sampled every 500 ms until two readings agree within 2 MiB (10 s at most). */
async function settledRss(group: number): Promise<number> {
  let last = gatewayRss(group);
  for (let i = 0; i < 20; i++) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const now = gatewayRss(group);
    if (Math.abs(now - last) < 2) return now;
    last = now;
  }
  return last;
}

async function graphql<T>(base: string, query: string, variables: Record<string, unknown>): Promise<T> {
  const response = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: T; errors?: unknown };
  if (!body.data) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

/** `JOBS` simulated jobs, submitted together, each followed to SUCCEEDED. */
async function runJobs(base: string): Promise<void> {
  const ids = await Promise.all(
    Array.from({ length: JOBS }, async (_, n) => {
      const data = await graphql<{ generateVideo: { prediction: { id: string } } }>(
        base,
        'mutation G($input: GenerateVideoInput!) { generateVideo(input: $input) { prediction { id } } }',
        { input: { prompt: `a horse, take ${n}` } },
      );
      return data.generateVideo.prediction.id;
    }),
  );
  await waitFor(
    'the simulated jobs to succeed',
    async () => {
      const states = await Promise.all(
        ids.map((id) =>
          graphql<{ prediction: { status: string } | null }>(
            base,
            'query P($id: ID!) { prediction(id: $id) { status } }',
            {
              id,
            },
          ),
        ),
      );
      return states.every((state) => state.prediction?.status === 'SUCCEEDED');
    },
    { timeoutMs: 30_000, everyMs: 100 },
  );
}

const summary = (values: number[], digits = 0) => {
  const sorted = ascending(values);
  const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
  const fixed = (value: number) => value.toFixed(digits);
  return { median: fixed(median), range: `${fixed(sorted[0]!)}–${fixed(sorted.at(-1)!)}`, n: sorted.length };
};

const loadBefore = loadAverage();
const ready: number[] = [];
const idle: number[] = [];
const afterJobs: number[] = [];
// One start first, so that every timed one finds the bundle made (the rebuild has a row of its own).
await stop(await npmStart());
for (let run = 0; run < RUNS; run++) {
  const gateway = await npmStart();
  try {
    ready.push(gateway.readyMs);
    idle.push(await settledRss(gateway.proc.pid!));
    await runJobs(gateway.base);
    afterJobs.push(await settledRss(gateway.proc.pid!));
  } finally {
    await stop(gateway);
  }
}
// The old way, on the same machine at the same time: the figures to compare with.
const tsxReady: number[] = [];
const tsxIdle: number[] = [];
for (let run = 0; run < Math.min(RUNS, 3); run++) {
  const gateway = await npmStart(TSX);
  try {
    tsxReady.push(gateway.readyMs);
    tsxIdle.push(await settledRss(gateway.proc.pid!));
  } finally {
    await stop(gateway);
  }
}
// The sources changed since the last bundle: removing it has the next start make it, as an edit does.
rmSync(join(ROOT, 'node_modules/.cache', `hh-cache-bundle-${bundleKey()}`), { recursive: true, force: true });
const rebuilt = await npmStart();
await stop(rebuilt);

const rows = [
  { measure: 'npm start → /ready (ms), fresh DATA_DIR', ...summary(ready) },
  { measure: 'gateway RSS idle after start (MiB)', ...summary(idle) },
  { measure: `gateway RSS after ${JOBS} simulated jobs (MiB)`, ...summary(afterJobs) },
  { measure: 'npm start → /ready (ms), sources changed (bundle made first)', ...summary([rebuilt.readyMs]) },
  { measure: 'for comparison: node --import tsx src/main.ts → /ready (ms)', ...summary(tsxReady) },
  { measure: 'for comparison: its RSS idle after start (MiB)', ...summary(tsxIdle) },
];
console.log('\n## npm start: start-up and memory (PGlite, simulator)\n');
console.table(rows);
printTableFooter(loadBefore);
