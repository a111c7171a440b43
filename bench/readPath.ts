/**
 * `npm run bench` (third part), or alone: `npx tsx bench/readPath.ts [--rounds N] [--seconds S]`. The
 * read path, side by side: the production build of the gateway (`npm run build`, run as
 * `npm run start:prod` runs it: `node dist/main.js`, NODE_ENV=production, AUTH_MODE=none, Postgres
 * server) and a bare `node:http` + postgres.js handler doing the same read, each in a process of its
 * own, loaded from this process over 50 keep-alive connections.
 *
 * Both answer `prediction(id) { id status videoUrl prompt createdAt }` for one anonymous PROCESSING row
 * with identical JSON (checked before measuring): the bare handler reads the columns id, status,
 * outputs (for videoUrl), prompt and created_at of the row with that id and owner `anonymous`. The
 * gateway reads the whole row once and then answers from its per-process row cache
 * (src/predictions/cache.ts), as it does in production; the bare handler asks Postgres every time.
 *
 * The load generator shares the machine's cores with the servers and with whatever else runs there,
 * so one sample says little: the sides alternate over several rounds (bare then gateway, then gateway
 * then bare, …), each sample after its own warm-up, and the table gives each round's gateway/bare
 * ratios and their median and range, with the load average before and after. Each sample also gives
 * the server process' CPU time per request (user + system, from /proc/<pid>/stat over the measured
 * seconds), which the other work on the machine sways far less than requests per second.
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { freePort } from '../test/support/childGateway.ts';
import { createServerDatabase } from '../test/support/gateway.ts';
import {
  ascending,
  loadAverage,
  median,
  percentile,
  printTableFooter,
  processStat,
  productionBuild,
  profileFlags,
  startNode,
} from './support.ts';

const { values: options } = parseArgs({
  options: { rounds: { type: 'string', default: '4' }, seconds: { type: 'string', default: '3' } },
});
const ROUNDS = Number(options.rounds);
const MEASURE_MS = Number(options.seconds) * 1000;
if (!(Number.isInteger(ROUNDS) && ROUNDS >= 1 && MEASURE_MS > 0)) throw new Error('--rounds N (≥ 1) --seconds S (> 0)');
const CONNECTIONS = 50;
const WARMUP_MS = 1_000;
const FIRST_WARMUP_MS = 2_000;
const QUERY = 'query P($id: ID!) { prediction(id: $id) { id status videoUrl prompt createdAt } }';

/** The same read with nothing in between: the ceiling the gateway is measured against. */
const BARE = `
import { createServer } from 'node:http';
import postgres from 'postgres';
const sql = postgres(process.env.DATABASE_URL, { max: 10 });
createServer(async (req, res) => {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const { variables } = JSON.parse(Buffer.concat(chunks).toString());
  const [row] = await sql\`select id, status, outputs, prompt, created_at from predictions where id = \${variables.id} and owner_id = 'anonymous'\`;
  const prediction = row ? { id: row.id, status: row.status, videoUrl: row.outputs[0] ?? null, prompt: row.prompt, createdAt: row.created_at.toISOString() } : null;
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ data: { prediction } }));
}).listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'));
`;

/** One POST on a keep-alive connection; resolves with the status and body. */
function post(url: URL, agent: Agent, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

interface Sample {
  perSecond: number;
  p50: number;
  p99: number;
  /** The server's CPU time (user + system) per measured request, in µs; NaN where /proc is not there. */
  cpuMicros: number;
}

/** CPU time a process has used so far (user + system), in µs; NaN without Linux's /proc. */
const cpuMicrosOf = (pid: number) => (processStat(pid)?.cpuMs ?? Number.NaN) * 1000;

/** One sample of the server `pid`: `CONNECTIONS` callers in a loop for the warm-up, then for `measureMs` measured. */
async function load(pid: number, url: URL, body: string, expected: string, measureMs = MEASURE_MS): Promise<Sample> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const latencies: number[] = [];
  let measuring = false;
  let cpuAtStart = Number.NaN;
  let stopAt = performance.now() + WARMUP_MS + measureMs;
  const warmedUp = setTimeout(() => {
    measuring = true;
    cpuAtStart = cpuMicrosOf(pid);
    stopAt = performance.now() + measureMs;
  }, WARMUP_MS);
  try {
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async () => {
        while (performance.now() < stopAt) {
          const at = performance.now();
          const { status, text } = await post(url, agent, body);
          if (status !== 200 || text !== expected) throw new Error(`bad reply ${status}: ${text.slice(0, 200)}`);
          if (measuring) latencies.push(performance.now() - at);
        }
      }),
    );
  } finally {
    clearTimeout(warmedUp);
    agent.destroy();
  }
  const cpuMicros = (cpuMicrosOf(pid) - cpuAtStart) / latencies.length;
  const sorted = ascending(latencies);
  return {
    perSecond: latencies.length / (measureMs / 1000),
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    cpuMicros,
  };
}

