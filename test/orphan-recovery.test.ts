/**
 * Paid jobs whose gateway died mid-submit (kill -9 with create calls in flight): with PUBLIC_URL each
 * job carries its own Atlas webhook token, so the job is not given up when its submitter is found
 * gone. It waits (until its deadline) for Atlas' signed webhook, which names its upstream id; the
 * gateway adopts that id and follows the job to its real end, the video mirrored as usual. A
 * webhook that comes after the job already ended SUBMISSION_UNKNOWN has its id stored, but does not
 * reopen the job (see README, "Atlas webhooks").
 */
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Child, children, freePort, startChild } from './support/childGateway.ts';
import { FakeAtlas, wrapped } from './support/fakeAtlas.ts';
import { createServerDatabase, eventually, startGateway, TEST_KEY, type TestGateway } from './support/gateway.ts';
import { terminalBody } from './support/signingAtlas.ts';

const GENERATE =
  'mutation G($input: GenerateVideoInput!) { generateVideo(input: $input) { prediction { id status upstreamId } } }';
type Generated = { generateVideo: { prediction: { id: string; status: string; upstreamId: string | null } } };

interface Row {
  id: string;
  status: string;
  upstream_id: string | null;
  error_code: string | null;
  error: string | null;
  cost_usd: number | null;
  outputs: string[];
  output_files: unknown[] | null;
  mirrored_at: Date | null;
  next_poll_at: Date | null;
  deadline_at: Date | null;
  completed_at: Date | null;
  version: number;
  atlas_webhook_token_hash: string | null;
}

const tokenHashOf = (webhookUrl: string) => createHash('sha256').update(webhookUrl.split('/').at(-1)!).digest('hex');
/** The same webhook path, at another gateway (Atlas reaches whichever one PUBLIC_URL leads to). */
const at = (base: string, webhookUrl: string) => `${base}${new URL(webhookUrl).pathname}`;

