/**
 * `npm run soak` (not part of `npm test` or `npm run bench`): three gateway processes on one Postgres
 * database, against a fake Atlas, through database trouble:
 *
 * 1. JOBS jobs submitted across the gateways, SUBSCRIBERS subscribers (half SSE, half graphql-ws) on
 *    them, each on a gateway other than the one that took the job;
 * 2. every connection to the database ended by the server once a second for KILL_LOOP_S seconds
 *    (what a failover or an operator's pg_terminate_backend does);
 * 3. then the database away for OUTAGE_MS (a TCP proxy in front of it cuts every connection and
 *    refuses new ones), then back.
 *
 * Atlas finishes the jobs at times spread over all of that. It passes when every job is SUCCEEDED
 * within 10 s of the database returning, every subscriber received SUCCEEDED and its stream
 * completed, Atlas saw exactly one create per job, no gateway exited, and `/ready` answered 503 only
 * while the database was away. Prints a table of what it measured; exits 1 when a check fails.
 * Usage: `tsx bench/soak.ts [--jobs N] [--subscribers N] [--kill-seconds N] [--outage-ms N]`.
 */
import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { createClient as createSseClient } from 'graphql-sse';
import { createClient as createWsClient } from 'graphql-ws';
import postgres from 'postgres';
import WebSocket from 'ws';
import { type Child, startChild } from '../test/support/childGateway.ts';
import { FakeAtlas, wrapped } from '../test/support/fakeAtlas.ts';
import { ADMIN_URL, createServerDatabase } from '../test/support/gateway.ts';
import { TcpProxy } from '../test/support/tcpProxy.ts';
import { loadAverage, printTableFooter, waitFor, withResources } from './support.ts';

const { values: args } = parseArgs({
  options: {
    jobs: { type: 'string', default: '300' },
    subscribers: { type: 'string', default: '200' },
    gateways: { type: 'string', default: '3' },
    'kill-seconds': { type: 'string', default: '30' },
    'outage-ms': { type: 'string', default: '10000' },
  },
});
const JOBS = Number(args.jobs);
const SUBSCRIBERS = Math.min(JOBS, Number(args.subscribers));
const GATEWAYS = Number(args.gateways);
const KILL_LOOP_S = Number(args['kill-seconds']);
const OUTAGE_MS = Number(args['outage-ms']);
const POLL_INTERVAL_MS = 1_000;
/** Every job must be SUCCEEDED this soon after the database returns. */
const SETTLE_MS = 10_000;
/** A /ready probe sent this soon after the database returned may still see it away. */
const READY_GRACE_MS = 500;

const GENERATE = 'mutation G($input: GenerateVideoInput!) { generateVideo(input: $input) { prediction { id } } }';
const WATCH = 'subscription W($id: ID!) { predictionUpdated(id: $id) { id status } }';

interface Subscriber {
  transport: 'sse' | 'ws';
  predictionId: string;
  statuses: string[];
  terminalAt?: number;
  completed: boolean;
  error?: string;
}

async function graphql(
  base: string,
  query: string,
  variables: Record<string, unknown>,
): Promise<{ data?: unknown; errors?: unknown }> {
  const response = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(30_000),
  });
  return (await response.json()) as { data?: unknown; errors?: unknown };
}

