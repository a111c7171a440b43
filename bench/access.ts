/**
 * `npm run bench` (second part): what authentication and limits cost on the submit and read paths.
 * One gateway at a time on the Postgres server at 127.0.0.1:5432 (each with a fresh database), with
 * FakeAtlas answering at once: anonymous without limits (the baseline), then a JWT caller and an
 * API-key caller, each with every per-caller limit and the gateway-wide budget switched on; JWT cases
 * once as one caller and once as ten (the requests in flight spread over ten subjects), as a caller's
 * submissions must not wait for each other where nothing is counted. Prints one table, with the
 * database transactions each submission costs (pg_stat_database, less the background loops' own rate
 * measured idle just before).
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { SignJWT } from 'jose';
import postgres from 'postgres';
import { createApiKey } from '../src/auth/apiKeys.ts';
import { loadConfig } from '../src/config.ts';
import { openDatabase } from '../src/db/database.ts';
import { createLogger } from '../src/log.ts';
import { createGateway } from '../src/server.ts';
import { FakeAtlas, wrapped } from '../test/support/fakeAtlas.ts';
import { createServerDatabase, TEST_KEY } from '../test/support/gateway.ts';
import { ascending, loadAverage, percentile, printTableFooter } from './support.ts';

const SUBMITS = 1_000;
const READS = 3_000;
const CONCURRENCY = 10;
const SECRET = 'bench-secret-of-at-least-32-characters!';

const GENERATE = `mutation G($input: GenerateVideoInput!) { generateVideo(input: $input) { prediction { id } } }`;
const READ = `query R($id: ID!) { prediction(id: $id) { id status videoUrl prompt createdAt } }`;

interface Timing {
  perSecond: number;
  p50: number;
  p99: number;
}

/** Calls made before measuring, to warm the caches and the JIT (they count as submits for transactions). */
const WARMUP = 20;

/** `total` calls, `CONCURRENCY` at a time; per-call latency client side. */
async function measure(total: number, call: (n: number) => Promise<void>): Promise<Timing> {
  for (let i = 0; i < WARMUP; i++) await call(-1 - i);
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < total) {
        const n = next++;
        const at = performance.now();
        await call(n);
        latencies.push(performance.now() - at);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const sorted = ascending(latencies);
  return { perSecond: total / seconds, p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

/**
 * The transactions committed in the database at `url` (pg_stat_database, every session's) while `run`
 * ran. Sessions report their counts within a second or so of going idle, hence the wait after.
 */
async function committedDuring<T>(
  url: string,
  run: () => Promise<T>,
): Promise<{ result: T; commits: number; seconds: number }> {
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  const commits = async () => {
    await sleep(1_500);
    const [row] = await admin<
      { n: string }[]
    >`select xact_commit::text as n from pg_stat_database where datname = current_database()`;
    return Number(row!.n);
  };
  try {
    const before = await commits();
    const started = performance.now();
    const result = await run();
    const seconds = (performance.now() - started) / 1000;
    // The stats read itself is one transaction per read.
    return { result, commits: (await commits()) - before - 1, seconds };
  } finally {
    await admin.end();
  }
}

async function post(url: string, token: string | undefined, query: string, variables: Record<string, unknown>) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await response.json()) as {
    data?: Record<string, { prediction?: { id: string } } | { id: string } | null>;
    errors?: unknown[];
  };
  if (body.errors?.length) throw new Error(JSON.stringify(body.errors).slice(0, 300));
  return body.data!;
}

const LIMITS = {
  LIMIT_ACTIVE_JOBS: '100000',
  LIMIT_JOBS_PER_MINUTE: '100000',
  LIMIT_DAILY_SPEND_USD: '100000',
  LIMIT_DAILY_SPEND_USD_TOTAL: '100000',
};

/** A JWT for caller number `n`: each its own subject, so its own limits and lock. */
const jwt = (n: number) =>
  new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(`bench-${n}`)
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(SECRET));
const JWT = { AUTH_MODE: 'jwt', AUTH_JWT_SECRET: SECRET };

