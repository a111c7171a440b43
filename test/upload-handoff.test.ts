/**
 * How a READY upload reaches Atlas at submission (UploadService.upstreamUrl), on PGlite and on the
 * Postgres server. With PUBLIC_URL: a signed, expiring GET of the gateway's own copy, served by the
 * gateway's /uploads/<id> route byte for byte (and refused when tampered with, expired, or signed for
 * the PUT). Without it: the bytes go to Atlas' uploadMedia once per upload, however often and from
 * however many services it is asked, and an upstream refusal surfaces without the key. Then the S3
 * path through s3rver, and the built-in simulator's uploadMedia.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AtlasClient } from '../src/atlas/client.ts';
import { AtlasError } from '../src/atlas/errors.ts';
import type { Principal } from '../src/auth/principal.ts';
import { type Database, openDatabase } from '../src/db/database.ts';
import { findUpload } from '../src/db/queries/findUpload.ts';
import type { UploadRow } from '../src/db/schema.ts';
import { createLogger } from '../src/log.ts';
import { startAtlasSimulator } from '../src/simulator/atlasSimulator.ts';
import { FileStorage } from '../src/storage/fileStorage.ts';
import { S3Storage } from '../src/storage/s3Storage.ts';
import { UrlSigner } from '../src/storage/signedUrls.ts';
import { signReadLink, UploadService, type UploadStorage } from '../src/uploads/service.ts';
import { FakeAtlas, httpError } from './support/fakeAtlas.ts';
import {
  BACKENDS,
  openTestDatabase,
  startGateway,
  TEST_KEY,
  type TestDatabase,
  type TestGateway,
} from './support/gateway.ts';
import { jpeg, png } from './support/images.ts';
import { S3RVER_CREDENTIALS, type S3rverHandle, startS3rver } from './support/s3.ts';

const SECRET = 'upload-handoff-test-secret-of-32-characters-at-least';
const alice: Principal = {
  id: 'alice',
  tenantId: null,
  admin: false,
  method: 'jwt',
  limits: {},
  credential: { kind: 'none' },
};

/** One UploadService as a gateway process builds it, with its own Atlas client and log. */
function uploadService(options: {
  db: Database;
  storage: UploadStorage;
  atlasUrl: string;
  publicUrl?: string;
  sharedDatabase: boolean;
  logs?: string[];
}) {
  const log = createLogger('debug', (line) => options.logs?.push(line));
  const atlas = new AtlasClient({ baseUrl: options.atlasUrl, apiKey: TEST_KEY, timeoutMs: 3_000, retries: 0, log });
  const service = new UploadService({
    db: options.db.db,
    storage: options.storage,
    settings: { maxVideoBytes: 1_000_000, bytesPerDay: undefined, retentionHours: 24, baseUrl: undefined },
    handoff: {
      publicUrl: options.publicUrl,
      atlas,
      sharedDatabase: options.sharedDatabase,
      linkTtlSeconds: 3_600,
    },
    log,
  });
  return { service, close: () => atlas.close() };
}