await withResources(async (defer) => {
  const loadBefore = loadAverage();
  const [fake, server] = await Promise.all([FakeAtlas.start(), createServerDatabase()]);
  defer('fake Atlas', () => fake.close());
  defer('database', () => server.drop());
  const admin = new URL(ADMIN_URL);
  const proxy = await TcpProxy.start({ host: admin.hostname, port: Number(admin.port || 5432) });
  defer('proxy', () => proxy.close());
  // The soak's own view of the database, straight to the server (not through the proxy).
  const sql = postgres(server.url, { max: 2, onnotice: () => {} });
  defer('soak connection', () => sql.end({ timeout: 1 }));

  // Jobs run until the soak says they are done (fake.finish), at times spread over the trouble.
  fake.newJob = (n) => ({ id: `job_${n}`, script: [wrapped({ id: `job_${n}`, status: 'processing' })] });

  const gateways: Child[] = [];
  for (let n = 0; n < GATEWAYS; n++) {
    const child = await startChild(
      {
        NODE_ENV: 'development',
        AUTH_MODE: 'none',
        LOG_LEVEL: 'info',
        DATABASE_URL: proxy.url(server.url),
        ATLASCLOUD_BASE_URL: fake.url,
        POLL_INTERVAL_MS: String(POLL_INTERVAL_MS),
        UPSTREAM_TIMEOUT_MS: '10000',
        PREDICTION_TIMEOUT_MS: '600000',
      },
      { startupTimeoutMs: 60_000 },
    );
    gateways.push(child);
    defer(`gateway ${n}`, () => child.kill9());
  }

  // 1. Jobs, then subscribers.
  const jobs: Array<{ id: string; gateway: number }> = [];
  for (let next = 0; next < JOBS; ) {
    const batch = Array.from({ length: Math.min(20, JOBS - next) }, (_, k) => next + k);
    next += batch.length;
    await Promise.all(
      batch.map(async (n) => {
        const gateway = n % GATEWAYS;
        const reply = (await graphql(gateways[gateway]!.base, GENERATE, {
          input: { prompt: `soak ${n}`, duration: 5 },
        })) as {
          data?: { generateVideo: { prediction: { id: string } } };
          errors?: unknown;
        };
        if (!reply.data) throw new Error(`job ${n} was refused: ${JSON.stringify(reply.errors)}`);
        jobs[n] = { id: reply.data.generateVideo.prediction.id, gateway };
      }),
    );
  }
  const upstreamIds = new Map(
    (await sql<{ id: string; upstream_id: string }[]>`select id, upstream_id from predictions`).map((row) => [
      row.id,
      row.upstream_id,
    ]),
  );

  const subscribers: Subscriber[] = [];
  const disposers: Array<() => void> = [];
  defer('subscriber clients', async () => {
    for (const dispose of disposers) dispose();
  });
  // Spread over the jobs, so some hear their end during the kill loop and some during the outage.
  for (let n = 0; n < SUBSCRIBERS; n++) {
    const job = jobs[Math.floor((n * JOBS) / SUBSCRIBERS)]!;
    const base = gateways[(job.gateway + 1) % GATEWAYS]!.base;
    const subscriber: Subscriber = {
      transport: n % 2 === 0 ? 'sse' : 'ws',
      predictionId: job.id,
      statuses: [],
      completed: false,
    };
    subscribers.push(subscriber);
    const sink = {
      next: (value: { data?: unknown }) => {
        const status = (value.data as { predictionUpdated?: { status: string } } | undefined)?.predictionUpdated
          ?.status;
        if (!status) return;
        subscriber.statuses.push(status);
        if (status === 'SUCCEEDED') subscriber.terminalAt ??= Date.now();
      },
      error: (error: unknown) => (subscriber.error = error instanceof Error ? error.message : JSON.stringify(error)),
      complete: () => (subscriber.completed = true),
    };
    if (subscriber.transport === 'sse') {
      const client = createSseClient({ url: `${base}/graphql`, singleConnection: false, retryAttempts: 10 });
      disposers.push(client.subscribe({ query: WATCH, variables: { id: job.id } }, sink));
      disposers.push(() => client.dispose());
    } else {
      const client = createWsClient({
        url: `${base.replace('http', 'ws')}/graphql`,
        webSocketImpl: WebSocket,
        retryAttempts: 10,
        lazy: true,
      });
      disposers.push(client.subscribe({ query: WATCH, variables: { id: job.id } }, sink));
      disposers.push(() => void client.dispose());
    }
  }
  await waitFor('every subscriber to hear the first state', () => subscribers.every((s) => s.statuses.length > 0), {
    timeoutMs: 60_000,
    everyMs: 100,
  });

  // /ready of every gateway, four times a second, all along.
  const probes: Array<{ gateway: number; at: number; status: number; reason?: string }> = [];
  let probing = true;
  const prober = (async () => {
    while (probing) {
      await Promise.all(
        gateways.map(async (child, gateway) => {
          const at = Date.now();
          const probe = await fetch(`${child.base}/ready`, { signal: AbortSignal.timeout(5_000) }).then(
            async (response) => ({
              status: response.status,
              reason: ((await response.json()) as { reason?: string }).reason,
            }),
            (error: unknown) => ({ status: 0, reason: String(error) }),
          );
          probes.push({ gateway, at, ...probe });
        }),
      );
      await sleep(250);
    }
  })();

  // Atlas finishes the jobs over the kill loop and the outage, evenly.
  const troubleStart = Date.now();
  const troubleMs = KILL_LOOP_S * 1_000 + 1_000 + OUTAGE_MS;
  const finishTimers = jobs.map(({ id }, n) =>
    setTimeout(
      () => fake.finish(upstreamIds.get(id)!, FakeAtlas.done(upstreamIds.get(id)!)),
      Math.round((n / JOBS) * troubleMs),
    ),
  );
  defer('finish timers', async () => finishTimers.forEach(clearTimeout));

  // 2. The kill loop.
  let cuts = 0;
  for (let second = 0; second < KILL_LOOP_S; second++) {
    await sql`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`;
    cuts++;
    await sleep(1_000);
  }
  const killLoopEnd = Date.now();

  // 3. The outage.
  await proxy.cut();
  const awayFrom = Date.now();
  await sleep(OUTAGE_MS);
  await proxy.restore();
  const backAt = Date.now();

  let allSucceededAt: number | undefined;
  try {
    await waitFor(
      'every job SUCCEEDED',
      async () => {
        const [row] = await sql<
          { unfinished: number }[]
        >`select count(*)::int as unfinished from predictions where status <> 'SUCCEEDED'`;
        return row?.unfinished === 0;
      },
      { timeoutMs: 120_000, everyMs: 100 },
    );
    allSucceededAt = Date.now();
  } catch {
    // reported below
  }
  await waitFor('every subscriber to complete', () => subscribers.every((s) => s.completed || s.error), {
    timeoutMs: 30_000,
    everyMs: 100,
  }).catch(() => {});
  probing = false;
  await prober;

  // What was measured.
  const statuses = await sql<
    { status: string; n: number }[]
  >`select status, count(*)::int as n from predictions group by status order by status`;
  const createsPerPrompt = new Map<string, number>();
  for (const create of fake.creates) {
    const prompt = (create.body as { prompt?: string } | undefined)?.prompt ?? '?';
    createsPerPrompt.set(prompt, (createsPerPrompt.get(prompt) ?? 0) + 1);
  }
  const heard = subscribers.filter((s) => s.terminalAt !== undefined && s.completed && !s.error);
  const exited = gateways.filter((child) => child.proc.exitCode !== null || child.proc.signalCode !== null);
  const notReadyOutside = probes.filter((p) => p.status !== 200 && (p.at < awayFrom || p.at > backAt + READY_GRACE_MS));
  const notReadyWhileAway = probes.filter((p) => p.at >= awayFrom && p.at <= backAt && p.status !== 200).length;
  const readyWhileAway = probes
    .filter((p) => p.at >= awayFrom && p.at <= backAt && p.status === 200)
    .map((p) => p.at - awayFrom);
  const probesWhileAway = probes.filter((p) => p.at >= awayFrom && p.at <= backAt).length;
  const lateSubscribers = subscribers.map((s) => (s.terminalAt ?? Number.POSITIVE_INFINITY) - backAt);

  // How long after Atlas finished each job the gateways recorded it: for jobs that ended during the kill
  // loop (counted from the end), and for those that ended while the database was away (from its return).
  const completed = new Map(
    (await sql<{ id: string; completed_at: Date | null }[]>`select id, completed_at from predictions`).map((row) => [
      row.id,
      row.completed_at?.getTime() ?? Number.POSITIVE_INFINITY,
    ]),
  );
  const recorded = jobs.map(({ id }) => {
    const finishedUpstream = fake.finishedAt.get(upstreamIds.get(id)!) ?? Number.POSITIVE_INFINITY;
    const at = completed.get(id) ?? Number.POSITIVE_INFINITY;
    // Finished while the database was away: counted from its return, as nobody could record it sooner.
    return { finishedUpstream, late: at - (finishedUpstream >= awayFrom ? backAt : finishedUpstream) };
  });
  const duringKills = recorded.filter((job) => job.finishedUpstream < killLoopEnd).map((job) => job.late);
  const duringOutage = recorded.filter((job) => job.finishedUpstream >= awayFrom).map((job) => job.late);
  const worst = (values: number[]) => (values.length ? `${(Math.max(...values) / 1000).toFixed(2)} s` : 'none');

  const checks: Array<[string, boolean, string]> = [
    [
      'under the kill loop, every job recorded within 10 s of Atlas finishing it',
      duringKills.every((late) => late <= SETTLE_MS),
      `${duringKills.length} jobs; the slowest ${worst(duringKills)} after Atlas finished it (${worst(duringOutage)} after the database returned, for the ${duringOutage.length} that finished while it was away)`,
    ],
    [
      `every job SUCCEEDED within ${SETTLE_MS / 1000} s of the database returning`,
      allSucceededAt !== undefined && allSucceededAt - backAt <= SETTLE_MS,
      allSucceededAt === undefined
        ? `not all: ${statuses.map((s) => `${s.status} ${s.n}`).join(', ')}`
        : `${((allSucceededAt - backAt) / 1000).toFixed(2)} s after`,
    ],
    [
      'every subscriber received SUCCEEDED and completed',
      heard.length === SUBSCRIBERS,
      `${heard.length}/${SUBSCRIBERS} (SSE ${heard.filter((s) => s.transport === 'sse').length}, WS ${heard.filter((s) => s.transport === 'ws').length}); the last ${(Math.max(...lateSubscribers) / 1000).toFixed(2)} s after the database returned`,
    ],
    [
      'Atlas saw exactly one create per job',
      fake.creates.length === JOBS && createsPerPrompt.size === JOBS,
      `${fake.creates.length} creates for ${createsPerPrompt.size} prompts`,
    ],
    ['no gateway exited', exited.length === 0, `${GATEWAYS - exited.length}/${GATEWAYS} running`],
    [
      '/ready was 503 only while the database was away',
      notReadyOutside.length === 0,
      `${notReadyOutside.length} of ${probes.length - probesWhileAway} probes outside the outage were not 200; ${notReadyWhileAway}/${probesWhileAway} during it were${readyWhileAway.length ? ` (the others sent ${readyWhileAway.join(', ')} ms into it)` : ''}`,
    ],
  ];

  console.log(
    `\nsoak: ${GATEWAYS} gateways, ${JOBS} jobs, ${SUBSCRIBERS} subscribers, ${cuts} cuts 1 s apart, then ${OUTAGE_MS / 1000} s away (${new Date().toISOString().slice(0, 10)})`,
  );
  console.log('| check | result | measured |');
  console.log('| --- | --- | --- |');
  for (const [what, ok, measured] of checks) console.log(`| ${what} | ${ok ? 'pass' : 'FAIL'} | ${measured} |`);
  printTableFooter(loadBefore, [`kill loop ${((killLoopEnd - troubleStart) / 1000).toFixed(1)} s`]);
  if (exited.length > 0) for (const child of exited) console.error(child.output().slice(-4_000));
  // SOAK_LOGS=/tmp/soak keeps each gateway's log lines, as /tmp/soak-<n>.log.
  if (process.env.SOAK_LOGS)
    for (const [n, child] of gateways.entries()) writeFileSync(`${process.env.SOAK_LOGS}-${n}.log`, child.output());
  const failed = subscribers.filter((s) => !(s.terminalAt !== undefined && s.completed && !s.error)).slice(0, 5);
  if (failed.length > 0) console.error('subscribers that did not finish, first few:', JSON.stringify(failed));
  if (notReadyOutside.length > 0)
    console.error(
      'not ready outside the outage, first few:',
      JSON.stringify(notReadyOutside.slice(0, 10).map((p) => ({ ...p, at: p.at - troubleStart }))),
    );
  process.exitCode = checks.every(([, ok]) => ok) ? 0 : 1;
});
