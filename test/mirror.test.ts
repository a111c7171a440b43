/**
 * Videos that do not expire: each succeeded job's outputs are copied (streamed, capped) into the
 * gateway's storage before subscribers see SUCCEEDED, and played back from there with byte ranges
 * through signed, expiring links, after the fake Atlas has deleted its own copy. Failing sources are
 * retried, an oversize output keeps Atlas' link and says why, a copy cut by a crash is done again by
 * another gateway process, and two gateways never copy the same job. PGlite and the Postgres server;
 * the filesystem backend, and S3 through s3rver (see the S3 block for what that does and does not prove).
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';
import type { PredictionNotice } from '../src/db/notify.ts';
import { sharedSecret } from '../src/db/queries/sharedSecret.ts';
import { UrlSigner } from '../src/storage/signedUrls.ts';
import { hs256Token, post, subscribeAll } from './support/auth.ts';
import { children, startChild } from './support/childGateway.ts';
import { FakeAtlas, type FakeFile, generatedChunk } from './support/fakeAtlas.ts';
import {
  afterCycles,
  BACKENDS,
  createServerDatabase,
  eventually,
  gatewayFixture,
  letTimePass,
  startGateway,
  type TestGateway,
} from './support/gateway.ts';
import { type S3rverHandle, s3StorageEnv, startS3rver } from './support/s3.ts';
import { settledOutbox, WebhookReceiver } from './support/webhookReceiver.ts';

const JWT_SECRET = 'mirror-test-secret-of-at-least-32-characters';
const token = (sub: string) => hs256Token(JWT_SECRET, sub);
const WEBHOOK_SIGNING_SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const MAX_BYTES = 1_000_000;
// Long enough that a copy retried three times (backoff from 40 ms) ends inside it on a loaded machine
// (1.5 s did not once, under the suite with two CPU-bound processes beside it).
const HOLD_MS = 4_000;

interface OutputFile {
  url: string;
  contentType: string | null;
  sizeBytes: number | null;
  expiresAt: string | null;
}
interface Seen {
  id: string;
  status: string;
  videoUrl: string | null;
  outputs: string[];
  sourceUrls: string[];
  mirrored: boolean;
  mirrorError: string | null;
  outputFiles: OutputFile[];
}
const FIELDS =
  'id status videoUrl outputs sourceUrls mirrored mirrorError outputFiles { url contentType sizeBytes expiresAt }';

/** Submits and reads jobs over a gateway's real socket as a JWT user. */
function client(gatewayUrl: () => string) {
  return {
    async submit(user = 'alice'): Promise<string> {
      const reply = await post<{ generateVideo: { prediction: { id: string } } }>(
        gatewayUrl(),
        await token(user),
        'mutation { generateVideo(input: { prompt: "A white horse on a beach" }) { prediction { id } } }',
      );
      expect(reply.body.errors).toBeUndefined();
      return reply.body.data!.generateVideo.prediction.id;
    },
    async read(id: string, user = 'alice'): Promise<Seen | null> {
      const reply = await post<{ prediction: Seen | null }>(
        gatewayUrl(),
        await token(user),
        `query($id: ID!) { prediction(id: $id) { ${FIELDS} } }`,
        { id },
      );
      expect(reply.body.errors).toBeUndefined();
      return reply.body.data!.prediction;
    },
    /** SUCCEEDED comes only with the copy done, or with the reason it is not. */
    async succeeded(id: string, timeoutMs = 15_000): Promise<Seen> {
      return (await eventually(
        () => this.read(id),
        (p) => p?.status === 'SUCCEEDED',
        timeoutMs,
      ))!;
    },
    /** Every event of the job's subscription, as the caller gets them. */
    async events(id: string, user = 'alice') {
      return subscribeAll<{ predictionUpdated: { status: string; videoUrl: string | null; mirrored: boolean } }>(
        gatewayUrl(),
        await token(user),
        'subscription($id: ID!) { predictionUpdated(id: $id) { status videoUrl mirrored } }',
        { id },
      );
    },
  };
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const bytesOf = async (response: Response) => Buffer.from(await response.arrayBuffer());

for (const backend of BACKENDS) {
  describe(`mirrored outputs, files (${backend})`, () => {
    const storageDir = mkdtempSync(join(tmpdir(), 'hh-videos-'));
    const f = gatewayFixture(backend, {
      AUTH_MODE: 'jwt',
      AUTH_JWT_SECRET: JWT_SECRET,
      STORAGE_URL: `file:${storageDir}`,
      MIRROR_MAX_BYTES: String(MAX_BYTES),
      MIRROR_HOLD_MS: String(HOLD_MS),
      ATLASCLOUD_OUTPUT_EXPIRATION_HOURS: '48',
      WEBHOOK_SIGNING_SECRET,
    });
    const jobs = client(() => f.gw.url);
    const origin = () => new URL(f.gw.url).origin;

    beforeEach(async () => {
      f.fake.reset();
      await f.db.truncate();
    });

    /** One job whose output is `file`, run until SUCCEEDED, with every event its subscriber got. */
    async function runJob(file: FakeFile) {
      f.fake.jobsWithFiles(() => file);
      const id = await jobs.submit();
      const events = jobs.events(id);
      const done = await jobs.succeeded(id);
      return { id, done, events: await events };
    }

    it('copies the video before SUCCEEDED and plays it from the gateway after Atlas deleted its copy', async () => {
      const body = generatedChunk(0, 300_000);
      const { id, done, events } = await runJob({ body });

      expect(done.mirrored).toBe(true);
      expect(done.mirrorError).toBeNull();
      const source = f.fake.fileUrl('job_1.mp4');
      expect(done.sourceUrls).toEqual([source]);
      expect(done.videoUrl).toMatch(
        new RegExp(`^${origin()}/videos/${id}/0\\.mp4\\?expires=\\d+&signature=[\\w-]{43}$`),
      );
      expect(done.outputs).toEqual([done.videoUrl]);
      expect(done.outputFiles).toEqual([
        { url: done.videoUrl, contentType: 'video/mp4', sizeBytes: body.length, expiresAt: expect.any(String) },
      ]);
      const expiresAt = new Date(done.outputFiles[0]!.expiresAt!).getTime();
      expect(expiresAt).toBeGreaterThanOrEqual(Date.now() + 24 * 3_600_000 - 60_000);
      expect(expiresAt).toBeLessThanOrEqual(Date.now() + 25 * 3_600_000);
      expect(done.videoUrl).toContain(`expires=${expiresAt / 1000}&`);

      // Subscribers never saw Atlas' link: SUCCEEDED arrived once, with the gateway's copy.
      const states = events.map((event) => event.data!.predictionUpdated);
      expect(states.filter((s) => s.status === 'SUCCEEDED')).toEqual([
        { status: 'SUCCEEDED', videoUrl: done.videoUrl, mirrored: true },
      ]);
      expect(states.some((s) => s.videoUrl === source)).toBe(false);

      // Atlas' copy is gone; the gateway's plays, byte for byte, without any header.
      f.fake.files.get('job_1.mp4')!.gone = true;
      expect((await fetch(source)).status).toBe(404);
      const played = await fetch(done.videoUrl!);
      expect(played.status).toBe(200);
      expect(played.headers.get('content-type')).toBe('video/mp4');
      expect(played.headers.get('accept-ranges')).toBe('bytes');
      expect((await bytesOf(played)).equals(body)).toBe(true);
      expect(readFileSync(join(storageDir, id, '0.mp4')).equals(body)).toBe(true);
      // Atlas was asked to keep its outputs for ATLASCLOUD_OUTPUT_EXPIRATION_HOURS.
      expect(f.fake.creates[0]!.headers['x-atlascloud-object-expiration-hours']).toBe('48');
    });

    it('claims copies less often while it has none to make, and a success held for its copy is announced to wake it', async () => {
      const { gateway } = f.gw;
      const notices: PredictionNotice[] = [];
      gateway.events.onAnyChange((notice) => notices.push(notice));
      // The time between claims is the subject: at the tests' 40 ms poll interval the copier's tick is
      // 50 ms, about 30 claims in 1.5 s; idle, its claims spread out to IDLE_CLAIM_CAP_MS (750 ms).
      await afterCycles(gateway, 'copier', 1);
      const idleFrom = gateway.loops.cycles('copier');
      await letTimePass(1_500);
      expect(gateway.loops.cycles('copier') - idleFrom).toBeLessThan(10);

      const { id, done } = await runJob({ body: generatedChunk(0, 1_000) });
      expect(done.mirrored).toBe(true);
      // The change that held the success for its copy said the copy was due: what wakes an idle copier.
      expect(notices.some((notice) => notice.id === id && typeof notice.mirrorNextAt === 'number')).toBe(true);
    });

    it("fires the caller's COMPLETED webhook once, when the finished copy releases the job", async () => {
      // The poll that sees Atlas finish does not end a mirrored job: the copy's write does, and it
      // must fire the webhook, as the poller's own end of a job would.
      const receiver = await WebhookReceiver.start(WEBHOOK_SIGNING_SECRET);
      try {
        f.fake.jobsWithFiles(() => ({ body: generatedChunk(0, 100_000) }));
        const reply = await post<{ generateVideo: { prediction: { id: string } } }>(
          f.gw.url,
          await token('alice'),
          'mutation($input: GenerateVideoInput!) { generateVideo(input: $input) { prediction { id } } }',
          { input: { prompt: 'A white horse with a webhook', webhook: { url: `${receiver.url}/done` } } },
        );
        expect(reply.body.errors).toBeUndefined();
        const id = reply.body.data!.generateVideo.prediction.id;
        const done = await jobs.succeeded(id);
        expect(done.mirrored).toBe(true);

        const [hook] = await eventually(
          () => receiver.at('/done'),
          (received) => received.length >= 1,
        );
        expect(hook!.verifyError).toBeUndefined();
        const event = JSON.parse(hook!.body) as { type: string; data: Record<string, unknown> };
        expect(event.type).toBe('prediction.completed');
        // The body carries Atlas' link (the gateway's own is signed and expires) and says the copy is made.
        const source = f.fake.fileUrl('job_1.mp4');
        expect(event.data).toMatchObject({
          id,
          status: 'SUCCEEDED',
          mirrored: true,
          mirrorError: null,
          sourceUrls: [source],
          videoUrl: source,
        });
        // One message, settled: no second one can come.
        expect((await settledOutbox(f.db.database, id)).map((message) => message.event)).toEqual(['COMPLETED']);
        expect(receiver.received).toHaveLength(1);
      } finally {
        await receiver.close();
      }
    });

    it('serves byte ranges: first bytes, open-ended, suffix, and 416 past the end', async () => {
      const body = generatedChunk(0, 300_000);
      const { done } = await runJob({ body });
      const url = done.videoUrl!;
      const range = (value: string) => fetch(url, { headers: { range: value } });

      const first = await range('bytes=0-99');
      expect(first.status).toBe(206);
      expect(first.headers.get('content-range')).toBe('bytes 0-99/300000');
      expect(first.headers.get('content-length')).toBe('100');
      expect(first.headers.get('accept-ranges')).toBe('bytes');
      expect((await bytesOf(first)).equals(body.subarray(0, 100))).toBe(true);

      const rest = await range('bytes=299000-');
      expect(rest.status).toBe(206);
      expect(rest.headers.get('content-range')).toBe('bytes 299000-299999/300000');
      expect((await bytesOf(rest)).equals(body.subarray(299_000))).toBe(true);

      const suffix = await range('bytes=-500');
      expect(suffix.status).toBe(206);
      expect(suffix.headers.get('content-range')).toBe('bytes 299500-299999/300000');
      expect((await bytesOf(suffix)).equals(body.subarray(299_500))).toBe(true);

      const past = await range('bytes=300000-');
      expect(past.status).toBe(416);
      expect(past.headers.get('content-range')).toBe('bytes */300000');

      const head = await fetch(url, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers.get('content-length')).toBe('300000');
    });

    it('refuses a missing, altered, moved or expired signature with 403', async () => {
      const { id, done } = await runJob({ body: generatedChunk(0, 1_000) });
      const url = new URL(done.videoUrl!);
      const path = url.pathname;
      const status = async (target: string) => (await fetch(target)).status;

      expect(await status(`${origin()}${path}`)).toBe(403);
      const altered = new URL(url);
      const signature = url.searchParams.get('signature')!;
      altered.searchParams.set('signature', `${signature.slice(0, -1)}${signature.endsWith('A') ? 'B' : 'A'}`);
      expect(await status(altered.toString())).toBe(403);
      const later = new URL(url);
      later.searchParams.set('expires', String(Number(url.searchParams.get('expires')) + 3600));
      expect(await status(later.toString())).toBe(403);
      const otherJob = new URL(url);
      otherJob.pathname = path.replace(id, '00000000-0000-4000-8000-000000000000');
      expect(await status(otherJob.toString())).toBe(403);

      // Signed with the gateway's own secret (made once, kept in the database), but expired.
      const signer = new UrlSigner(Buffer.from(await sharedSecret(f.db.database.db, 'video_url_signing')));
      const expired = await fetch(`${origin()}${signer.sign(path, new Date(Date.now() - 1_000))}`);
      expect(expired.status).toBe(403);
      expect(await expired.text()).toMatch(/expired/);
      // The same signer with a future expiry is let in: the 403s above are the signature's doing.
      expect(await status(`${origin()}${signer.sign(path, new Date(Date.now() + 60_000))}`)).toBe(200);
      // A valid signature for a file that does not exist.
      expect(await status(`${origin()}${signer.sign(`/videos/${id}/7.mp4`, new Date(Date.now() + 60_000))}`)).toBe(404);
    });

    it("shows another caller nothing of a job, its copy's link included", async () => {
      const { id, done } = await runJob({ body: generatedChunk(0, 1_000) });
      expect(await jobs.read(id, 'bob')).toBeNull();
      const list = await post<{ predictions: { edges: unknown[] } }>(
        f.gw.url,
        await token('bob'),
        '{ predictions(first: 10) { edges { node { id videoUrl } } } }',
      );
      expect(list.body.data!.predictions.edges).toEqual([]);
      const theirs = await post<{ predictions: { edges: Array<{ node: { id: string; videoUrl: string } }> } }>(
        f.gw.url,
        await token('alice'),
        '{ predictions(first: 10) { edges { node { id videoUrl } } } }',
      );
      expect(theirs.body.data!.predictions.edges.map((edge) => edge.node.id)).toEqual([id]);
      const watched = await jobs.events(id, 'bob');
      expect(watched[0]!.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
      // The link itself is the credential handed to the owner: it plays with no header at all.
      expect((await fetch(done.videoUrl!)).status).toBe(200);
    });

    it("keeps Atlas' link and says why when an output is over MIRROR_MAX_BYTES, declared or not", async () => {
      for (const undeclaredLength of [false, true]) {
        f.fake.reset();
        await f.db.truncate();
        const { id, done, events } = await runJob({ generatedBytes: MAX_BYTES + 500_000, undeclaredLength });
        const source = f.fake.fileUrl('job_1.mp4');
        expect(done.mirrored).toBe(false);
        // Declared: refused on the Content-Length, before the body; undeclared: stopped by counting.
        expect(done.mirrorError).toBe(
          undeclaredLength
            ? 'output 1 is over MIRROR_MAX_BYTES (1000000); not retried'
            : 'output 1 is 1500000 bytes, over MIRROR_MAX_BYTES (1000000); not retried',
        );
        expect(done.videoUrl).toBe(source);
        expect(done.outputs).toEqual([source]);
        expect(done.outputFiles).toEqual([{ url: source, contentType: null, sizeBytes: null, expiresAt: null }]);
        expect(events.map((event) => event.data!.predictionUpdated).filter((s) => s.status === 'SUCCEEDED')).toEqual([
          { status: 'SUCCEEDED', videoUrl: source, mirrored: false },
        ]);
        // Nothing kept: no file, no partial file; and not tried again.
        expect(existsSync(join(storageDir, id)) ? readdirSync(join(storageDir, id)) : []).toEqual([]);
        await afterCycles(f.gw.gateway, 'copier', 3);
        expect(f.fake.fileGets.filter((get) => get.name === 'job_1.mp4')).toHaveLength(1);
      }
    });

    it('retries a failing source with backoff and then copies it, subscribers seeing SUCCEEDED only then', async () => {
      const body = generatedChunk(0, 50_000);
      const { done, events } = await runJob({ body, failFirst: 3 });
      expect(done.mirrored).toBe(true);
      expect(done.mirrorError).toBeNull();
      expect(f.fake.fileGets.map((get) => get.status)).toEqual([503, 503, 503, 200]);
      expect((await bytesOf(await fetch(done.videoUrl!))).equals(body)).toBe(true);
      expect(events.map((event) => event.data!.predictionUpdated).filter((s) => s.status === 'SUCCEEDED')).toEqual([
        { status: 'SUCCEEDED', videoUrl: done.videoUrl, mirrored: true },
      ]);
    });

    it(`releases a job after MIRROR_HOLD_MS with Atlas' link and mirrorError, and copies it once the source recovers`, async () => {
      const file: FakeFile = { body: generatedChunk(0, 20_000), failFirst: 1_000 };
      const started = Date.now();
      const { id, done } = await runJob(file);
      expect(Date.now() - started).toBeGreaterThanOrEqual(HOLD_MS);
      expect(done.mirrored).toBe(false);
      expect(done.videoUrl).toBe(f.fake.fileUrl('job_1.mp4'));
      expect(done.mirrorError).toMatch(/^output 1: the source answered HTTP 503; retrying \(attempt \d+\)$/);

      file.failFirst = 0;
      const copied = await eventually(
        () => jobs.read(id),
        (p) => p?.mirrored === true,
        20_000,
      );
      expect(copied!.status).toBe('SUCCEEDED');
      expect(copied!.mirrorError).toBeNull();
      expect(copied!.videoUrl).toMatch(`/videos/${id}/0.mp4?`);
      expect((await bytesOf(await fetch(copied!.videoUrl!))).equals(file.body!)).toBe(true);
    });

    it.runIf(backend === 'postgres')('two gateways on one database copy each job exactly once', async () => {
      const second = await startGateway({
        databaseUrl: f.db.url!,
        atlasUrl: f.fake.url,
        env: {
          AUTH_MODE: 'jwt',
          AUTH_JWT_SECRET: JWT_SECRET,
          STORAGE_URL: `file:${storageDir}`,
          MIRROR_MAX_BYTES: String(MAX_BYTES),
        },
      });
      try {
        f.fake.jobsWithFiles((n) => ({ body: generatedChunk(n, 200_000), chunkDelayMs: 2 }));
        const other = client(() => second.url);
        const ids = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? other : jobs).submit()));
        const done = await Promise.all(ids.map((id) => jobs.succeeded(id)));
        expect(done.every((p) => p.mirrored)).toBe(true);
        const ok = f.fake.fileGets.filter((get) => get.status === 200).map((get) => get.name);
        expect(ok.sort()).toEqual(Array.from({ length: 8 }, (_, i) => `job_${i + 1}.mp4`).sort());
        // Either gateway serves the copy (they share the folder and the signing secret).
        const fromSecond = await other.read(ids[0]!);
        expect((await fetch(fromSecond!.videoUrl!)).status).toBe(200);
      } finally {
        await second.close();
      }
    });
  });
}

