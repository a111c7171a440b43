import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { cachedFolder, contentHash } from '../scripts/contentCache.js';
import { BUILD_INPUTS } from '../test/support/buildInputs.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The 1, 5 and 15 minute load averages, e.g. "1.52 1.20 0.98": other work on the box stretches every figure. */
export function loadAverage(): string {
  return loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');
}

/**
 * The line every bench prints under its table: the load averages taken before the run (`before`,
 * from loadAverage()) and now, and when, so a figure can be read against how busy the machine was.
 */
export function printTableFooter(before: string, extra: readonly string[] = []): void {
  const lines = [
    `load average (1, 5, 15 min) before: ${before}; after: ${loadAverage()}`,
    `measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, node ${process.version}`,
    ...extra,
  ];
  console.log(`\n${lines.join('\n')}`);
}

/**
 * `npm run build` of the sources as they are now, made once per content (scripts/contentCache.js):
 * the path of its main.js, as `npm run start:prod` runs it. Kept in node_modules/.cache, where Node
 * finds the packages from it (a build in the system's temp folder would find none).
 */
export async function productionBuild(): Promise<{ main: string; reused: boolean }> {
  const { dir, reused } = await cachedFolder(
    'bench-prod-build',
    contentHash(ROOT, BUILD_INPUTS),
    (dir) =>
      new Promise<void>((resolve, reject) => {
        console.error('bench: npm run build (src/ changed since the last build)…');
        const build = spawn('npm', ['run', 'build', '--', join(dir, 'dist')], { cwd: ROOT, stdio: ['ignore', 2, 2] });
        build.once('error', reject);
        build.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`npm run build exited ${code}`))));
      }),
    join(ROOT, 'node_modules/.cache'),
  );
  return { main: join(dir, 'dist/main.js'), reused };
}

/** Nearest-rank percentile of values sorted ascending; NaN when there are none. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function ascending(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

/** Check a condition every `everyMs` until it holds; throws after `timeoutMs` (every wait in the bench is bounded). */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  { timeoutMs, everyMs = 10 }: { timeoutMs: number; everyMs?: number },
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Reject if `promise` takes longer than `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  const timer = new AbortController();
  try {
    return await Promise.race([
      promise,
      sleep(ms, undefined, { signal: timer.signal }).then(() => {
        throw new Error(`timed out after ${ms} ms: ${what}`);
      }),
    ]);
  } finally {
    timer.abort();
  }
}

export type Defer = (what: string, close: () => Promise<unknown>) => void;

/**
 * Run `body`, then close everything it registered with `defer`, newest first, even when it threw.
 * A close that fails or hangs is reported and skipped, so the others still run.
 */
export async function withResources<T>(body: (defer: Defer) => Promise<T>): Promise<T> {
  const stack: Array<{ what: string; close: () => Promise<unknown> }> = [];
  try {
    return await body((what, close) => stack.push({ what, close }));
  } finally {
    for (const { what, close } of stack.reverse()) {
      try {
        await withTimeout(close(), 15_000, `closing ${what}`);
      } catch (error) {
        console.error(`bench: closing ${what} failed:`, error);
      }
    }
  }
}

// `npm run bench` starts node without --expose-gc; turning the flag on at run time and reading `gc`
// from a fresh context gives the same function, so memory readings are taken after a full collection.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

export interface MemoryReading {
  rssMb: number;
  heapUsedMb: number;
}

/** Process RSS and V8 heap in use, in MiB, after a full garbage collection. */
export function readMemory(): MemoryReading {
  gc();
  const { rss, heapUsed } = process.memoryUsage();
  return { rssMb: rss / 2 ** 20, heapUsedMb: heapUsed / 2 ** 20 };
}

/** The median of `values` (the mean of the middle two for an even count); NaN when there are none. */
export function median(values: readonly number[]): number {
  const sorted = ascending(values);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** BENCH_PROFILE=dir: node flags that write a CPU profile of a measured process there, to find where its time goes. */
export function profileFlags(): string[] {
  return process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
}

/** Node with `args` from the project's root, resolved once its output matches `ready` (30 s at most). */
export function startNode(args: string[], env: Record<string, string>, ready: RegExp): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (ready.test(output)) resolve(child);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${args.at(-1)} exited ${code}:\n${output}`)));
    setTimeout(() => reject(new Error(`${args.at(-1)} not ready in 30 s:\n${output}`)), 30_000).unref();
  });
}

/** Linux's USER_HZ, the unit of /proc's CPU times: 100 on every architecture Node runs on. */
const CLOCK_TICKS_PER_MS = 100 / 1000;

/**
 * What /proc/<pid>/stat says of a process: its parent, its CPU so far (user + system) in ms, and its
 * reaped children's (a Postgres postmaster's holds its ended backends'). Undefined once it is gone, or
 * without Linux's /proc.
 */
export function processStat(pid: number): { parent: number; cpuMs: number; childrenCpuMs: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The fields after the command name, which is in parentheses and may hold spaces: ppid is the 4th of
    // the line, utime, stime, cutime and cstime the 14th to 17th.
    const fields = stat
      .slice(stat.lastIndexOf(')') + 2)
      .split(' ')
      .map(Number);
    return {
      parent: fields[1]!,
      cpuMs: (fields[11]! + fields[12]!) / CLOCK_TICKS_PER_MS,
      childrenCpuMs: (fields[13]! + fields[14]!) / CLOCK_TICKS_PER_MS,
    };
  } catch {
    return undefined;
  }
}

/** A process' command name (/proc/<pid>/comm), '' once it is gone. */
export function processCommand(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}
