/**
 * The typed client's uploadMedia against a real gateway (JWT auth): a Buffer, a Blob, a File
 * and streams become READY with progress up to their size; bytes that disagree with their type come
 * back as an UploadRejectedError; what cannot be described is refused before anything is created; an
 * abort stops the PUT. Then S3 through s3rver behind a recording proxy on another origin: the PUT
 * carries the presigned headers and never the caller's token.
 */
import { readFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createVideoClient,
  type UploadProgress,
  UploadRejectedError,
  VideoClientError,
} from '../packages/client/src/client/index.ts';
import { hs256Token } from './support/auth.ts';
import { FakeAtlas } from './support/fakeAtlas.ts';
import {
  createServerDatabase,
  eventually,
  gatewayFixture,
  ONE_BACKEND,
  startGateway,
  type TestGateway,
} from './support/gateway.ts';
import { jpeg, png } from './support/images.ts';
import { type S3rverHandle, s3StorageEnv, startS3rver } from './support/s3.ts';

const JWT_SECRET = 'client-uploads-secret-of-at-least-32-characters';
const SAMPLE_MP4 = readFileSync(fileURLToPath(new URL('../src/simulator/sample.mp4', import.meta.url)));

interface Sent {
  method: string;
  url: string;
  authorization: string | null;
}

/** A client whose every request (GraphQL and PUT) is recorded, with the token `sub`'s JWT. */
function recordingClient(url: string, subject: string) {
  const sent: Sent[] = [];
  const client = createVideoClient({
    url,
    token: () => hs256Token(JWT_SECRET, subject),
    fetch: (input, init) => {
      const headers = new Headers(init?.headers);
      sent.push({ method: init?.method ?? 'GET', url: String(input), authorization: headers.get('authorization') });
      return fetch(input, init);
    },
  });
  return { client, sent, puts: () => sent.filter((request) => request.method === 'PUT') };
}

/** A web stream of `bytes` in pieces of `size`, as a file read from disk or the network arrives. */
function pieces(bytes: Uint8Array, size = 1000): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + size));
      offset += size;
    },
  });
}

/** The VideoClientError a call must fail with. */
async function refusal(call: Promise<unknown>): Promise<VideoClientError> {
  const error = await call.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(VideoClientError);
  return error as VideoClientError;
}

/** Progress reports only grow, and the last is the whole size. */
function expectProgressToTotal(reports: UploadProgress[], total: number) {
  expect(reports.length).toBeGreaterThan(1);
  expect(reports.every((report) => report.total === total)).toBe(true);
  const loaded = reports.map((report) => report.loaded);
  expect(loaded).toEqual([...loaded].sort((a, b) => a - b));
  expect(loaded.at(-1)).toBe(total);
}

