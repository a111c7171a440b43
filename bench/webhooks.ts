/**
 * `npm run bench` (last section): what Atlas webhooks save and how fast they are. The same jobs (each
 * runs JOB_MS upstream, all submitted at once) go through a gateway on the Postgres server at
 * 127.0.0.1:5432 twice, with FakeAtlas on loopback standing in for Atlas:
 *   - webhooks off: polled every POLL_INTERVAL_MS (the default, 2 s);
 *   - webhooks on (PUBLIC_URL set): FakeAtlas signs and POSTs a delivery as each job ends; polling
 *     stays as the safety net at WEBHOOK_POLL_INTERVAL_MS (the default, 30 s).
 * Prints one table: status GETs per job, and the time from the job's end upstream (the webhook
 * POST going out, when on) to its subscriber receiving SUCCEEDED over SSE, p50 / p99 / max.
 */
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { createClient } from 'graphql-sse';
import { findPrediction } from '../src/db/queries/findPrediction.ts';
import { freePort } from '../test/support/childGateway.ts';
import { FakeAtlas } from '../test/support/fakeAtlas.ts';
import { openTestDatabase, startGateway } from '../test/support/gateway.ts';
import { ascending, loadAverage, percentile, printTableFooter, withResources, withTimeout } from './support.ts';

const JOBS = Number(process.env.BENCH_WEBHOOK_JOBS ?? 40);
const JOB_MS = Number(process.env.BENCH_WEBHOOK_JOB_MS ?? 5_000);
const POLL_INTERVAL_MS = '2000';
const WEBHOOK_POLL_INTERVAL_MS = '30000';

const GENERATE = 'mutation G($input: GenerateVideoInput!) { generateVideo(input: $input) { prediction { id } } }';
const UPDATES = 'subscription W($id: ID!) { predictionUpdated(id: $id) { status } }';

interface Result {
  mode: string;
  getsPerJob: number;
  latencies: number[];
  /** Webhook POST out to the gateway's answer (verified and applied), when on. */
  answers: number[];
  webhooksApplied: number;
}

async function run(webhooks: boolean): Promise<Result> {
  return withResources(async (defer) => {
    const fake = await FakeAtlas.start();
    defer('fake atlas', () => fake.close());
    const db = await openTestDatabase('postgres');
    defer('database', () => db.close());
    const port = await freePort();
    const gw = await startGateway({
      database: db.database,
      atlasUrl: fake.url,
      port,
      env: {
        POLL_INTERVAL_MS,
        WEBHOOK_POLL_INTERVAL_MS,
        LOG_LEVEL: 'info',
        ...(webhooks ? { PUBLIC_URL: `http://127.0.0.1:${port}` } : {}),
      },
    });
    defer('gateway', () => gw.close());
    fake.timedJobs = { runMs: JOB_MS };
    const sse = createClient({ url: gw.url, singleConnection: false, retryAttempts: 0 });
    defer('sse client', async () => sse.dispose());

    // Submit all, then follow each over SSE and note when SUCCEEDED arrives (wall clock, as the fake's).
    const ids = await Promise.all(
      Array.from({ length: JOBS }, async (_, n) => {
        const reply = await gw.request<{ generateVideo: { prediction: { id: string } } }>(GENERATE, {
          input: { prompt: `bench ${n}` },
        });
        if (reply.errors) throw new Error(JSON.stringify(reply.errors));
        return reply.data!.generateVideo.prediction.id;
      }),
    );
    const arrivals = await withTimeout(
      Promise.all(
        ids.map(async (id) => {
          for await (const event of sse.iterate({ query: UPDATES, variables: { id } })) {
            const status = (event.data as { predictionUpdated: { status: string } } | undefined)?.predictionUpdated
              .status;
            if (status === 'SUCCEEDED') return { id, at: Date.now() };
            if (status === 'FAILED' || status === 'CANCELED') throw new Error(`job ${id} ended ${status}`);
          }
          throw new Error(`stream of ${id} ended without SUCCEEDED`);
        }),
      ),
      JOB_MS + 60_000,
      'every job reaching its subscriber',
    );
    await fake.deliveriesSettled();

    const rows = await Promise.all(ids.map((id) => findPrediction(db.database.db, id)));
    const latencies = arrivals.map(({ id, at }, index) => {
      const upstreamId = rows[index]?.upstreamId;
      const sentAt = webhooks
        ? fake.signer.attempts.find((a) => a.sessionId === upstreamId)?.sentAt
        : fake.finishedAt.get(upstreamId ?? '');
      if (sentAt === undefined) throw new Error(`no end recorded for ${id}`);
      return at - sentAt;
    });
    const applied = gw.logs.filter(
      (line) => line.includes('"prediction finished"') && line.includes('atlas webhook'),
    ).length;
    return {
      mode: webhooks ? 'webhooks on (PUBLIC_URL)' : 'webhooks off (polling)',
      getsPerJob: fake.statusCalls().length / JOBS,
      latencies: ascending(latencies),
      answers: ascending(
        fake.signer.attempts.flatMap((a) => (a.answeredAt === undefined ? [] : [a.answeredAt - a.sentAt])),
      ),
      webhooksApplied: applied,
    };
  });
}

const started = performance.now();
const loadBefore = loadAverage();
const results = [await run(false), await run(true)];
const ms = (value: number) => `${value.toFixed(0)} ms`.padStart(9);
console.log(
  `\nAtlas webhooks: ${JOBS} jobs of ${JOB_MS / 1000} s each, Postgres server; POLL_INTERVAL_MS=${POLL_INTERVAL_MS}, WEBHOOK_POLL_INTERVAL_MS=${WEBHOOK_POLL_INTERVAL_MS}\n`,
);
console.log(
  `| ${'mode'.padEnd(26)} | status GETs / job | finished by webhook | webhook answered p50 / p99 | end → subscriber p50 |       p99 |       max |`,
);
console.log(
  `| ${'-'.repeat(26)} | ----------------- | ------------------- | -------------------------- | -------------------- | --------- | --------- |`,
);
for (const r of results) {
  const answered = r.answers.length ? `${ms(percentile(r.answers, 50))} / ${ms(percentile(r.answers, 99))}` : '-';
  console.log(
    `| ${r.mode.padEnd(26)} | ${r.getsPerJob.toFixed(2).padStart(17)} | ${`${r.webhooksApplied} / ${JOBS}`.padStart(19)} | ${answered.padStart(26)} | ${ms(percentile(r.latencies, 50)).padStart(20)} | ${ms(percentile(r.latencies, 99))} | ${ms(r.latencies.at(-1) ?? Number.NaN)} |`,
  );
}
printTableFooter(loadBefore, [
  `${cpus().length} cores; "end": the webhook POST leaving Atlas (on), or the job turning done upstream (off). ${((performance.now() - started) / 1000).toFixed(1)} s in all.`,
]);