describe('a gateway killed with 20 creates in flight, with PUBLIC_URL', () => {
  let fake: FakeAtlas;
  let database: { url: string; drop(): Promise<void> };
  let sql: postgres.Sql;

  const rows = () =>
    sql<
      Row[]
    >`select id, status, upstream_id, error_code, error, cost_usd::float8 as cost_usd, outputs, output_files, mirrored_at,
      next_poll_at, deadline_at, completed_at, version, atlas_webhook_token_hash from predictions order by created_at`;

  beforeEach(async () => {
    [fake, database] = await Promise.all([FakeAtlas.start(), createServerDatabase()]);
    sql = postgres(database.url, { max: 1, onnotice: () => {} });
  });
  afterEach(async () => {
    await Promise.all(children.splice(0).map((child) => child.kill9()));
    await sql.end({ timeout: 1 });
    await Promise.all([fake.close(), database.drop()]);
  });

  it('follows every job to SUCCEEDED, mirrored, once Atlas calls back: none is failed SUBMISSION_UNKNOWN', async () => {
    const videos = mkdtempSync(join(tmpdir(), 'hh-orphan-videos-'));
    const videoOf = (n: number) => Buffer.from(`the video of job ${n}`);
    fake.jobsWithFiles((n) => ({ body: videoOf(n) }));
    const gatewayOn = async (port: number, env: Record<string, string> = {}): Promise<Child> =>
      startChild({
        PORT: String(port),
        DATABASE_URL: database.url,
        ATLASCLOUD_BASE_URL: fake.url,
        PUBLIC_URL: `http://127.0.0.1:${port}`,
        STORAGE_URL: `file:${videos}`,
        // Long enough for all 20 calls to be out before the first one's timeout (the kill comes first);
        // its rows are due 8 s after they were stored, when the second gateway takes them for abandoned.
        UPSTREAM_TIMEOUT_MS: '4000',
        ...env,
      });

    const first = await gatewayOn(await freePort());
    // Atlas makes each job at once, but its reply never comes back before the kill.
    fake.createDelayMs = 30_000;
    const inFlight = Array.from({ length: 20 }, (_, i) =>
      fetch(`${first.base}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: GENERATE, variables: { input: { prompt: `paid job ${i}` } } }),
      }).catch((error: unknown) => error),
    );
    await eventually(
      () => fake.webhookUrls.size,
      (n) => n === 20,
      15_000,
    );
    expect(await first.kill9()).toEqual({ code: null, signal: 'SIGKILL' });
    await Promise.all(inFlight);
    const left = await rows();
    expect(left).toHaveLength(20);
    for (const row of left) expect(row).toMatchObject({ status: 'STARTING', upstream_id: null });

    const second = await gatewayOn(await freePort());
    // Once due, the second gateway finds their submitter gone; with a webhook token on each, it leaves
    // them waiting for Atlas until their deadline, instead of failing them.
    const waiting = await eventually(
      rows,
      (all) =>
        all.every((row) => row.status !== 'STARTING' || row.next_poll_at!.getTime() === row.deadline_at!.getTime() + 1),
      30_000,
    );
    for (const row of waiting) expect(row).toMatchObject({ status: 'STARTING', upstream_id: null, error_code: null });

    // Atlas' signed webhooks arrive, each naming the job's id (its session_id).
    const answers = await Promise.all(
      [...fake.webhookUrls].map(([upstreamId, url]) => {
        const body = terminalBody(upstreamId, {
          status: 'completed',
          outputs: [fake.fileUrl(`${upstreamId}.mp4`)],
          metrics: { predict_time: 4.2 },
        });
        return fake.signer.deliver(at(second.base, url), body);
      }),
    );
    for (const answer of answers)
      expect({ status: answer.status, body: JSON.parse(answer.text) }).toEqual({
        status: 200,
        body: { status: 'applied' },
      });

    const done = await eventually(rows, (all) => all.every((row) => row.status === 'SUCCEEDED'), 30_000);
    const jobOfToken = new Map([...fake.webhookUrls].map(([upstreamId, url]) => [tokenHashOf(url), upstreamId]));
    for (const row of done) {
      // The id adopted is the one Atlas made for this very row (its token's).
      expect(row.upstream_id).toBe(jobOfToken.get(row.atlas_webhook_token_hash!));
      expect(row).toMatchObject({
        error_code: null,
        cost_usd: 0.14,
        outputs: [fake.fileUrl(`${row.upstream_id}.mp4`)],
      });
      expect(row.mirrored_at).not.toBeNull();
      expect(row.output_files).toHaveLength(1);
    }
    // Played back from the gateway's own copy.
    for (const row of done) {
      const reply = await fetch(`${second.base}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          query: 'query($id: ID!) { prediction(id: $id) { status videoUrl upstreamId } }',
          variables: { id: row.id },
        }),
      });
      const { data } = (await reply.json()) as {
        data: { prediction: { status: string; videoUrl: string; upstreamId: string } };
      };
      expect(data.prediction.videoUrl.startsWith(`${second.base}/videos/${row.id}/`)).toBe(true);
      const video = Buffer.from(await (await fetch(data.prediction.videoUrl)).arrayBuffer());
      expect(video.equals(videoOf(Number(row.upstream_id!.slice('job_'.length))))).toBe(true);
    }
    expect(fake.creates).toHaveLength(20); // never resubmitted
    for (const child of [first, second]) expect(child.output()).not.toContain(TEST_KEY);
  }, 120_000);
});