for (const backend of BACKENDS) {
  describe(`a copy cut by a crash (${backend}, a second process takes over)`, () => {
    let fake: FakeAtlas;
    let server: Awaited<ReturnType<typeof createServerDatabase>> | undefined;
    const storageDir = mkdtempSync(join(tmpdir(), 'hh-videos-crash-'));
    // PGlite: the next process opens the same folder (the killed one's lock is taken over).
    const dataDir = mkdtempSync(join(tmpdir(), 'hh-data-crash-'));
    const env = () => ({
      AUTH_MODE: 'jwt',
      AUTH_JWT_SECRET: JWT_SECRET,
      ATLASCLOUD_BASE_URL: fake.url,
      STORAGE_URL: `file:${storageDir}`,
      MIRROR_LEASE_MS: '2000',
      DATA_DIR: dataDir,
      ...(server ? { DATABASE_URL: server.url } : {}),
    });

    beforeAll(async () => {
      [fake, server] = await Promise.all([
        FakeAtlas.start(),
        backend === 'postgres' ? createServerDatabase() : undefined,
      ]);
    });
    afterAll(async () => {
      await Promise.all(children.map((child) => child.kill9()));
      await fake?.close();
      await server?.drop();
    });

    it('is started again by the next gateway process once the lease runs out, and the copy is whole', async () => {
      const size = 6 * 1024 * 1024;
      const file: FakeFile = { generatedBytes: size, chunkDelayMs: 25 };
      fake.jobsWithFiles(() => file);
      const first = await startChild(env(), { startupTimeoutMs: 60_000 });
      const id = await client(() => `${first.base}/graphql`).submit();

      // Partway through the download, the copying process dies.
      await eventually(
        () => fake.fileGets[0]?.sentBytes ?? 0,
        (sent) => sent > 1024 * 1024,
        30_000,
      );
      await first.kill9();
      expect(fake.fileGets[0]!.sentBytes).toBeLessThan(size);
      expect(first.output()).not.toContain('outputs copied');
      // No finished file anywhere, only what the cut copy had written aside.
      expect(existsSync(join(storageDir, id, '0.mp4'))).toBe(false);
      if (server) {
        const postgres = (await import('postgres')).default;
        const direct = postgres(server.url, { max: 1, onnotice: () => {} });
        try {
          const [row] = await direct<{ status: string; mirror_next_at: Date | null; mirrored_at: Date | null }[]>`
            select status, mirror_next_at, mirrored_at from predictions where id = ${id}`;
          // Still waiting for its copy, leased by the dead process.
          expect(row).toMatchObject({ status: 'PROCESSING', mirrored_at: null });
          expect(row!.mirror_next_at!.getTime()).toBeGreaterThan(Date.now() - 1_000);
        } finally {
          await direct.end();
        }
      }

      file.chunkDelayMs = 0;
      const second = await startChild(env(), { startupTimeoutMs: 60_000 });
      const jobs = client(() => `${second.base}/graphql`);
      const done = await jobs.succeeded(id, 30_000);
      expect(done.mirrored).toBe(true);
      expect(fake.fileGets.map((get) => get.status)).toEqual([200, 200]);
      const played = await bytesOf(await fetch(done.videoUrl!));
      expect(played.length).toBe(size);
      expect(sha256(played)).toBe(sha256(generatedChunk(0, size)));
      await eventually(
        () => second.output(),
        (output) => output.includes('outputs copied'),
      );
    }, 180_000); // two gateway processes start here, PGlite ones slowly on a busy machine
  });
}