for (const backend of BACKENDS) {
  describe(`handing uploads to Atlas (${backend})`, () => {
    const storageDir = mkdtempSync(join(tmpdir(), 'hh-handoff-'));
    const files = new FileStorage(storageDir, new UrlSigner(Buffer.from(SECRET)));
    const storage: UploadStorage = { kind: 'file', files };
    let fake: FakeAtlas;
    let db: TestDatabase;
    let gw: TestGateway;
    let origin: string;
    let logs: string[];
    let main: ReturnType<typeof uploadService>;
    let linking: ReturnType<typeof uploadService>;

    beforeAll(async () => {
      [fake, db] = await Promise.all([FakeAtlas.start(), openTestDatabase(backend)]);
      // The gateway serves /uploads/<id> from the same folder, with the same signing secret.
      gw = await startGateway({
        database: db.database,
        atlasUrl: fake.url,
        env: { STORAGE_URL: `file:${storageDir}`, VIDEO_URL_SECRET: SECRET },
      });
      origin = new URL(gw.url).origin;
      logs = [];
      main = uploadService({
        db: db.database,
        storage,
        atlasUrl: fake.url,
        sharedDatabase: backend === 'postgres',
        logs,
      });
      linking = uploadService({
        db: db.database,
        storage,
        atlasUrl: fake.url,
        publicUrl: `${origin}/`.replace(/\/$/, ''),
        sharedDatabase: backend === 'postgres',
      });
    });
    afterAll(async () => {
      main?.close();
      linking?.close();
      await gw?.close();
      await Promise.all([fake?.close(), db?.close()]);
    });
    beforeEach(() => fake.reset());

    /** A READY upload of `bytes`: created, then PUT to the gateway's signed route as a client would. */
    async function ready(bytes: Buffer, contentType = 'image/png'): Promise<UploadRow> {
      const row = await main.service.create(alice, { contentType: contentType as 'image/png', byteSize: bytes.length });
      const target = await main.service.target(row, origin);
      const sent = await fetch(target!.url, {
        method: 'PUT',
        headers: Object.fromEntries(target!.headers.map(({ name, value }) => [name, value])),
        body: new Uint8Array(bytes),
      });
      expect(sent.status).toBe(200);
      const settled = await findUpload(db.database.db, row.id);
      expect(settled?.status).toBe('READY');
      return settled!;
    }

    it('with PUBLIC_URL, hands Atlas a signed link that serves the bytes as stored, for an hour at least', async () => {
      const bytes = png(640, 360);
      const row = await ready(bytes);
      const before = Date.now();
      const link = await linking.service.upstreamUrl(row);
      const url = new URL(link);
      expect(`${url.origin}${url.pathname}`).toBe(`${origin}/uploads/${row.id}`);
      expect(Number(url.searchParams.get('expires')) * 1000).toBeGreaterThanOrEqual(before + 3_600_000);
      // The same string within the hour, so a resubmission hands the same link.
      expect(await linking.service.upstreamUrl(row)).toBe(link);

      const response = await fetch(link);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('image/png');
      expect(response.headers.get('content-length')).toBe(String(bytes.length));
      expect(Buffer.from(await response.arrayBuffer()).equals(bytes)).toBe(true);
      const range = await fetch(link, { headers: { range: 'bytes=8-23' } });
      expect(range.status).toBe(206);
      expect(Buffer.from(await range.arrayBuffer()).equals(bytes.subarray(8, 24))).toBe(true);
      const head = await fetch(link, { method: 'HEAD' });
      expect([head.status, head.headers.get('content-length')]).toEqual([200, String(bytes.length)]);
      // Nothing went to uploadMedia.
      expect(fake.uploadMediaCalls).toHaveLength(0);
    });

    it('refuses a read link that was tampered with, has expired, names another upload, or was signed for the PUT', async () => {
      const row = await ready(png(300, 300));
      const link = await linking.service.upstreamUrl(row);
      const status = async (url: string) => {
        const response = await fetch(url);
        await response.arrayBuffer();
        return response.status;
      };
      expect(await status(link.replace(/signature=[^&]+/, `signature=${'A'.repeat(43)}`))).toBe(403);
      expect(await status(link.replace(/expires=(\d+)/, (_, n: string) => `expires=${Number(n) + 3600}`))).toBe(403);
      expect(await status(`${origin}/uploads/${row.id}`)).toBe(403);
      const expired = await fetch(`${origin}${signReadLink(files.signer, row.id, new Date(Date.now() - 1_000))}`);
      expect(expired.status).toBe(403);
      expect(await expired.text()).toContain('expired');
      const other = await ready(png(320, 320));
      expect(await status(link.replaceAll(row.id, other.id))).toBe(403);

      // The PUT link (signed over the bare path) does not read, and a read link does not write.
      const pending = await main.service.create(alice, { contentType: 'image/png', byteSize: 100 });
      const putLink = (await main.service.target(pending, origin))!.url;
      expect(await status(putLink)).toBe(403);
      const readLink = `${origin}${signReadLink(files.signer, pending.id, new Date(Date.now() + 60_000))}`;
      const write = await fetch(readLink, { method: 'PUT', headers: { 'content-type': 'image/png' }, body: 'x' });
      expect(write.status).toBe(403);
      // A rightly signed read of an upload that is not READY finds nothing, and none is handed out.
      expect(await status(readLink)).toBe(404);
      await expect(linking.service.upstreamUrl(pending)).rejects.toThrow(/PENDING; only a READY upload/);
    });

    it('without PUBLIC_URL, sends each upload to uploadMedia once, however often it is asked, and remembers the URL', async () => {
      const bytes = jpeg(800, 450);
      const row = await ready(bytes, 'image/jpeg');
      fake.uploadMediaDelayMs = 200;
      const urls = await Promise.all([main.service.upstreamUrl(row), main.service.upstreamUrl(row)]);
      urls.push(await main.service.upstreamUrl(row));
      // A row read before the URL was stored (a retried job holding an old copy) does not send it again.
      urls.push(await main.service.upstreamUrl({ ...row, atlasDownloadUrl: null }));
      expect(fake.uploadMediaCalls).toHaveLength(1);
      expect(new Set(urls)).toEqual(new Set([fake.media[0]!.url]));

      const [call] = fake.uploadMediaCalls;
      expect(call!.headers.authorization).toBe(`Bearer ${TEST_KEY}`);
      expect(call!.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
      expect(fake.media[0]).toMatchObject({ filename: `${row.id}.jpg`, contentType: 'image/jpeg' });
      expect(fake.media[0]!.body.equals(bytes)).toBe(true);
      expect((await findUpload(db.database.db, row.id))?.atlasDownloadUrl).toBe(urls[0]);
      // What Atlas would fetch is the file itself.
      const served = await fetch(urls[0]!);
      expect(Buffer.from(await served.arrayBuffer()).equals(bytes)).toBe(true);
      expect(logs.join('\n')).not.toContain(TEST_KEY);
    });

    it('takes the download_url bare as well as wrapped', async () => {
      fake.uploadMediaBare = true;
      const row = await ready(png(200, 200));
      expect(await main.service.upstreamUrl(row)).toBe(fake.media[0]!.url);
    });

    it('surfaces an uploadMedia refusal as an AtlasError without the key, stores nothing, and sends again next time', async () => {
      const row = await ready(png(256, 256));
      const refusal = async () => {
        const error = await main.service.upstreamUrl(row).catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(AtlasError);
        expect((error as AtlasError).message).not.toContain(TEST_KEY);
        return error as AtlasError;
      };
      fake.uploadMediaReplies.push(httpError(500, `storage exploded for key ${TEST_KEY}`));
      const failed = await refusal();
      expect(failed.code).toBe('UPSTREAM_UNAVAILABLE');
      expect(failed.message).toMatch(
        /^Atlas Cloud answered HTTP 500 to the upload call: storage exploded for key \[redacted\]/,
      );
      fake.uploadMediaReplies.push(httpError(401, 'bad key'));
      expect((await refusal()).code).toBe('UPSTREAM_UNAUTHORIZED');
      fake.uploadMediaReplies.push(httpError(413, 'body over 50 MB'));
      expect((await refusal()).code).toBe('UPSTREAM_REJECTED');
      // A redirect is not followed (the key would go with it).
      fake.uploadMediaReplies.push({ status: 302, headers: { location: `${fake.url}/elsewhere` } });
      expect((await refusal()).message).toContain('redirected the call (not followed)');
      fake.uploadMediaReplies.push({ status: 200, json: { code: 200, message: 'success', data: {} } });
      expect((await refusal()).message).toContain('without a download_url');
      expect(fake.requests.filter((r) => r.path === '/elsewhere')).toHaveLength(0);
      expect((await findUpload(db.database.db, row.id))?.atlasDownloadUrl).toBeNull();

      expect(await main.service.upstreamUrl(row)).toBe(fake.media[0]!.url);
      expect(fake.uploadMediaCalls).toHaveLength(6);
      expect(logs.join('\n')).not.toContain(TEST_KEY);
    });

    it('sends nothing when the stored bytes are gone, and says so', async () => {
      const row = await ready(png(120, 120));
      await files.delete(row.storageKey);
      await expect(main.service.upstreamUrl(row)).rejects.toThrow(
        /^the file to upload could not be opened \(ENOENT\)$/,
      );
      expect(fake.uploadMediaCalls).toHaveLength(0);
    });

    it('times an uploadMedia call that never answers out', async () => {
      const row = await ready(png(100, 100));
      const log = createLogger('silent');
      const hasty = new AtlasClient({ baseUrl: fake.url, apiKey: TEST_KEY, timeoutMs: 300, retries: 0, log });
      const service = new UploadService({
        db: db.database.db,
        storage,
        settings: { maxVideoBytes: 1_000_000, bytesPerDay: undefined, retentionHours: 24, baseUrl: undefined },
        handoff: { publicUrl: undefined, atlas: hasty, sharedDatabase: backend === 'postgres', linkTtlSeconds: 3_600 },
        log,
      });
      fake.uploadMediaReplies.push({ hang: true });
      await expect(service.upstreamUrl(row)).rejects.toMatchObject({ code: 'UPSTREAM_TIMEOUT' });
      hasty.close();
    });

    if (backend === 'postgres') {
      it('sends an upload once when two gateway processes race for it (and twice without the lock)', async () => {
        // Each service on connections of its own, as two processes would have.
        const databases = await Promise.all([openDatabase({ url: db.url! }), openDatabase({ url: db.url! })]);
        const race = async (sharedDatabase: boolean) => {
          const services = databases.map((database) =>
            uploadService({ db: database, storage, atlasUrl: fake.url, sharedDatabase }),
          );
          const row = await ready(png(500, 500));
          fake.reset();
          fake.uploadMediaDelayMs = 300;
          try {
            return await Promise.all(services.map(({ service }) => service.upstreamUrl(row)));
          } finally {
            for (const { close } of services) close();
          }
        };
        try {
          const [first, second] = await race(true);
          expect(fake.uploadMediaCalls).toHaveLength(1);
          expect(second).toBe(first);
          // The same race, with each process trusting only itself: the test can tell the difference.
          await race(false);
          expect(fake.uploadMediaCalls).toHaveLength(2);
        } finally {
          await Promise.all(databases.map((database) => database.close()));
        }
      });
    }
  });
}

describe('handing uploads to Atlas with S3 storage through s3rver', () => {
  const bucket = 'media';
  let s3rver: S3rverHandle;
  let s3: S3Storage;
  let fake: FakeAtlas;
  let db: TestDatabase;

  beforeAll(async () => {
    s3rver = await startS3rver(bucket);
    const { port } = s3rver;
    s3 = new S3Storage(bucket, 'gateway', {
      region: 'us-east-1',
      endpoint: `http://127.0.0.1:${port}`,
      credentials: S3RVER_CREDENTIALS,
      forcePathStyle: true,
    });
    [fake, db] = await Promise.all([FakeAtlas.start(), openTestDatabase('pglite')]);
  });
  afterAll(async () => {
    s3?.destroy();
    await Promise.all([fake?.close(), db?.close(), s3rver?.close()]);
  });

  /** A READY upload in the bucket: the presigned PUT, then completeUpload's check. */
  async function ready(service: UploadService, bytes: Buffer): Promise<UploadRow> {
    const row = await service.create(alice, { contentType: 'image/png', byteSize: bytes.length });
    const target = (await service.target(row, 'http://unused'))!;
    const sent = await fetch(target.url, {
      method: 'PUT',
      headers: Object.fromEntries(target.headers.map(({ name, value }) => [name, value])),
      body: new Uint8Array(bytes),
    });
    expect(sent.status).toBe(200);
    const completed = await service.complete(alice, row.id);
    expect(completed?.status).toBe('READY');
    return completed!;
  }

  it('with PUBLIC_URL hands a presigned GET of the object; without it sends the object to uploadMedia once', async () => {
    const storage: UploadStorage = { kind: 's3', s3 };
    const linking = uploadService({
      db: db.database,
      storage,
      atlasUrl: fake.url,
      publicUrl: 'https://gateway.example',
      sharedDatabase: false,
    });
    const bytes = png(400, 300);
    const row = await ready(linking.service, bytes);
    const link = await linking.service.upstreamUrl(row);
    expect(new URL(link).pathname).toBe(`/${bucket}/gateway/uploads/${row.id}`);
    expect(new URL(link).searchParams.get('X-Amz-Expires')).toMatch(/^\d+$/);
    expect(Buffer.from(await (await fetch(link)).arrayBuffer()).equals(bytes)).toBe(true);
    linking.close();

    const sending = uploadService({ db: db.database, storage, atlasUrl: fake.url, sharedDatabase: false });
    const url = await sending.service.upstreamUrl(row);
    expect(await sending.service.upstreamUrl(row)).toBe(url);
    expect(fake.uploadMediaCalls).toHaveLength(1);
    expect(fake.media[0]!.body.equals(bytes)).toBe(true);
    sending.close();
  });
});

describe('the built-in simulator serves uploadMedia', () => {
  it('keeps the file and serves it back at its download_url; refuses a body without a file', async () => {
    const simulator = await startAtlasSimulator({ jobMs: 1_000 });
    const atlas = new AtlasClient({
      baseUrl: simulator.url,
      apiKey: 'no-key-simulated',
      timeoutMs: 3_000,
      retries: 0,
      log: createLogger('silent'),
    });
    try {
      const bytes = jpeg(640, 480);
      const url = await atlas.uploadMedia({
        open: async () => Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]),
        byteSize: bytes.length,
        contentType: 'image/jpeg',
        filename: 'horse.jpg',
      });
      expect(url.startsWith(`${simulator.url}/media/`)).toBe(true);
      const served = await fetch(url);
      expect(served.headers.get('content-type')).toBe('image/jpeg');
      expect(Buffer.from(await served.arrayBuffer()).equals(bytes)).toBe(true);

      const empty = await fetch(`${simulator.url}/api/v1/model/uploadMedia`, {
        method: 'POST',
        headers: { authorization: 'Bearer x' },
        body: new FormData(),
      });
      expect(empty.status).toBe(400);
      const unknown = await fetch(`${simulator.url}/media/${'0'.repeat(32)}`);
      expect(unknown.status).toBe(404);
    } finally {
      atlas.close();
      await simulator.close();
    }
  });

  it('fails a file that is shorter than its declared size instead of hanging', async () => {
    const fake = await FakeAtlas.start();
    const atlas = new AtlasClient({
      baseUrl: fake.url,
      apiKey: TEST_KEY,
      timeoutMs: 3_000,
      retries: 0,
      log: createLogger('silent'),
    });
    try {
      await expect(
        atlas.uploadMedia({
          open: async () => Readable.from([Buffer.alloc(10)]),
          byteSize: 20,
          contentType: 'image/png',
          filename: 'short.png',
        }),
      ).rejects.toThrow('the file to upload has 10 of its 20 bytes');
    } finally {
      atlas.close();
      await fake.close();
    }
  });
});
