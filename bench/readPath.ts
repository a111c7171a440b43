/**
 * `npm run bench` (third part): the read path, side by side. The gateway (`node --import tsx
 * src/main.ts`, Postgres server) and a bare `node:http` + postgres.js handler doing the same read,
 * each in a process of its own, loaded in turn from this process over 50 keep-alive connections with
 * the query `prediction(id) { id status videoUrl prompt createdAt }`. The load generator shares this
 * machine's cores with the server under test, so absolute numbers are low; the ratio is the measure. Prints requests/s, p50, p99 and
 * the gateway's share of the bare handler's throughput.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/support/childGateway.ts';
import { createServerDatabase } from '../test/support/gateway.ts';
import { ascending, percentile } from './support.ts';

const CONNECTIONS = 50;
const WARMUP_MS = 2_000;
const MEASURE_MS = 6_000;
const ROOT = fileURLToPath(new URL('..', import.meta.url));
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
  const [row] = await sql\`select id, status, outputs, prompt, created_at from predictions where id = \${variables.id}\`;
  const prediction = row && { id: row.id, status: row.status, videoUrl: row.outputs[0] ?? null, prompt: row.prompt, createdAt: row.created_at.toISOString() };
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ data: { prediction } }));
}).listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'));
`;

function start(args: string[], env: Record<string, string>, ready: RegExp): Promise<ChildProcess> {
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
    child.once('exit', (code) => reject(new Error(`exited ${code}:\n${output}`)));
    setTimeout(() => reject(new Error(`not ready in 30 s:\n${output}`)), 30_000).unref();
  });
}

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

async function load(target: string, id: string): Promise<{ perSecond: number; p50: number; p99: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const url = new URL(target);
  const body = JSON.stringify({ query: QUERY, variables: { id } });
  const latencies: number[] = [];
  let measuring = false;
  let stopAt = performance.now() + WARMUP_MS + MEASURE_MS;
  setTimeout(() => {
    measuring = true;
    stopAt = performance.now() + MEASURE_MS;
  }, WARMUP_MS);
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < stopAt) {
        const at = performance.now();
        const { status, text } = await post(url, agent, body);
        if (status !== 200 || !text.includes(id)) throw new Error(`bad reply ${status}: ${text.slice(0, 200)}`);
        if (measuring) latencies.push(performance.now() - at);
      }
    }),
  );
  agent.destroy();
  const sorted = ascending(latencies);
  return {
    perSecond: latencies.length / (MEASURE_MS / 1000),
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
  };
}

const server = await createServerDatabase();
const children: ChildProcess[] = [];
try {
  const [gatewayPort, barePort] = await Promise.all([freePort(), freePort()]);
  const gateway = await start(
    // BENCH_PROFILE=dir writes a CPU profile of the gateway there (node --cpu-prof), to find where its time goes.
    [
      ...(process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : []),
      '--import',
      'tsx',
      'src/main.ts',
    ],
    {
      DATABASE_URL: server.url,
      PORT: String(gatewayPort),
      LOG_LEVEL: 'warn',
      NODE_ENV: 'development',
      ATLASCLOUD_API_KEY: '',
      POLL_INTERVAL_MS: '600000',
    },
    /GraphQL http/,
  );
  children.push(gateway);
  const gatewayUrl = `http://127.0.0.1:${gatewayPort}/graphql`;
  const created = await fetch(gatewayUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      query: 'mutation { generateVideo(input: { prompt: "a read-path horse" }) { prediction { id } } }',
    }),
  });
  const id = ((await created.json()) as { data: { generateVideo: { prediction: { id: string } } } }).data.generateVideo
    .prediction.id;

  const bare = await start(
    ['--input-type=module', '-e', BARE],
    { DATABASE_URL: server.url, PORT: String(barePort) },
    /listening/,
  );
  children.push(bare);

  const bareResult = await load(`http://127.0.0.1:${barePort}/graphql`, id);
  const gatewayResult = await load(gatewayUrl, id);
  const row = (name: string, r: typeof bareResult) =>
    `| ${name.padEnd(28)} | ${r.perSecond.toFixed(0).padStart(7)} | ${r.p50.toFixed(1).padStart(7)} | ${r.p99.toFixed(1).padStart(7)} |`;
  console.log(
    `\nRead path: prediction(id), Postgres server, ${CONNECTIONS} connections, ${MEASURE_MS / 1000} s after ${WARMUP_MS / 1000} s warm-up\n`,
  );
  console.log(
    `| ${'server'.padEnd(28)} | ${'req/s'.padStart(7)} | ${'p50 ms'.padStart(7)} | ${'p99 ms'.padStart(7)} |`,
  );
  console.log(`| ${'-'.repeat(28)} | ${'-'.repeat(7)} | ${'-'.repeat(7)} | ${'-'.repeat(7)} |`);
  console.log(row('bare node:http + postgres.js', bareResult));
  console.log(row('gateway', gatewayResult));
  console.log(
    `\ngateway / bare: ${(gatewayResult.perSecond / bareResult.perSecond).toFixed(2)} (goal ≥ 0.5, and p99 ≤ 10 ms)`,
  );
} finally {
  // SIGTERM: the gateway shuts down cleanly (and writes its profile, if asked to).
  for (const child of children) child.kill('SIGTERM');
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  for (const child of children) child.kill('SIGKILL');
  await server.drop();
}
process.exit(0);