describe('S3 storage through s3rver (an S3-compatible server from npm)', () => {
  const bucket = 'videos';
  let s3: S3rverHandle;
  let endpoint: string;
  const f = { fake: undefined as unknown as FakeAtlas, gw: undefined as unknown as TestGateway, drop: async () => {} };

  beforeAll(async () => {
    s3 = await startS3rver(bucket);
    const { port } = s3;
    endpoint = `http://127.0.0.1:${port}`;
    const database = await createServerDatabase();
    f.drop = database.drop;
    f.fake = await FakeAtlas.start();
    f.gw = await startGateway({
      databaseUrl: database.url,
      atlasUrl: f.fake.url,
      env: {
        AUTH_MODE: 'jwt',
        AUTH_JWT_SECRET: JWT_SECRET,
        ...s3StorageEnv(`s3://${bucket}/gateway/outputs`, endpoint),
      },
    });
  });
  afterAll(async () => {
    await f.gw?.close();
    await f.fake?.close();
    await s3?.close();
    await f.drop();
  });

  it('uploads the stream in parts and links a presigned GET that plays, with ranges, after Atlas deleted its copy', async () => {
    const size = 12 * 1024 * 1024; // over the 8 MiB part size: a real multipart upload
    f.fake.jobsWithFiles(() => ({ generatedBytes: size }));
    const jobs = client(() => f.gw.url);
    const id = await jobs.submit();
    const done = await jobs.succeeded(id);
    expect(done.mirrored).toBe(true);
    expect(done.videoUrl!.startsWith(`${endpoint}/${bucket}/gateway/outputs/${id}/0.mp4?`)).toBe(true);
    expect(new URL(done.videoUrl!).searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    expect(done.outputFiles[0]).toMatchObject({ contentType: 'video/mp4', sizeBytes: size });

    f.fake.files.get('job_1.mp4')!.gone = true;
    const played = await bytesOf(await fetch(done.videoUrl!));
    expect(sha256(played)).toBe(sha256(generatedChunk(0, size)));
    const first = await fetch(done.videoUrl!, { headers: { range: 'bytes=0-99' } });
    expect(first.status).toBe(206);
    expect(first.headers.get('content-range')).toBe(`bytes 0-99/${size}`);
    expect((await bytesOf(first)).equals(generatedChunk(0, 100))).toBe(true);
  });
});

describe('configuration', () => {
  it('checks ATLASCLOUD_OUTPUT_EXPIRATION_HOURS, STORAGE_URL and the signing secret by name', () => {
    const base = { NODE_ENV: 'test' };
    for (const hours of ['0', '337', 'soon']) {
      expect(() => loadConfig({ ...base, ATLASCLOUD_OUTPUT_EXPIRATION_HOURS: hours })).toThrow(
        /ATLASCLOUD_OUTPUT_EXPIRATION_HOURS/,
      );
    }
    expect(loadConfig({ ...base, ATLASCLOUD_OUTPUT_EXPIRATION_HOURS: '336' }).outputExpirationHours).toBe(336);
    expect(() => loadConfig({ ...base, STORAGE_URL: 'ftp://x' })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, STORAGE_URL: 'ftp://x' })).toThrow(/STORAGE_URL/);
    expect(() => loadConfig({ ...base, VIDEO_URL_SECRET: 'short' })).toThrow(/VIDEO_URL_SECRET/);
    expect(loadConfig({ ...base, DATA_DIR: '/srv/hh' }).mirror.storage).toEqual({
      kind: 'file',
      dir: '/srv/hh/videos',
    });
    expect(loadConfig({ ...base, STORAGE_URL: 's3://my-bucket/a/b/' }).mirror.storage).toMatchObject({
      kind: 's3',
      bucket: 'my-bucket',
      prefix: 'a/b',
    });
    expect(loadConfig({ ...base, STORAGE_URL: 'none' }).mirror.storage).toEqual({ kind: 'none' });
  });
});