describe('uploadMedia with the gateway storing the bytes', () => {
  const t = gatewayFixture(ONE_BACKEND, { AUTH_MODE: 'jwt', AUTH_JWT_SECRET: JWT_SECRET });

  it('sends a Buffer (type from the filename) and a typed Blob: READY with pixels, progress to the whole size', async () => {
    const { client, sent, puts } = recordingClient(t.gw.url, 'alice');
    const bytes = jpeg(800, 450);
    const reports: UploadProgress[] = [];
    const fromBuffer = await client.uploadMedia(bytes, {
      filename: 'horse.jpg',
      onProgress: (report) => reports.push(report),
    });
    expect(fromBuffer).toMatchObject({
      status: 'READY',
      contentType: 'image/jpeg',
      byteSize: bytes.length,
      filename: 'horse.jpg',
      width: 800,
      height: 450,
      uploadUrl: null,
    });
    expectProgressToTotal(reports, bytes.length);

    const image = png(640, 640);
    const fromBlob = await client.uploadMedia(new Blob([new Uint8Array(image)], { type: 'image/png' }));
    expect(fromBlob).toMatchObject({ status: 'READY', contentType: 'image/png', byteSize: image.length, width: 640 });
    // A File with no type: its name says what it is.
    const fromFile = await client.uploadMedia(new File([new Uint8Array(image)], 'square.PNG'));
    expect(fromFile).toMatchObject({ status: 'READY', contentType: 'image/png', filename: 'square.PNG' });
    expect(await client.upload(fromFile.id)).toMatchObject({ id: fromFile.id, status: 'READY' });

    // GraphQL carries the token; the PUT to the signed link carries none, as it needs none.
    expect(sent.filter((request) => request.method === 'POST').every((request) => request.authorization)).toBe(true);
    expect(puts()).toHaveLength(3);
    expect(puts().map((request) => request.authorization)).toEqual([null, null, null]);
    expect(puts()[0]!.url).toContain(`/uploads/${fromBuffer.id}?`);
  });

  it('streams a web ReadableStream and a Node stream with their byteSize, reporting progress as the pieces go', async () => {
    const { client } = recordingClient(t.gw.url, 'alice');
    const reports: UploadProgress[] = [];
    const video = await client.uploadMedia(pieces(SAMPLE_MP4), {
      filename: 'clip.mp4',
      byteSize: SAMPLE_MP4.length,
      onProgress: (report) => reports.push(report),
    });
    expect(video).toMatchObject({ status: 'READY', contentType: 'video/mp4', byteSize: SAMPLE_MP4.length });
    expectProgressToTotal(reports, SAMPLE_MP4.length);
    // One report per piece at least: progress moved while the body was being sent.
    expect(new Set(reports.map((report) => report.loaded)).size).toBeGreaterThan(SAMPLE_MP4.length / 1000);

    const fromNode = await client.uploadMedia(
      Readable.from([SAMPLE_MP4.subarray(0, 30_000), SAMPLE_MP4.subarray(30_000)]),
      {
        contentType: 'video/mp4',
        byteSize: SAMPLE_MP4.length,
      },
    );
    expect(fromNode.status).toBe('READY');
  });

  it('throws an UploadRejectedError with the reason when the bytes disagree with their type', async () => {
    const { client } = recordingClient(t.gw.url, 'alice');
    const error = await client.uploadMedia(png(300, 300), { filename: 'photo.jpg' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UploadRejectedError);
    expect(error).toBeInstanceOf(VideoClientError);
    const rejected = error as UploadRejectedError;
    expect(rejected.code).toBe('UPLOAD_REJECTED');
    expect(rejected.rejectionReason).toBe(
      'contentType: declared image/jpeg, but the bytes are a PNG image (image/png)',
    );
    expect(rejected.upload.status).toBe('REJECTED');
    expect((await client.upload(rejected.upload.id))?.status).toBe('REJECTED');

    // A stream that gives fewer bytes than it declared never reaches the gateway's checks as READY.
    const short = await refusal(
      client.uploadMedia(pieces(SAMPLE_MP4.subarray(0, 5_000)), { contentType: 'video/mp4', byteSize: 6_000 }),
    );
    expect(short.code).toBe('BAD_USER_INPUT');
    expect(short.extensions.issues).toEqual([
      { field: 'byteSize', message: 'was declared 6000 bytes, but the stream gave 5000' },
    ]);
  });

  it('refuses what it cannot describe before creating anything', async () => {
    const { client, sent } = recordingClient(t.gw.url, 'alice');
    const untyped = await refusal(client.uploadMedia(new Blob([new Uint8Array(png(10, 10))])));
    expect(untyped.code).toBe('BAD_USER_INPUT');
    expect(untyped.extensions.issues).toEqual([
      {
        field: 'contentType',
        message: 'cannot be inferred: pass contentType (image/jpeg, image/png, image/webp, video/mp4, video/quicktime)',
      },
    ]);
    const unknownExtension = await refusal(client.uploadMedia(png(10, 10), { filename: 'notes.txt' }));
    expect(unknownExtension.message).toMatch(/^contentType cannot be inferred from the filename "notes.txt"/);
    const sizeless = await refusal(client.uploadMedia(pieces(SAMPLE_MP4), { contentType: 'video/mp4' }));
    expect(sizeless.extensions.issues).toEqual([
      {
        field: 'byteSize',
        message: 'is required for a stream: the gateway must know the size before the bytes arrive',
      },
    ]);
    expect(sent).toEqual([]);
  });

  it('stops when its signal aborts mid-PUT: ABORTED, and the upload is not READY', async () => {
    const { client, puts } = recordingClient(t.gw.url, 'alice');
    const controller = new AbortController();
    // The first piece, then nothing more until the abort.
    let given = false;
    const stalled = new ReadableStream<Uint8Array>({
      pull(stream) {
        if (!given) {
          given = true;
          stream.enqueue(SAMPLE_MP4.subarray(0, 1000));
        }
        return new Promise(() => {});
      },
    });
    const error = await refusal(
      client.uploadMedia(stalled, {
        contentType: 'video/mp4',
        byteSize: SAMPLE_MP4.length,
        signal: controller.signal,
        onProgress: ({ loaded }) => loaded > 0 && controller.abort(),
      }),
    );
    expect(error.code).toBe('ABORTED');
    expect(puts()).toHaveLength(1);
    const id = new URL(puts()[0]!.url).pathname.split('/').at(-1)!;
    // The gateway saw the body cut: it keeps nothing, and the upload waits to be sent again.
    const after = await eventually(
      () => client.upload(id),
      (upload) => upload?.uploadUrl !== null,
    );
    expect(after).toMatchObject({ status: 'PENDING' });

    // Aborted before it starts: nothing is created.
    const before = recordingClient(t.gw.url, 'alice');
    const early = await refusal(
      before.client.uploadMedia(jpeg(100, 100), { contentType: 'image/jpeg', signal: AbortSignal.abort() }),
    );
    expect(early.code).toBe('ABORTED');
    expect(before.sent).toEqual([]);
  });
});

/** An HTTP proxy that records each request's method, path and headers, then passes it on unchanged (Host too). */
async function recordingProxy(target: { port: number }) {
  const seen: { method: string; path: string; headers: IncomingHttpHeaders }[] = [];
  const server: Server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers });
    const onward = httpRequest(
      { host: '127.0.0.1', port: target.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    onward.on('error', () => res.destroy());
    req.pipe(onward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    seen,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('uploadMedia with S3 storage (s3rver on another origin)', () => {
  const bucket = 'media';
  let s3: S3rverHandle;
  let proxy: Awaited<ReturnType<typeof recordingProxy>>;
  let gw: TestGateway;
  let fake: FakeAtlas;
  let drop = async () => {};

  beforeAll(async () => {
    s3 = await startS3rver(bucket);
    const { port } = s3;
    proxy = await recordingProxy({ port });
    const database = await createServerDatabase();
    drop = database.drop;
    fake = await FakeAtlas.start();
    gw = await startGateway({
      databaseUrl: database.url,
      atlasUrl: fake.url,
      env: {
        AUTH_MODE: 'jwt',
        AUTH_JWT_SECRET: JWT_SECRET,
        ...s3StorageEnv(`s3://${bucket}/gateway`, proxy.url),
      },
    });
  });
  afterAll(async () => {
    await gw?.close();
    await fake?.close();
    await proxy?.close();
    await s3?.close();
    await drop();
  });

  it('PUTs to the presigned URL with its signed headers and no token, then completes: READY, or REJECTED', async () => {
    const { client, puts } = recordingClient(gw.url, 's3-alice');
    const bytes = jpeg(800, 450);
    const reports: UploadProgress[] = [];
    const upload = await client.uploadMedia(bytes, {
      contentType: 'image/jpeg',
      onProgress: (report) => reports.push(report),
    });
    expect(upload).toMatchObject({ status: 'READY', width: 800, height: 450 });
    expectProgressToTotal(reports, bytes.length);

    expect(new URL(puts()[0]!.url).origin).toBe(proxy.url);
    expect(new URL(puts()[0]!.url).origin).not.toBe(new URL(gw.url).origin);
    const put = proxy.seen.find(
      (request) => request.method === 'PUT' && request.path.includes(`/uploads/${upload.id}`),
    );
    expect(put?.headers).toMatchObject({
      'content-type': 'image/jpeg',
      'if-none-match': '*',
      'content-length': String(bytes.length),
    });
    expect(put?.headers.authorization).toBeUndefined();

    const error = await client.uploadMedia(png(300, 300), { contentType: 'image/jpeg' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UploadRejectedError);
    expect((error as UploadRejectedError).rejectionReason).toMatch(/^contentType: declared image\/jpeg/);
  });
});