const loadBefore = loadAverage();
const build = await productionBuild();
const server = await createServerDatabase();
const children: ChildProcess[] = [];
try {
  const [gatewayPort, barePort] = await Promise.all([freePort(), freePort()]);
  const gateway = await startNode(
    [...profileFlags(), build.main],
    {
      DATABASE_URL: server.url,
      PORT: String(gatewayPort),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      // What production requires (src/config.ts): a way to authenticate (none: behind a trusted
      // backend, as the bare handler is) and an Atlas key. The key is never used: the row is written
      // below, and the poller has nothing to poll.
      NODE_ENV: 'production',
      AUTH_MODE: 'none',
      ATLASCLOUD_API_KEY: 'bench-key-never-sent',
      POLL_INTERVAL_MS: '600000',
    },
    /GraphQL http/,
  );
  children.push(gateway);
  const bare = await startNode(
    ['--input-type=module', '-e', BARE],
    { DATABASE_URL: server.url, PORT: String(barePort) },
    /listening/,
  );
  children.push(bare);

  // The gateway has migrated the database by now. One anonymous unfinished row that is never due for
  // a poll (next_poll_at null), so it stays as it is while measured.
  const id = randomUUID();
  const sql = postgres(server.url, { max: 1, onnotice: () => {} });
  await sql`insert into predictions (id, status, prompt, model, resolution, duration, next_poll_at)
    values (${id}, 'PROCESSING', 'a read-path horse', 'alibaba/happyhorse-1.0/text-to-video', '720P', 5, null)`;
  await sql.end();

  const body = JSON.stringify({ query: QUERY, variables: { id } });
  const sides = {
    bare: new URL(`http://127.0.0.1:${barePort}/graphql`),
    gateway: new URL(`http://127.0.0.1:${gatewayPort}/graphql`),
  };
  const pids = { bare: bare.pid!, gateway: gateway.pid! };
  // Both must give the same answer, byte for byte: the same fields, so the same work asked of each.
  const answers = await Promise.all(Object.values(sides).map(async (url) => (await post(url, new Agent(), body)).text));
  if (answers[0] !== answers[1] || !answers[0]!.includes(id))
    throw new Error(`the two answers differ:\nbare:    ${answers[0]}\ngateway: ${answers[1]}`);
  const expected = answers[0]!;

  // Each process's first seconds under load compile its hot code (the gateway's far more of it): run
  // both once, unmeasured, so that the first round is not the gateway's warm-up.
  for (const side of ['bare', 'gateway'] as const) await load(pids[side], sides[side], body, expected, FIRST_WARMUP_MS);

  const rounds: Array<{ order: string; bare: Sample; gateway: Sample }> = [];
  for (let round = 0; round < ROUNDS; round++) {
    // Bare first in even rounds, gateway first in odd ones: neither side always gets the quieter moment.
    const order = round % 2 === 0 ? (['bare', 'gateway'] as const) : (['gateway', 'bare'] as const);
    const samples: Partial<Record<'bare' | 'gateway', Sample>> = {};
    for (const side of order) samples[side] = await load(pids[side], sides[side], body, expected);
    rounds.push({ order: order.join(' → '), bare: samples.bare!, gateway: samples.gateway! });
    console.error(`bench: read path round ${round + 1} of ${ROUNDS} done`);
  }

  const fixed = (value: number, digits: number, width: number) => value.toFixed(digits).padStart(width);
  const throughputRatios = rounds.map((r) => r.gateway.perSecond / r.bare.perSecond);
  const p99Ratios = rounds.map((r) => r.gateway.p99 / r.bare.p99);
  console.log(
    `\nRead path: prediction(id) { id status videoUrl prompt createdAt }, production build (node dist/main.js${build.reused ? ', build reused' : ''}) vs bare node:http + postgres.js, Postgres server, ${CONNECTIONS} connections, ${ROUNDS} rounds of ${MEASURE_MS / 1000} s per side after ${WARMUP_MS / 1000} s warm-up (${(WARMUP_MS + FIRST_WARMUP_MS) / 1000} s each before the first round)\n`,
  );
  const cpuRatios = rounds.map((r) => r.gateway.cpuMicros / r.bare.cpuMicros);
  console.log(
    '| round | order | bare req/s | bare p50 / p99 ms | bare CPU µs/req | gateway req/s | gateway p50 / p99 ms | gateway CPU µs/req | req/s ratio | p99 ratio | CPU ratio |',
  );
  console.log('| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  rounds.forEach((r, i) => {
    console.log(
      `| ${i + 1} | ${r.order} | ${fixed(r.bare.perSecond, 0, 6)} | ${fixed(r.bare.p50, 1, 5)} / ${fixed(r.bare.p99, 1, 5)} | ${fixed(r.bare.cpuMicros, 0, 4)} | ${fixed(r.gateway.perSecond, 0, 6)} | ${fixed(r.gateway.p50, 1, 5)} / ${fixed(r.gateway.p99, 1, 5)} | ${fixed(r.gateway.cpuMicros, 0, 4)} | ${fixed(throughputRatios[i]!, 2, 4)} | ${fixed(p99Ratios[i]!, 2, 4)} | ${fixed(cpuRatios[i]!, 2, 4)} |`,
    );
  });
  const range = (values: number[]) => `${Math.min(...values).toFixed(2)}–${Math.max(...values).toFixed(2)}`;
  printTableFooter(loadBefore, [
    `gateway / bare req/s: median ${median(throughputRatios).toFixed(2)}, range ${range(throughputRatios)} (goal ≥ 0.8)`,
    `gateway / bare p99: median ${median(p99Ratios).toFixed(2)}, range ${range(p99Ratios)} (goal ≤ 1.5); gateway p99 median ${median(rounds.map((r) => r.gateway.p99)).toFixed(1)} ms`,
    `CPU µs per request: gateway median ${median(rounds.map((r) => r.gateway.cpuMicros)).toFixed(0)}, bare median ${median(rounds.map((r) => r.bare.cpuMicros)).toFixed(0)}; gateway / bare median ${median(cpuRatios).toFixed(2)}, range ${range(cpuRatios)}`,
  ]);
} finally {
  // SIGTERM: the gateway shuts down cleanly (and writes its profile, if asked to).
  for (const child of children) child.kill('SIGTERM');
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  for (const child of children) child.kill('SIGKILL');
  await server.drop();
}
process.exit(0);