describe('jobs whose submitter is gone, with an Atlas webhook token', () => {
  let fake: FakeAtlas;
  let database: { url: string; drop(): Promise<void> };
  let sql: postgres.Sql;
  let gw: TestGateway;

  const row = async (id: string) =>
    (
      await sql<Row[]>`select id, status, upstream_id, error_code, error, cost_usd::float8 as cost_usd, outputs,
      output_files, mirrored_at, next_poll_at, deadline_at, completed_at, version, atlas_webhook_token_hash from predictions where id = ${id}`
    )[0]!;

  /**
   * A job as a kill -9 mid-create leaves it: stored, STARTING, no upstream id, due now; its deadline
   * `deadlineInMs` away. Made from a real submission (so Atlas has the job and its webhook URL).
   */
  async function orphan(deadlineInMs: number): Promise<{ id: string; upstreamId: string; url: string }> {
    const created = await gw.request<Generated>(GENERATE, { input: { prompt: 'orphaned' } });
    const { id, upstreamId } = created.data!.generateVideo.prediction;
    await sql`update predictions set status = 'STARTING', upstream_id = null, upstream_status = null, next_poll_at = now(),
      deadline_at = now() + ${deadlineInMs} * interval '1 millisecond' where id = ${id}`;
    return { id, upstreamId: upstreamId!, url: fake.webhookUrls.get(upstreamId!)! };
  }
  /** The poller found it orphaned and left it to wait for Atlas until its deadline. */
  const waitingForAtlas = (id: string) =>
    eventually(
      () => row(id),
      (r) => r.status === 'STARTING' && r.next_poll_at?.getTime() === r.deadline_at!.getTime() + 1,
      10_000,
    );

  beforeAll(async () => {
    [fake, database] = await Promise.all([FakeAtlas.start(), createServerDatabase()]);
    sql = postgres(database.url, { max: 1, onnotice: () => {} });
    const port = await freePort();
    gw = await startGateway({
      databaseUrl: database.url,
      atlasUrl: fake.url,
      port,
      env: { PUBLIC_URL: `http://127.0.0.1:${port}`, WEBHOOK_POLL_INTERVAL_MS: '60000', UPSTREAM_TIMEOUT_MS: '10000' },
    });
  });
  afterAll(async () => {
    await gw?.close();
    await sql?.end({ timeout: 1 });
    await Promise.all([fake?.close(), database?.drop()]);
  });
  beforeEach(async () => {
    fake.reset(); // its job ids start again at job_1: so do the rows
    fake.createDelayMs = 0;
    await sql`truncate predictions, atlas_webhook_deliveries cascade`;
    // Jobs run until a test ends them.
    fake.newJob = (n) => ({ id: `job_${n}`, script: [wrapped({ id: `job_${n}`, status: 'processing' })] });
    gw.logs.length = 0;
  });

  it('waits for Atlas until its deadline, then fails SUBMISSION_UNKNOWN saying so, charged; a later webhook stores the id without reopening it', async () => {
    const job = await orphan(2_000);
    await waitingForAtlas(job.id);
    const failed = await eventually(
      () => row(job.id),
      (r) => r.status === 'FAILED',
      10_000,
    );
    expect(failed).toMatchObject({ error_code: 'SUBMISSION_UNKNOWN', cost_usd: 0.14, upstream_id: null });
    expect(failed.error).toMatch(/did not report it before its deadline; it may have been created and billed/);

    // Atlas calls back after all: the id is kept (so the job can be found upstream), the end stands.
    const late = await fake.signer.deliver(job.url, terminalBody(job.upstreamId, FakeAtlas.done(job.upstreamId)));
    expect(late.status).toBe(200);
    expect(JSON.parse(late.text)).toEqual({ status: 'already finished' });
    const after = await row(job.id);
    expect(after).toMatchObject({
      status: 'FAILED',
      error_code: 'SUBMISSION_UNKNOWN',
      error: failed.error,
      cost_usd: 0.14,
      outputs: [],
      upstream_id: job.upstreamId,
      completed_at: failed.completed_at,
      next_poll_at: null,
      version: failed.version + 1,
    });
  });

  it('adopts the id from a delivery that is not an end, and polls the job to its end', async () => {
    const job = await orphan(60_000);
    await waitingForAtlas(job.id);
    fake.statusScripts.set(job.upstreamId, [wrapped({ id: job.upstreamId, ...FakeAtlas.done(job.upstreamId) })]);
    const answer = await fake.signer.deliver(job.url, terminalBody(job.upstreamId, { status: 'processing' }));
    expect(answer.status).toBe(202);
    const done = await eventually(
      () => row(job.id),
      (r) => r.status === 'SUCCEEDED',
      10_000,
    );
    expect(done).toMatchObject({ upstream_id: job.upstreamId, outputs: [`https://cdn.example/${job.upstreamId}.mp4`] });
    expect(fake.statusCalls(job.upstreamId).length).toBeGreaterThanOrEqual(1);
  });

  it('a webhook that overtakes a slow create reply: the reply then finds the id stored, and no error is logged', async () => {
    // Longer than the receiver waits for a create reply (3 s) before it adopts the delivery's id.
    fake.createDelayMs = 4_000;
    const submission = gw.request<Generated>(GENERATE, { input: { prompt: 'slow reply' } });
    await eventually(
      () => fake.webhookUrls.get('job_1'),
      (url) => url !== undefined,
    );
    const answer = await fake.signer.deliver(
      fake.webhookUrls.get('job_1')!,
      terminalBody('job_1', FakeAtlas.done('job_1')),
    );
    expect(JSON.parse(answer.text)).toEqual({ status: 'applied' });

    const reply = await submission;
    expect(reply.errors).toBeUndefined();
    expect(reply.data!.generateVideo.prediction).toMatchObject({ status: 'SUCCEEDED', upstreamId: 'job_1' });
    // Logged, had it been, before the recorder gave the row back to the mutation.
    expect(gw.logs.filter((line) => line.includes('could not be matched'))).toEqual([]);
  });
});
