/**
 * `npm run bench` (fourth part): start-up, and SSE fan-out at 10,000 subscribers, measured on a real
 * gateway process (`node --import tsx src/main.ts`) for each storage backend.
 *
 * - start-up: spawn to the first 200 from `/ready` (migrations run, database answering, LISTEN up);
 * - the gateway's RSS (from /proc) with one running job, then with SUBSCRIBERS SSE subscriptions to it
 *   open, each on a connection of its own;
 * - the terminal event: from the moment the fake Atlas sends "completed" to each subscriber reading
 *   SUCCEEDED (poll, UPDATE + NOTIFY, LISTEN, one re-read, fan-out, SSE writes), p50 / p99 / max.
 *
 * The subscribers run in a child process of their own, so their memory is not the gateway's and the
 * fake Atlas (here) is not slowed by them. Both children get a raised file-descriptor limit here,
 * so the machine's needs no change. Usage: `tsx bench/fanout.ts [--subscribers N] [--backend pglite|postgres]`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/support/childGateway.ts';
import { FakeAtlas, type FakeReply, wrapped } from '../test/support/fakeAtlas.ts';
import { createServerDatabase, TEST_KEY } from '../test/support/gateway.ts';
import { ascending, loadAverage, percentile, printTableFooter, waitFor } from './support.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SELF = fileURLToPath(import.meta.url);
/** The gateway as `npm start` runs it, by absolute paths, so it can run in a folder of its own. */
const GATEWAY = ['--import', import.meta.resolve('tsx'), join(ROOT, 'src/main.ts')];
const WATCH = 'subscription Watch($id: ID!) { predictionUpdated(id: $id) { id status } }';
/** Connections opened at once by the subscriber process, so the gateway's accept queue is not flooded. */
const OPEN_BATCH = 250;
const FD_LIMIT = 65_536;

/** Epoch milliseconds with sub-millisecond precision, comparable across processes on this machine. */
const now = () => performance.timeOrigin + performance.now();

/** Runs `node …args` with the file-descriptor limit raised (as far as this user may) for that process only. */
function spawnWithFds(
  args: string[],
  env: NodeJS.ProcessEnv,
  stdin: 'pipe' | 'ignore' = 'ignore',
  cwd = ROOT,
): ChildProcess {
  const command = `ulimit -n ${FD_LIMIT} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"`;
  return spawn('sh', ['-c', command, process.execPath, ...args], { cwd, env, stdio: [stdin, 'pipe', 'pipe'] });
}

function rssMib(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Number(line?.match(/(\d+)/)?.[1] ?? Number.NaN) / 1024;
}

async function isReady(base: string): Promise<boolean> {
  try {
    return (await fetch(`${base}/ready`, { signal: AbortSignal.timeout(1_000) })).status === 200;
  } catch {
    return false;
  }
}

async function graphql(base: string, query: string, variables: Record<string, unknown>): Promise<unknown> {
  const response = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  return response.json();
}

interface FanOutRun {
  backend: string;
  startupMs: number;
  /** The same, started again on the database the first start made. */
  restartMs: number;
  rssIdleMib: number;
  rssWithSubscribersMib: number;
  subscribers: number;
  openMs: number;
  firstMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Starts a gateway process; resolves once /ready answers 200, with how long that took. */
async function launch(
  args: string[],
  env: NodeJS.ProcessEnv,
  base: string,
  cwd: string,
): Promise<{ proc: ChildProcess; readyMs: number }> {
  const started = now();
  const proc = spawnWithFds(args, env, 'ignore', cwd);
  let output = '';
  proc.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  proc.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  try {
    await waitFor(
      'the gateway to be ready',
      async () => {
        if (proc.exitCode !== null) throw new Error('the gateway exited');
        return isReady(base);
      },
      { timeoutMs: 60_000, everyMs: 20 },
    );
  } catch (error) {
    await stop(proc);
    throw new Error(`${(error as Error).message}\n${output}`);
  }
  return { proc, readyMs: now() - started };
}

async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null) return;
  proc.kill('SIGTERM');
  await Promise.race([
    new Promise((resolve) => proc.once('exit', resolve)),
    sleep(10_000).then(() => proc.kill('SIGKILL')),
  ]);
}

