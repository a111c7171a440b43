import { readdirSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';
import { freePort } from '../test/support/childGateway.ts';
import { FakeAtlas, wrapped } from '../test/support/fakeAtlas.ts';
import { createServerDatabase, TEST_KEY } from '../test/support/gateway.ts';
import {
  ascending,
  loadAverage,
  median,
  percentile,
  printTableFooter,
  processCommand,
  processStat,
  productionBuild,
  profileFlags,
  startNode,
} from './support.ts';

const { values: options } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '4' },
    'in-flight': { type: 'string', default: '40' },
  },
});
const ROUNDS = Number(options.rounds);
const MEASURE_MS = Number(options.seconds) * 1000;
if (!(Number.isInteger(ROUNDS) && ROUNDS >= 1 && MEASURE_MS > 0)) throw new Error('--rounds N (≥ 1) --seconds S (> 0)');
const IN_FLIGHT = Number(options['in-flight']);
if (!(Number.isInteger(IN_FLIGHT) && IN_FLIGHT >= 1)) throw new Error('--in-flight N (≥ 1)');
const WARMUP_MS = 2_000;
const SECRET = 'bench-secret-of-at-least-32-characters!';
const GENERATE = JSON.stringify({
  query: 'mutation G($input: GenerateVideoInput!) { generateVideo(input: $input) { prediction { id status } } }',
  variables: { input: { prompt: 'a bench horse' } },
});

interface Case {
  name: string;
  env: Record<string, string>;
  /** Callers the requests are spread over (JWT subjects); none: AUTH_MODE=none. */
  callers?: number;
}
const CASES: Case[] = [
  { name: 'one caller (AUTH_MODE=none)', env: { AUTH_MODE: 'none' } },
  { name: 'ten callers (jwt)', env: { AUTH_MODE: 'jwt', AUTH_JWT_SECRET: SECRET }, callers: 10 },
  { name: 'one caller + LIMIT_ACTIVE_JOBS', env: { AUTH_MODE: 'none', LIMIT_ACTIVE_JOBS: '1000000' } },
];

interface Sample {
  perSecond: number;
  p50: number;
  p99: number;
  /** CPU ms per submit: the gateway process, the Postgres server, this process. */
  cpu: { gateway: number; postgres: number; bench: number };
}

/** utime + stime of a process, in ms; 0 once it is gone. */
const cpuMsOf = (pid: number) => processStat(pid)?.cpuMs ?? 0;

/**
 * The Postgres server's CPU in ms: every live server process, plus what the exited ones used (the
 * postmaster reaps its backends, so their time is in its cutime and cstime). Summing live processes
 * alone lost a backend that ended between two readings, and once gave a negative figure.
 */
function postgresCpuMs(): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || !processCommand(Number(entry)).startsWith('postgres')) continue;
    const stat = processStat(Number(entry));
    if (!stat) continue; // gone between the listing and the read
    total += processCommand(stat.parent).startsWith('postgres') ? stat.cpuMs : stat.cpuMs + stat.childrenCpuMs;
  }
  return total;
}