const CASES: {
  name: string;
  env: Record<string, string>;
  /** Call n is made as caller n % callers (1 unless said). */
  callers?: number;
  token: (db: Awaited<ReturnType<typeof openDatabase>>, caller: number) => Promise<string | undefined>;
}[] = [
  { name: 'AUTH_MODE=none, no limits', env: {}, token: async () => undefined },
  { name: 'jwt (HS256), no limits', env: JWT, token: (_, n) => jwt(n) },
  { name: 'jwt, no limits, 10 callers', env: JWT, callers: CONCURRENCY, token: (_, n) => jwt(n) },
  { name: 'jwt (HS256) + all limits', env: { ...JWT, ...LIMITS }, token: (_, n) => jwt(n) },
  { name: 'jwt + all limits, 10 callers', env: { ...JWT, ...LIMITS }, callers: CONCURRENCY, token: (_, n) => jwt(n) },
  {
    name: 'apikey + all limits',
    env: { AUTH_MODE: 'apikey', ...LIMITS },
    token: async (database) => (await createApiKey(database.db, { name: 'bench' })).key,
  },
];

async function runCase({ name, env, callers = 1, token: makeToken }: (typeof CASES)[number]) {
  const [fake, server] = await Promise.all([FakeAtlas.start(), createServerDatabase()]);
  fake.newJob = (n) => ({ id: `b_${n}`, script: [wrapped({ id: `b_${n}`, status: 'processing' })] });
  const database = await openDatabase({ url: server.url });
  const config = loadConfig({
    NODE_ENV: 'test',
    ATLASCLOUD_API_KEY: TEST_KEY,
    ATLASCLOUD_BASE_URL: fake.url,
    POLL_INTERVAL_MS: '600000',
    ...env,
  });
  const gateway = await createGateway(config, createLogger('silent'), { database });
  try {
    const url = await gateway.listen(0, '127.0.0.1');
    const tokens = await Promise.all(Array.from({ length: callers }, (_, n) => makeToken(database, n)));
    const token = (n: number) => tokens[Math.abs(n) % callers];
    /** Each submitted job, with the call that made it: read back as its own caller. */
    const ids: { id: string; n: number }[] = [];
    // The background loops' own transactions while nothing is submitted, then the submit phase's.
    const idle = await committedDuring(server.url, () => sleep(3_000));
    const submitted = await committedDuring(server.url, () =>
      measure(SUBMITS, async (n) => {
        const data = await post(url, token(n), GENERATE, { input: { prompt: `bench ${n}` } });
        ids.push({ id: (data.generateVideo as { prediction: { id: string } }).prediction.id, n });
      }),
    );
    const submit = submitted.result;
    const transactionsPerSubmit =
      (submitted.commits - (idle.commits / idle.seconds) * submitted.seconds) / (SUBMITS + WARMUP);
    const read = await measure(READS, async (n) => {
      const job = ids[Math.abs(n) % ids.length]!;
      await post(url, token(job.n), READ, { id: job.id });
    });
    return { name, submit, read, transactionsPerSubmit };
  } finally {
    await gateway.close();
    await database.close();
    await Promise.all([fake.close(), server.drop()]);
  }
}

const loadBefore = loadAverage();
const rows: Awaited<ReturnType<typeof runCase>>[] = [];
for (const each of CASES) rows.push(await runCase(each));

const base = rows[0]!;
const fmt = (t: Timing, against: Timing) =>
  `${t.perSecond.toFixed(0).padStart(5)}/s (${((t.perSecond / against.perSecond) * 100).toFixed(0).padStart(3)}%)  p50 ${t.p50.toFixed(1).padStart(5)} ms  p99 ${t.p99.toFixed(1).padStart(6)} ms`;
console.log(
  `\nAuthentication and limits, Postgres server, ${CONCURRENCY} requests in flight (${SUBMITS} submits, ${READS} reads)\n`,
);
console.log(
  `| ${'caller'.padEnd(30)} | ${'generateVideo (submit path)'.padEnd(46)} | ${'transactions per submit'} | ${'prediction(id) (read path)'.padEnd(46)} |`,
);
console.log(`| ${'-'.repeat(30)} | ${'-'.repeat(46)} | ${'-'.repeat(23)} | ${'-'.repeat(46)} |`);
for (const row of rows)
  console.log(
    `| ${row.name.padEnd(30)} | ${fmt(row.submit, base.submit)} | ${row.transactionsPerSubmit.toFixed(2).padStart(23)} | ${fmt(row.read, base.read)} |`,
  );
/** One caller's submit rate over ten callers', for the JWT cases measured both ways. */
const submitRate = (name: string) => rows.find((row) => row.name === name)!.submit.perSecond;
const oneOverTen = (one: string, ten: string) => (submitRate(one) / submitRate(ten)).toFixed(2);
printTableFooter(loadBefore, [
  `one caller / ten callers, submits: no limits ${oneOverTen('jwt (HS256), no limits', 'jwt, no limits, 10 callers')}, all limits ${oneOverTen('jwt (HS256) + all limits', 'jwt + all limits, 10 callers')}`,
]);
process.exit(0);
