/**
 * Staged uploads through a real gateway, on PGlite and on the Postgres server: createUpload, one PUT
 * of the bytes to the signed uploadUrl (checked as it streams: size, type from the first bytes, an
 * image's pixels from its header), ownership, a second PUT, the size caps, the daily byte limit under
 * racing calls, and expiry with the sweeper. Then the S3 path through s3rver: a presigned PUT, checked
 * by completeUpload with a range GET.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { executedRows } from '../src/db/rows.ts';
import { hs256Token } from './support/auth.ts';
import { FakeAtlas } from './support/fakeAtlas.ts';
import {
  BACKENDS,
  createServerDatabase,
  eventually,
  gatewayFixture,
  startGateway,
  type TestGateway,
} from './support/gateway.ts';
import { jpeg, mov, png, webp } from './support/images.ts';
import { type S3rverHandle, s3StorageEnv, startS3rver } from './support/s3.ts';

const JWT_SECRET = 'uploads-test-secret-of-at-least-32-characters';
const token = (sub: string) => hs256Token(JWT_SECRET, sub);
const SAMPLE_MP4 = readFileSync(fileURLToPath(new URL('../src/simulator/sample.mp4', import.meta.url)));
const DAILY_BYTES = 200_000;
const MAX_VIDEO_BYTES = 100_000;

interface UploadView {
  id: string;
  status: 'PENDING' | 'READY' | 'REJECTED';
  rejectionReason: string | null;
  contentType: string;
  byteSize: number;
  width: number | null;
  height: number | null;
  uploadUrl: string | null;
  headers: { name: string; value: string }[];
  expiresAt: string;
}
interface Reply<T> {
  data?: T | null;
  errors?: { message: string; extensions: Record<string, unknown> }[];
}
const FIELDS = 'id status rejectionReason contentType byteSize width height uploadUrl headers { name value } expiresAt';
const CREATE = `mutation C($input: CreateUploadInput!) { createUpload(input: $input) { upload { ${FIELDS} } } }`;
const READ = `query R($id: ID!) { upload(id: $id) { ${FIELDS} } }`;
const COMPLETE = `mutation D($id: ID!) { completeUpload(id: $id) { ${FIELDS} } }`;

/** One caller of the gateway at `url`: GraphQL with its token, and the PUT of an upload's bytes. */
function caller(url: () => string, subject: string) {
  const gql = async <T>(query: string, variables: Record<string, unknown>): Promise<Reply<T>> => {
    const response = await fetch(url(), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await token(subject)}` },
      body: JSON.stringify({ query, variables }),
    });
    return (await response.json()) as Reply<T>;
  };
  return {
    gql,
    async create(input: { contentType: string; byteSize: number; filename?: string }) {
      return gql<{ createUpload: { upload: UploadView } }>(CREATE, { input });
    },
    async created(contentType: string, byteSize: number): Promise<UploadView> {
      const reply = await this.create({ contentType, byteSize });
      expect(reply.errors).toBeUndefined();
      return reply.data!.createUpload.upload;
    },
    async read(id: string): Promise<UploadView | null> {
      const reply = await gql<{ upload: UploadView | null }>(READ, { id });
      expect(reply.errors).toBeUndefined();
      return reply.data!.upload;
    },
    complete: (id: string) => gql<{ completeUpload: UploadView }>(COMPLETE, { id }),
  };
}

/** The one PUT of the bytes, as a browser would send it: to uploadUrl with the headers it names. */
async function put(upload: UploadView, body: Buffer | ReadableStream<Uint8Array>, url = upload.uploadUrl!) {
  const response = await fetch(url, {
    method: 'PUT',
    headers: Object.fromEntries(upload.headers.map(({ name, value }) => [name, value])),
    body,
    ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
  } as RequestInit);
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** A body sent in chunks without a Content-Length, so only counting the bytes can tell its size. */
function chunked(bytes: Buffer): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(new Uint8Array(bytes.subarray(offset, offset + 1000)));
      offset += 1000;
    },
  });
}

for (const backend of BACKENDS) {
  describe(`uploads with file storage (${backend})`, () => {
    const storageDir = mkdtempSync(join(tmpdir(), 'hh-uploads-'));
    const t = gatewayFixture(backend, {
      AUTH_MODE: 'jwt',
      AUTH_JWT_SECRET: JWT_SECRET,
      STORAGE_URL: `file:${storageDir}`,
      UPLOAD_MAX_VIDEO_BYTES: String(MAX_VIDEO_BYTES),
      LIMIT_UPLOAD_BYTES_PER_DAY: String(DAILY_BYTES),
      UPLOAD_SWEEP_MS: '100',
    });
    const as = (subject: string) => caller(() => t.gw.url, `${backend}-${subject}`);
    const stored = (id: string) => join(storageDir, 'uploads', id);

    it.each([
      ['image/png', png(640, 360), 640, 360],
      ['image/jpeg', jpeg(301, 752), 301, 752],
      ['image/webp', webp(1024, 400), 1024, 400],
    ] as const)('a %s becomes READY with its width and height read from its header', async (type, bytes, w, h) => {
      const alice = as('alice');
      const upload = await alice.created(type, bytes.length);
      expect(upload).toMatchObject({ status: 'PENDING', width: null, byteSize: bytes.length });
      expect(upload.uploadUrl).toMatch(new RegExp(`/uploads/${upload.id}\\?expires=\\d+&signature=`));
      expect(upload.headers).toEqual([{ name: 'content-type', value: type }]);

      const sent = await put(upload, bytes);
      expect(sent).toEqual({ status: 200, body: { id: upload.id, status: 'READY', width: w, height: h } });
      expect(await alice.read(upload.id)).toMatchObject({ status: 'READY', width: w, height: h, uploadUrl: null });
      expect(readFileSync(stored(upload.id)).equals(bytes)).toBe(true);
      // Nothing to check again with file storage: completeUpload returns it as it is.
      expect((await alice.complete(upload.id)).data?.completeUpload.status).toBe('READY');
    });

    it('takes an MP4 and a MOV as videos, sent in chunks without a Content-Length', async () => {
      const alice = as('alice');
      const mp4 = await alice.created('video/mp4', SAMPLE_MP4.length);
      expect((await put(mp4, chunked(SAMPLE_MP4))).body).toMatchObject({ status: 'READY', width: null });
      const quicktime = mov(5_000);
      const movie = await alice.created('video/quicktime', quicktime.length);
      expect((await put(movie, chunked(quicktime))).body).toMatchObject({ status: 'READY' });
    });

    it('rejects bytes that are not the declared type, and keeps nothing', async () => {
      const alice = as('alice');
      const bytes = png(400, 400);
      const upload = await alice.created('image/jpeg', bytes.length);
      const sent = await put(upload, bytes);
      expect(sent.status).toBe(422);
      expect(sent.body).toMatchObject({ errors: [{ extensions: { code: 'UPLOAD_REJECTED' } }] });
      const after = await alice.read(upload.id);
      expect(after).toMatchObject({ status: 'REJECTED', width: null, uploadUrl: null });
      expect(after!.rejectionReason).toBe(
        'contentType: declared image/jpeg, but the bytes are a PNG image (image/png)',
      );
      expect(existsSync(stored(upload.id))).toBe(false);

      // An MP4 declared as an image, and bytes that are nothing accepted.
      const video = await alice.created('image/png', SAMPLE_MP4.length);
      await put(video, SAMPLE_MP4);
      expect((await alice.read(video.id))!.rejectionReason).toMatch(/^contentType: .* an MP4 video/);
      const text = Buffer.from('just some text, not an image at all');
      const other = await alice.created('image/webp', text.length);
      await put(other, text);
      expect((await alice.read(other.id))!.rejectionReason).toMatch(/not JPEG, PNG, WEBP, MP4 or MOV$/);
    });

    it('rejects a body that is not exactly byteSize, by Content-Length or by counting', async () => {
      const alice = as('alice');
      const bytes = png(320, 320);
      const declaredMore = await alice.created('image/png', bytes.length + 10);
      expect((await put(declaredMore, bytes)).status).toBe(422);
      expect((await alice.read(declaredMore.id))!.rejectionReason).toMatch(/^byteSize: declared \d+ bytes/);

      const short = await alice.created('image/png', bytes.length + 10);
      expect((await put(short, chunked(bytes))).status).toBe(422);
      expect((await alice.read(short.id))!.rejectionReason).toBe(
        `byteSize: declared ${bytes.length + 10} bytes, but ${bytes.length} bytes were sent`,
      );
      const long = await alice.created('video/mp4', 2_000);
      expect((await put(long, chunked(SAMPLE_MP4))).status).toBe(422);
      expect((await alice.read(long.id))!.rejectionReason).toBe(
        'byteSize: declared 2000 bytes, but more than that bytes were sent',
      );
      for (const id of [declaredMore.id, short.id, long.id]) expect(existsSync(stored(id))).toBe(false);
    });

    it('rejects an image whose header does not give its size', async () => {
      const alice = as('alice');
      const bytes = Buffer.concat([png(300, 300).subarray(0, 8), Buffer.alloc(200)]);
      const upload = await alice.created('image/png', bytes.length);
      expect((await put(upload, bytes)).status).toBe(422);
      expect((await alice.read(upload.id))!.rejectionReason).toMatch(/^dimensions: /);
    });

    it('lets a PUT cut by the client mid-body be sent again', async () => {
      const alice = as('cutter');
      const bytes = SAMPLE_MP4;
      const upload = await alice.created('video/mp4', bytes.length);
      const target = new URL(upload.uploadUrl!);
      await new Promise<void>((resolve) => {
        const request = httpRequest(target, {
          method: 'PUT',
          headers: { 'content-type': 'video/mp4', 'content-length': bytes.length },
        });
        request.on('error', () => resolve());
        request.write(bytes.subarray(0, 20_000), () => setTimeout(() => request.destroy(), 200));
      });
      await eventually(
        () => put(upload, bytes),
        (sent) => sent.status !== 409,
      ).then((sent) => expect(sent.body).toMatchObject({ status: 'READY' }));
      expect(readFileSync(stored(upload.id)).equals(bytes)).toBe(true);
    });

    it('refuses a second PUT, a PUT with a bad or moved signature, and a PUT after expiry', async () => {
      const alice = as('alice');
      const bytes = png(300, 300);
      const upload = await alice.created('image/png', bytes.length);
      const link = upload.uploadUrl!;
      expect((await put(upload, bytes)).status).toBe(200);
      const again = await put(upload, png(300, 300), link);
      expect(again.status).toBe(409);
      expect(again.body).toMatchObject({ errors: [{ extensions: { code: 'UPLOAD_ALREADY_SENT' } }] });

      const other = await alice.created('image/png', bytes.length);
      const tampered = other.uploadUrl!.replace(/signature=[^&]+/, `signature=${'A'.repeat(43)}`);
      expect((await put(other, bytes, tampered)).status).toBe(403);
      // Another upload's signature does not open this one.
      expect((await put(other, bytes, link.replace(upload.id, other.id))).status).toBe(403);
      await t.db.database.db.execute(
        sql`update uploads set expires_at = now() - interval '1 second' where id = ${other.id}`,
      );
      // Refused as expired, or not found once the sweeper (every 100 ms here) has forgotten it.
      expect([403, 404]).toContain((await put(other, bytes)).status);
    });

    it("keeps uploads to their caller: another caller's id reads null and completes NOT_FOUND", async () => {
      const upload = await as('alice').created('image/png', 1_000);
      const mallory = as('mallory');
      expect(await mallory.read(upload.id)).toBeNull();
      expect((await mallory.complete(upload.id)).errors?.[0]?.extensions.code).toBe('NOT_FOUND');
      expect((await mallory.complete('not-a-uuid')).errors?.[0]?.extensions.code).toBe('NOT_FOUND');
    });

    it('refuses bad input field by field before anything is stored', async () => {
      const alice = as('alice');
      const refusal = async (input: { contentType: string; byteSize: number; filename?: string }) => {
        const reply = await alice.create(input);
        expect(reply.data).toBeNull();
        expect(reply.errors?.[0]?.extensions.code).toBe('BAD_USER_INPUT');
        return reply.errors![0]!.extensions.issues;
      };
      expect(await refusal({ contentType: 'image/gif', byteSize: 10 })).toEqual([
        {
          field: 'input.contentType',
          message: 'must be one of image/jpeg, image/png, image/webp, video/mp4, video/quicktime',
        },
      ]);
      expect(await refusal({ contentType: 'image/png', byteSize: 0 })).toEqual([
        { field: 'input.byteSize', message: 'must be at least 1 byte' },
      ]);
      expect(await refusal({ contentType: 'image/png', byteSize: 10 * 1024 * 1024 + 1 })).toEqual([
        { field: 'input.byteSize', message: `must be at most ${10 * 1024 * 1024} bytes for an image` },
      ]);
      expect(await refusal({ contentType: 'video/mp4', byteSize: MAX_VIDEO_BYTES + 1 })).toEqual([
        {
          field: 'input.byteSize',
          message: `must be at most ${MAX_VIDEO_BYTES} bytes for a video (UPLOAD_MAX_VIDEO_BYTES)`,
        },
      ]);
      expect(await refusal({ contentType: 'image/png', byteSize: 10, filename: 'a\u0000b' })).toEqual([
        { field: 'input.filename', message: 'must not contain control characters' },
      ]);
      const result = await t.db.database.db.execute(
        sql`select id from uploads where owner_id = ${`${backend}-alice`} and byte_size > ${MAX_VIDEO_BYTES}`,
      );
      // postgres.js gives the rows, PGlite an object holding them.
      expect(executedRows(result)).toHaveLength(0);
    });

    it('holds LIMIT_UPLOAD_BYTES_PER_DAY under racing createUpload calls', async () => {
      const racer = as('racer');
      const replies = await Promise.all(
        Array.from({ length: 12 }, () => racer.create({ contentType: 'video/mp4', byteSize: 30_000 })),
      );
      const admitted = replies.filter((reply) => reply.data?.createUpload);
      // Six of 30,000 bytes fit in 200,000; a seventh would make 210,000.
      expect(admitted).toHaveLength(6);
      const refusals = replies.filter((reply) => reply.errors).map((reply) => reply.errors![0]!);
      expect(refusals).toHaveLength(6);
      expect(refusals[0]!.message).toContain('LIMIT_UPLOAD_BYTES_PER_DAY');
      expect(refusals[0]!.extensions).toMatchObject({
        code: 'UPLOAD_LIMIT_EXCEEDED',
        limit: DAILY_BYTES,
        usedBytes: 180_000,
        byteSize: 30_000,
      });
      // Someone else's bytes are their own.
      expect((await as('other racer').create({ contentType: 'video/mp4', byteSize: 30_000 })).errors).toBeUndefined();
    });

    it('sweeps expired uploads and their bytes, but not one a job used', async () => {
      const alice = as('alice');
      const bytes = png(300, 300);
      const [expiring, used] = [
        await alice.created('image/png', bytes.length),
        await alice.created('image/png', bytes.length),
      ];
      for (const upload of [expiring, used]) expect((await put(upload, bytes)).status).toBe(200);
      expect(existsSync(stored(expiring.id))).toBe(true);
      const { database } = t.db;
      await database.db.execute(sql`update uploads set used_at = now() where id = ${used.id}`);
      await database.db.execute(
        sql`update uploads set expires_at = now() - interval '1 second' where id in (${expiring.id}, ${used.id})`,
      );
      await eventually(
        () => alice.read(expiring.id),
        (upload) => upload === null,
      );
      // The row goes first, then the bytes.
      await eventually(
        () => existsSync(stored(expiring.id)),
        (exists) => !exists,
      );
      // A few more sweeps: the used one stays.
      const cycles = t.gw.gateway.loops.cycles('upload sweeper');
      await eventually(
        () => t.gw.gateway.loops.cycles('upload sweeper'),
        (done) => done >= cycles + 3,
      );
      expect((await alice.read(used.id))?.status).toBe('READY');
      expect(existsSync(stored(used.id))).toBe(true);
    });
  });
}

describe('uploads with S3 storage through s3rver (presigned PUT, checked by completeUpload)', () => {
  const bucket = 'media';
  let s3: S3rverHandle;
  let gw: TestGateway;
  let fake: FakeAtlas;
  let drop = async () => {};

  beforeAll(async () => {
    s3 = await startS3rver(bucket);
    const { port } = s3;
    const database = await createServerDatabase();
    drop = database.drop;
    fake = await FakeAtlas.start();
    gw = await startGateway({
      databaseUrl: database.url,
      atlasUrl: fake.url,
      env: {
        AUTH_MODE: 'jwt',
        AUTH_JWT_SECRET: JWT_SECRET,
        ...s3StorageEnv(`s3://${bucket}/gateway`, `http://127.0.0.1:${port}`),
      },
    });
  });
  afterAll(async () => {
    await gw?.close();
    await fake?.close();
    await s3?.close();
    await drop();
  });

  it('PUTs to a presigned URL, then completeUpload reads the head with a range GET: READY with pixels, or REJECTED', async () => {
    const alice = caller(() => gw.url, 's3-alice');
    const bytes = jpeg(800, 450);
    const upload = await alice.created('image/jpeg', bytes.length);
    const url = new URL(upload.uploadUrl!);
    expect(url.pathname).toBe(`/${bucket}/gateway/uploads/${upload.id}`);
    expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    expect(upload.headers).toEqual([
      { name: 'content-type', value: 'image/jpeg' },
      { name: 'if-none-match', value: '*' },
    ]);
    // Not sent yet: still PENDING.
    expect((await alice.complete(upload.id)).data?.completeUpload.status).toBe('PENDING');
    const sent = await fetch(upload.uploadUrl!, {
      method: 'PUT',
      headers: Object.fromEntries(upload.headers.map(({ name, value }) => [name, value])),
      body: new Uint8Array(bytes),
    });
    expect(sent.status).toBe(200);
    expect((await alice.complete(upload.id)).data?.completeUpload).toMatchObject({
      status: 'READY',
      width: 800,
      height: 450,
      uploadUrl: null,
    });
    expect((await caller(() => gw.url, 's3-mallory').complete(upload.id)).errors?.[0]?.extensions.code).toBe(
      'NOT_FOUND',
    );

    // A PNG declared as JPEG, and a short body: REJECTED on completion, and the object deleted.
    const liar = await alice.created('image/jpeg', png(300, 300).length);
    await fetch(liar.uploadUrl!, {
      method: 'PUT',
      headers: { 'content-type': 'image/jpeg' },
      body: new Uint8Array(png(300, 300)),
    });
    const rejected = (await alice.complete(liar.id)).data?.completeUpload;
    expect(rejected).toMatchObject({ status: 'REJECTED' });
    expect(rejected!.rejectionReason).toMatch(/^contentType: /);
    const short = await alice.created('image/jpeg', bytes.length + 1);
    await fetch(short.uploadUrl!, {
      method: 'PUT',
      headers: { 'content-type': 'image/jpeg' },
      body: new Uint8Array(bytes),
    });
    expect((await alice.complete(short.id)).data?.completeUpload.rejectionReason).toBe(
      `byteSize: declared ${bytes.length + 1} bytes, but ${bytes.length} bytes were sent`,
    );
    const gone = await fetch(`${url.origin}/${bucket}/gateway/uploads/${short.id}`);
    expect(gone.status).toBe(404);
  });
});