function post(url: URL, agent: Agent, body: string, token: string | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          if (res.statusCode !== 200 || !text.includes('"status":"'))
            reject(new Error(`bad reply ${res.statusCode}: ${text.slice(0, 300)}`));
          else resolve(text);
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** One case in a fresh database: warm-up, then `MEASURE_MS` of `IN_FLIGHT` submits at a time. */
async function runCase(main: string, fake: FakeAtlas, { env, callers }: Case): Promise<Sample> {
  const [server, port] = await Promise.all([createServerDatabase(), freePort()]);
  const gateway = await startNode(
    [...profileFlags(), main],
    {
      NODE_ENV: 'test', // production refuses a plain-http upstream; what production changes is off below
      GRAPHIQL: 'false',
      INTROSPECTION: 'false',
      DATABASE_URL: server.url,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      ATLASCLOUD_API_KEY: TEST_KEY,
      ATLASCLOUD_BASE_URL: fake.url,
      POLL_INTERVAL_MS: '600000',
      ...env,
    },
    /GraphQL http/,
  );
  const agent = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
  try {
    const url = new URL(`http://127.0.0.1:${port}/graphql`);
    const tokens = await Promise.all(
      Array.from({ length: callers ?? 0 }, (_, n) =>
        new SignJWT({})
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject(`bench-${n}`)
          .setExpirationTime('1h')
          .sign(new TextEncoder().encode(SECRET)),
      ),
    );
    const latencies: number[] = [];
    let measuring = false;
    let stopAt = performance.now() + WARMUP_MS + MEASURE_MS;
    let cpuAtStart = { gateway: 0, postgres: 0, bench: 0 };
    const cpuNow = () => ({
      gateway: cpuMsOf(gateway.pid!),
      postgres: postgresCpuMs(),
      bench: (process.cpuUsage().user + process.cpuUsage().system) / 1000,
    });
    const warmedUp = setTimeout(() => {
      measuring = true;
      cpuAtStart = cpuNow();
      stopAt = performance.now() + MEASURE_MS;
    }, WARMUP_MS);
    let sent = 0;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (performance.now() < stopAt) {
          const at = performance.now();
          await post(url, agent, GENERATE, tokens.length ? tokens[sent++ % tokens.length] : undefined);
          if (measuring) latencies.push(performance.now() - at);
        }
      }),
    );
    clearTimeout(warmedUp);
    const cpuAtEnd = cpuNow();
    const sorted = ascending(latencies);
    const per = (key: keyof Sample['cpu']) => (cpuAtEnd[key] - cpuAtStart[key]) / latencies.length;
    return {
      perSecond: latencies.length / (MEASURE_MS / 1000),
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      cpu: { gateway: per('gateway'), postgres: per('postgres'), bench: per('bench') },
    };
  } finally {
    agent.destroy();
    gateway.kill('SIGTERM');
    await Promise.race([new Promise((resolve) => gateway.once('exit', resolve)), sleep(5_000)]);
    gateway.kill('SIGKILL');
    await server.drop();
  }
}

const loadBefore = loadAverage();
const build = await productionBuild();
const fake = await FakeAtlas.start();
fake.record = false;
fake.checkBodies = false;
fake.newJob = (n) => ({ id: `b_${n}`, script: [wrapped({ id: `b_${n}`, status: 'processing' })] });
const samples = new Map<string, Sample[]>(CASES.map((each) => [each.name, []]));
try {
  for (let round = 0; round < ROUNDS; round++) {
    // Reversed every other round: no case always runs in the quieter moment.
    const order = round % 2 === 0 ? CASES : [...CASES].reverse();
    for (const each of order) samples.get(each.name)!.push(await runCase(build.main, fake, each));
    console.error(`bench: submit path round ${round + 1} of ${ROUNDS} done`);
  }
} finally {
  await fake.close();
}

const fixed = (value: number, digits: number) => value.toFixed(digits);
console.log(
  `\nSubmit path: generateVideo, production build (node dist/main.js${build.reused ? ', build reused' : ''}), Postgres server, ${IN_FLIGHT} in flight, FakeAtlas answering at once; ${ROUNDS} rounds of ${MEASURE_MS / 1000} s per case after ${WARMUP_MS / 1000} s warm-up. Medians over the rounds (range)\n`,
);
console.log('| case | submits/s | p50 ms | p99 ms | CPU ms per submit: gateway | Postgres | load generator + fake |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const [name, runs] of samples) {
  const col = (pick: (s: Sample) => number, digits: number) => {
    const values = runs.map(pick);
    return `${fixed(median(values), digits)} (${fixed(Math.min(...values), digits)}–${fixed(Math.max(...values), digits)})`;
  };
  console.log(
    `| ${name} | ${col((s) => s.perSecond, 0)} | ${col((s) => s.p50, 1)} | ${col((s) => s.p99, 1)} | ${col((s) => s.cpu.gateway, 2)} | ${col((s) => s.cpu.postgres, 2)} | ${col((s) => s.cpu.bench, 2)} |`,
  );
}
const rate = (name: string) => median(samples.get(name)!.map((s) => s.perSecond));
printTableFooter(loadBefore, [
  `one caller / ten callers: ${(rate(CASES[0]!.name) / rate(CASES[1]!.name)).toFixed(2)} (goal ≥ 0.9); with LIMIT_ACTIVE_JOBS / without: ${(rate(CASES[2]!.name) / rate(CASES[0]!.name)).toFixed(2)} (goal ≥ 0.5); one caller ${rate(CASES[0]!.name).toFixed(0)}/s (goal ≥ 600/s, p99 ≤ 150 ms)`,
]);
process.exit(0);
