/**
 * /metrics over a real socket, after real jobs ran through the gateway against the fake Atlas: the
 * counters, histograms and gauges carry the right labels and values, on PGlite and on the Postgres
 * server, and METRICS_TOKEN guards them.
 */
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { beforeEach, describe, expect, it } from 'vitest';
import { FakeAtlas, httpError, wrapped } from './support/fakeAtlas.ts';
import { BACKENDS, eventually, gatewayFixture, openTestDatabase, startGateway, TEST_KEY } from './support/gateway.ts';
import { metric } from './support/metrics.ts';

const METRICS_TOKEN = 'metrics-token-0123456789abcdef';
const GENERATE = `mutation Generate($input: GenerateVideoInput!) { generateVideo(input: $input) { prediction { id status } } }`;
const PREDICTION = `query One($id: ID!) { prediction(id: $id) { id status errorCode } }`;

interface Reply {
  data?: Record<string, { prediction?: { id: string; status: string } } & { id?: string; status?: string }>;
  errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
}

describe.each(BACKENDS)('/metrics on %s', (backend) => {
  const t = gatewayFixture(backend, { METRICS_TOKEN, PREDICTION_TIMEOUT_MS: '60000' });
  const base = () => new URL('/', t.gw.url);

  async function graphql(query: string, variables: Record<string, unknown>): Promise<Reply> {
    const response = await fetch(t.gw.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables }),
    });
    return (await response.json()) as Reply;
  }
  async function scrape(authorization = `Bearer ${METRICS_TOKEN}`): Promise<string> {
    const response = await fetch(new URL('/metrics', base()), { headers: { authorization } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return response.text();
  }
  async function finished(id: string) {
    return eventually(
      () => graphql(PREDICTION, { id }),
      (reply) => !['STARTING', 'PROCESSING'].includes(reply.data?.prediction?.status ?? 'STARTING'),
    );
  }

  beforeEach(() => t.fake.reset());

  it('counts jobs, upstream calls, polls and operations with their labels, and leaks no secret', async () => {
    const before = await scrape();
    const count = (text: string, name: string, labels?: Record<string, string>) => metric(text, name, labels) ?? 0;

    // One job that succeeds, one Atlas refuses at once.
    const ok = await graphql(GENERATE, { input: { prompt: 'a horse that makes it' } });
    expect(ok.errors).toBeUndefined();
    await finished(ok.data!.generateVideo!.prediction!.id);
    t.fake.createReplies.push(httpError(400, 'prompt refused'));
    const refused = await graphql(GENERATE, { input: { prompt: 'a horse Atlas refuses' } });
    expect(refused.errors![0]!.extensions).toMatchObject({ code: 'UPSTREAM_REJECTED' });

    const after = await scrape();
    const delta = (name: string, labels?: Record<string, string>) =>
      count(after, name, labels) - count(before, name, labels);
    expect(delta('gateway_jobs_submitted_total')).toBe(2);
    expect(delta('gateway_jobs_finished_total', { status: 'SUCCEEDED', error_code: 'none' })).toBe(1);
    expect(delta('gateway_jobs_finished_total', { status: 'FAILED', error_code: 'UPSTREAM_REJECTED' })).toBe(1);
    expect(delta('gateway_job_duration_seconds_count', { status: 'SUCCEEDED' })).toBe(1);
    expect(delta('gateway_job_duration_seconds_count', { status: 'FAILED' })).toBe(1);
    // The job ran one "processing" poll and one "completed" poll: the fake's script.
    expect(delta('gateway_upstream_request_duration_seconds_count', { endpoint: 'create', status: '200' })).toBe(1);
    expect(delta('gateway_upstream_request_duration_seconds_count', { endpoint: 'create', status: '400' })).toBe(1);
    expect(delta('gateway_upstream_request_duration_seconds_count', { endpoint: 'status', status: '200' })).toBe(
      t.fake.statusCalls().length,
    );
    expect(delta('gateway_poll_lag_seconds_count')).toBe(t.fake.statusCalls().length);
    expect(delta('gateway_graphql_operations_total', { operation: 'Generate', type: 'mutation', outcome: 'ok' })).toBe(
      1,
    );
    expect(
      delta('gateway_graphql_operations_total', {
        operation: 'Generate',
        type: 'mutation',
        outcome: 'UPSTREAM_REJECTED',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      delta('gateway_graphql_operations_total', { operation: 'One', type: 'query', outcome: 'ok' }),
    ).toBeGreaterThanOrEqual(1);
    // Every operation timed, with the counter's labels.
    const generateOk = { operation: 'Generate', type: 'mutation', outcome: 'ok' };
    const generateRejected = { operation: 'Generate', type: 'mutation', outcome: 'UPSTREAM_REJECTED' };
    expect(delta('gateway_graphql_operation_duration_seconds_count', generateOk)).toBe(1);
    expect(delta('gateway_graphql_operation_duration_seconds_count', generateRejected)).toBe(
      delta('gateway_graphql_operations_total', generateRejected),
    );
    expect(delta('gateway_graphql_operation_duration_seconds_sum', generateOk)).toBeGreaterThan(0);
    expect(delta('gateway_graphql_operation_duration_seconds_bucket', { ...generateOk, le: '+Inf' })).toBe(1);
    expect(metric(after, 'process_resident_memory_bytes')).toBeGreaterThan(0);

    expect(after.toLowerCase()).not.toContain(TEST_KEY.toLowerCase());
    expect(after).not.toContain(METRICS_TOKEN);
  });

  it('reports unfinished jobs and open subscription streams as they are', async () => {
    await t.db.truncate();
    t.fake.newJob = (n) => ({ id: `held_${n}`, script: [wrapped({ id: `held_${n}`, status: 'processing' })] });
    expect(metric(await scrape(), 'gateway_unfinished_jobs')).toBe(0);
    const held = await graphql(GENERATE, { input: { prompt: 'a horse that keeps running' } });
    const id = held.data!.generateVideo!.prediction!.id;
    expect(metric(await scrape(), 'gateway_unfinished_jobs')).toBe(1);

    const stream = t.gw.subscribe(`subscription { predictionUpdated(id: "${id}") { status } }`)[Symbol.asyncIterator]();
    await stream.next();
    expect(metric(await scrape(), 'gateway_subscription_streams_open')).toBe(1);

    // Cancelling ends the job (counted as such) and its stream.
    const canceledBefore =
      metric(await scrape(), 'gateway_jobs_finished_total', { status: 'CANCELED', error_code: 'CANCELED' }) ?? 0;
    const cancel = await graphql(`mutation Cancel($id: ID!) { cancelPrediction(id: $id) { id status } }`, { id });
    expect(cancel.data?.cancelPrediction?.status).toBe('CANCELED');
    await eventually(
      () => scrape(),
      (text) => metric(text, 'gateway_subscription_streams_open') === 0,
    );
    const text = await scrape();
    expect(metric(text, 'gateway_unfinished_jobs')).toBe(0);
    expect(metric(text, 'gateway_jobs_finished_total', { status: 'CANCELED', error_code: 'CANCELED' })).toBe(
      canceledBefore + 1,
    );
    expect(
      metric(text, 'gateway_graphql_operations_total', { operation: 'Cancel', type: 'mutation', outcome: 'ok' }),
    ).toBe(1);
    await stream.return?.();
  });

  it('reports how overdue the most overdue job is, also while a lease hides it', async () => {
    await t.db.truncate();
    t.fake.newJob = (n) => ({ id: `held_${n}`, script: [wrapped({ id: `held_${n}`, status: 'processing' })] });
    const held = await graphql(GENERATE, { input: { prompt: 'a horse that keeps running' } });
    const id = held.data!.generateVideo!.prediction!.id;
    await eventually(
      () => t.fake.statusCalls().length,
      (calls) => calls > 0,
    );
    // Polled on time: nothing is late (the interval is 40 ms; on a busy machine a poll may run a few
    // seconds late, far from the 90 s below).
    expect(metric(await scrape(), 'gateway_poll_overdue_seconds')).toBeLessThan(10);
    // What a process that died holding the row's lease leaves: claimed 90 s ago, the lease minutes away.
    await t.db.database.db.execute(
      sql`update predictions set polled_at = now() - interval '90 seconds', next_poll_at = now() + interval '10 minutes' where id = ${id}`,
    );
    const overdue = metric(await scrape(), 'gateway_poll_overdue_seconds')!;
    expect(overdue).toBeGreaterThan(89);
    expect(overdue).toBeLessThan(100);
    // After failed status calls the poller backs off (40 ms doubled ten times, 41 s): that much of the gap is not late.
    await t.db.database.db.execute(sql`update predictions set poll_failures = 10 where id = ${id}`);
    const backedOff = metric(await scrape(), 'gateway_poll_overdue_seconds')!;
    expect(backedOff).toBeGreaterThan(48);
    expect(backedOff).toBeLessThan(60);
    await graphql(`mutation Cancel($id: ID!) { cancelPrediction(id: $id) { id } }`, { id });
    expect(metric(await scrape(), 'gateway_poll_overdue_seconds')).toBe(0);
  });

  it('reports the database pool: its size and the connections busy right now', async () => {
    const text = await scrape();
    expect(metric(text, 'gateway_db_pool_size')).toBe(backend === 'pglite' ? 1 : 10);
    if (backend === 'pglite') {
      expect(metric(text, 'gateway_db_pool_in_use')).toBe(1);
      return;
    }
    // The poller's own claims (every 10 ms here) may hold a connection at any moment: at most one.
    expect(metric(text, 'gateway_db_pool_in_use')).toBeLessThanOrEqual(1);
    // Three queries of this gateway's pool busy for a while: the scrape sees them, and they go after.
    const sleeping = Promise.all([1, 2, 3].map(() => t.db.database.db.execute(sql`select pg_sleep(1.5)`)));
    await eventually(
      () => scrape(),
      (later) => metric(later, 'gateway_db_pool_in_use')! >= 3,
    );
    await sleeping;
    await eventually(
      () => scrape(),
      (later) => metric(later, 'gateway_db_pool_in_use')! <= 1,
    );
  });

  it.runIf(backend === 'postgres')('counts a LISTEN reconnect', async () => {
    const before = metric(await scrape(), 'gateway_listen_reconnects_total');
    expect(before).toBe(0);
    // Cut the gateway's LISTEN connection from the server side, as a failover would.
    const admin = postgres(t.db.url!, { max: 1, onnotice: () => {} });
    try {
      const cut = await admin`select pg_terminate_backend(pid) from pg_stat_activity
                              where application_name = ${t.db.database.applicationName!} and query ilike 'listen%'`;
      expect(cut.length).toBeGreaterThan(0);
    } finally {
      await admin.end();
    }
    await eventually(
      () => scrape(),
      (text) => metric(text, 'gateway_listen_reconnects_total') === 1,
      15_000,
    );
  });

  it('refuses a scrape without the token, or with a wrong one', async () => {
    const url = new URL('/metrics', base());
    for (const headers of [
      {},
      { authorization: 'Bearer wrong-token-0123456789abcdef' },
      { authorization: METRICS_TOKEN },
    ] as Record<string, string>[]) {
      const response = await fetch(url, { headers });
      expect(response.status, JSON.stringify(headers)).toBe(401);
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(await response.text()).not.toMatch(/gateway_/);
    }
  });
});

// Its own PGlite and gateway start inside the test: allow for a busy machine.
it('serves /metrics to anyone when METRICS_TOKEN is unset', { timeout: 120_000 }, async () => {
  const [fake, db] = await Promise.all([FakeAtlas.start(), openTestDatabase('pglite')]);
  const gw = await startGateway({ database: db.database, atlasUrl: fake.url });
  try {
    const response = await fetch(new URL('/metrics', gw.url));
    expect(response.status).toBe(200);
    expect(await response.text()).toMatch(/^gateway_jobs_submitted_total 0$/m);
  } finally {
    await gw.close();
    await Promise.all([fake.close(), db.close()]);
  }
});