async function measure(backend: 'pglite' | 'postgres', subscribers: number): Promise<FanOutRun> {
  const fake = await FakeAtlas.start();
  fake.record = false;
  fake.newJob = (n) => ({ id: `fanout_${n}`, script: [wrapped({ id: `fanout_${n}`, status: 'processing' })] });
  const dataDir = mkdtempSync(join(tmpdir(), 'hh-fanout-'));
  const server = backend === 'postgres' ? await createServerDatabase() : undefined;
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = {
    PATH: process.env.PATH ?? '',
    // Not `test`: under NODE_ENV=test Yoga pings every SSE stream every 300 ms instead of 12 s, which
    // at 10,000 streams kept this gateway busy writing pings. It runs in its data folder, so no `.env` applies.
    NODE_ENV: 'development',
    AUTH_MODE: 'none',
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    ...(server ? { DATABASE_URL: server.url } : {}),
    ATLASCLOUD_API_KEY: TEST_KEY,
    ATLASCLOUD_BASE_URL: fake.url,
    POLL_INTERVAL_MS: '500',
    LOG_LEVEL: 'warn',
    // The fake's output link leads nowhere: no copy to wait for (mirroring has its own bench).
    STORAGE_URL: 'none',
  };
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  // The first start on an empty database (PGlite makes its data folder then), the second on the same one.
  const launched = await launch([...profile, ...GATEWAY], env, base, dataDir);
  const { proc: gateway } = launched;
  let clients: ChildProcess | undefined;
  try {
    const startupMs = launched.readyMs;
    // `sh` exec'd node, so the shell's pid is the gateway's.
    const pid = gateway.pid!;

    const reply = (await graphql(
      base,
      'mutation { generateVideo(input: { prompt: "fan-out", duration: 5 }) { prediction { id } } }',
      {},
    )) as {
      data?: { generateVideo: { prediction: { id: string } } };
    };
    const id = reply.data?.generateVideo.prediction.id;
    if (!id) throw new Error(`generateVideo failed: ${JSON.stringify(reply)}`);
    await sleep(1_000);
    const rssIdleMib = rssMib(pid);

    clients = spawnWithFds(
      ['--import', 'tsx', SELF, '--clients', JSON.stringify({ base, id, count: subscribers })],
      { ...process.env },
      'pipe',
    );
    let clientErr = '';
    clients.stderr!.on('data', (chunk: Buffer) => {
      clientErr += chunk.toString();
      if (process.env.BENCH_TRACE) process.stderr.write(chunk);
    });
    const lines = createInterface({ input: clients.stdout! })[Symbol.asyncIterator]();
    const next = async (what: string, timeoutMs: number): Promise<string> => {
      const line = await Promise.race([lines.next(), sleep(timeoutMs).then(() => undefined)]);
      if (!line || line.done) throw new Error(`subscriber process: no ${what} within ${timeoutMs} ms\n${clientErr}`);
      return line.value;
    };
    const opened = JSON.parse(await next('OPEN', 180_000)) as { openMs: number; failed: number; firstError?: string };
    if (opened.failed > 0) throw new Error(`${opened.failed} subscriptions failed: ${opened.firstError}`);
    await sleep(1_000);
    const rssWithSubscribersMib = rssMib(pid);

    let servedAt: number | undefined;
    const completed = wrapped({ id: 'fanout_1', status: 'completed', outputs: ['https://cdn.example/fanout_1.mp4'] });
    const timed: FakeReply = {
      ...completed,
      // FakeAtlas spreads `headers` into writeHead right as the reply goes out.
      get headers() {
        servedAt ??= now();
        return {};
      },
    };
    fake.statusScripts.set('fanout_1', [timed]);
    const done = JSON.parse(await next('DONE', 60_000)) as { arrivals: number[]; missing: number };
    if (servedAt === undefined || done.missing > 0) throw new Error(`${done.missing} subscribers never saw SUCCEEDED`);
    const restart = async () => {
      clients?.kill('SIGKILL');
      clients = undefined;
      await stop(gateway);
      const again = await launch(GATEWAY, env, base, dataDir);
      await stop(again.proc);
      return again.readyMs;
    };
    const delays = ascending(done.arrivals.map((at) => at - servedAt!));
    return {
      backend,
      startupMs,
      restartMs: await restart(),
      rssIdleMib,
      rssWithSubscribersMib,
      subscribers,
      openMs: opened.openMs,
      firstMs: delays[0]!,
      p50Ms: percentile(delays, 50),
      p99Ms: percentile(delays, 99),
      maxMs: delays.at(-1)!,
    };
  } finally {
    clients?.kill('SIGKILL');
    await stop(gateway);
    await fake.close();
    await server?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * The subscriber process: `count` SSE subscriptions, each a POST on its own connection, parsed only
 * as far as finding the status. Prints `{openMs}` once all have their first event, then, once all
 * have SUCCEEDED (or 30 s passed), each one's arrival time.
 */
async function clients({ base, id, count }: { base: string; id: string; count: number }): Promise<void> {
  const body = JSON.stringify({ query: WATCH, variables: { id } });
  const arrivals: Array<number | undefined> = new Array(count);
  let open = 0;
  let failed = 0;
  let firstError: string | undefined;
  const started = now();
  const subscribe = (n: number) =>
    new Promise<void>((resolve) => {
      let first = true;
      const req = request(`${base}/graphql`, {
        method: 'POST',
        agent: false,
        headers: {
          'content-type': 'application/json',
          accept: 'text/event-stream',
          'content-length': Buffer.byteLength(body),
        },
      });
      const fail = (why: string) => {
        failed++;
        firstError ??= why;
        resolve();
      };
      req.on('error', (error) => fail(error.message));
      // A subscription that never gets its first event is reported, not waited on for ever.
      req.setTimeout(60_000, () => {
        if (first) fail('no first event within 60 s');
        req.destroy();
      });
      req.on('response', (res) => {
        if (res.statusCode !== 200) return fail(`HTTP ${res.statusCode}`);
        res.on('data', (chunk: Buffer) => {
          const text = chunk.toString();
          if (first && text.includes('"status"')) {
            first = false;
            open++;
            resolve();
          }
          if (text.includes('SUCCEEDED')) arrivals[n] ??= now();
        });
        res.on('error', () => {});
      });
      req.end(body);
    });
  const progress = setInterval(() => process.stderr.write(`subscribers: ${open} open, ${failed} failed\n`), 10_000);
  for (let n = 0; n < count; n += OPEN_BATCH) {
    await Promise.all(Array.from({ length: Math.min(OPEN_BATCH, count - n) }, (_, k) => subscribe(n + k)));
  }
  clearInterval(progress);
  process.stdout.write(`${JSON.stringify({ openMs: now() - started, open, failed, firstError })}\n`);
  const deadline = now() + 30_000;
  while (arrivals.filter((at) => at !== undefined).length < count && now() < deadline) await sleep(20);
  const seen = arrivals.filter((at): at is number => at !== undefined);
  process.stdout.write(`${JSON.stringify({ arrivals: seen, missing: count - seen.length })}\n`);
  process.exit(0);
}

function table(runs: FanOutRun[]): void {
  const rows: Array<[string, (r: FanOutRun) => string]> = [
    [
      'start-up: spawn to /ready 200, ms: on an empty database / again on it',
      (r) => `${r.startupMs.toFixed(0)} / ${r.restartMs.toFixed(0)}`,
    ],
    ['gateway RSS MiB, one running job', (r) => r.rssIdleMib.toFixed(0)],
    [`gateway RSS MiB, with the subscribers open`, (r) => r.rssWithSubscribersMib.toFixed(0)],
    ['   KiB per subscription', (r) => (((r.rssWithSubscribersMib - r.rssIdleMib) * 1024) / r.subscribers).toFixed(1)],
    ['subscribers, opened in s', (r) => `${r.subscribers}, ${(r.openMs / 1000).toFixed(1)}`],
    [
      'terminal event: "completed" sent → SUCCEEDED read, first / p50 / p99 / max ms',
      (r) => [r.firstMs, r.p50Ms, r.p99Ms, r.maxMs].map((ms) => ms.toFixed(0)).join(' / '),
    ],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  console.log(`${'fan-out and start-up'.padEnd(width)}  ${runs.map((r) => r.backend.padStart(22)).join('  ')}`);
  for (const [label, cell] of rows)
    console.log(`${label.padEnd(width)}  ${runs.map((r) => cell(r).padStart(22)).join('  ')}`);
}

const args = process.argv.slice(2);
if (args[0] === '--clients') {
  await clients(JSON.parse(args[1]!) as { base: string; id: string; count: number });
} else {
  const option = (name: string) => {
    const at = args.indexOf(name);
    return at >= 0 ? args[at + 1] : undefined;
  };
  const subscribers = Number(option('--subscribers') ?? 10_000);
  const backends = option('--backend')
    ? [option('--backend') as 'pglite' | 'postgres']
    : (['pglite', 'postgres'] as const);
  const loadBefore = loadAverage();
  const runs: FanOutRun[] = [];
  for (const backend of backends) runs.push(await measure(backend, subscribers));
  table(runs);
  printTableFooter(loadBefore);
  // Something of the measured runs (a pooled socket or a timer of the subscriber processes' pipes)
  // keeps the loop alive after the table; `npm run bench` runs the next bench only once this one ends.
  process.exit(0);
}
