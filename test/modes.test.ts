/**
 * The HappyHorse family through a real gateway, on PGlite and on the Postgres server, against the
 * fake upstream (which refuses a body with a missing or unknown field for its model): each mode end
 * to end with the exact create body, media from uploads and from the caller's URLs, prices from
 * PRICES, predictions(mode:), and every limit refused field by field with nothing stored or sent.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { hs256Token } from './support/auth.ts';
import { FakeAtlas, httpError } from './support/fakeAtlas.ts';
import {
  BACKENDS,
  createServerDatabase,
  eventually,
  gatewayFixture,
  startGateway,
  type TestGateway,
} from './support/gateway.ts';
import { jpeg, png, webp } from './support/images.ts';
import { type S3rverHandle, s3StorageEnv, startS3rver } from './support/s3.ts';

const JWT_SECRET = 'modes-test-secret-of-at-least-32-characters';
const SAMPLE_MP4 = readFileSync(fileURLToPath(new URL('../src/simulator/sample.mp4', import.meta.url)));
/** Where the gateway says it is (VIDEO_BASE_URL): the links Atlas is handed point here. */
const BASE_URL = 'https://gateway.example';
const PRICES = JSON.stringify({
  IMAGE_TO_VIDEO: { '720P': { perSecondUsd: 0.14 }, '1080P': { perSecondUsd: 0.24 } },
  VIDEO_EDIT: { perRunUsd: 0.5 },
});

const I2V = 'alibaba/happyhorse-1.0/image-to-video';
const R2V = 'alibaba/happyhorse-1.0/reference-to-video';
const EDIT = 'alibaba/happyhorse-1.0/video-edit';

const FIELDS = `id status mode model prompt resolution aspectRatio duration seed priceUsd costUsd videoUrl
  media { role url uploadId } createdAt estimatedCompletionAt`;
const payload = `{ prediction { ${FIELDS} } }`;
const FROM_IMAGE = `mutation I($input: GenerateVideoFromImageInput!) { generateVideoFromImage(input: $input) ${payload} }`;
const FROM_REFERENCES = `mutation R($input: GenerateVideoFromReferencesInput!) { generateVideoFromReferences(input: $input) ${payload} }`;
const EDIT_VIDEO = `mutation E($input: EditVideoInput!) { editVideo(input: $input) ${payload} }`;
const GENERATE = `mutation G($input: GenerateVideoInput!) { generateVideo(input: $input) ${payload} }`;
const PREDICTION = `query P($id: ID!) { prediction(id: $id) { ${FIELDS} } }`;
const CREATE_UPLOAD = `mutation C($input: CreateUploadInput!) { createUpload(input: $input) { upload { id uploadUrl headers { name value } } } }`;

interface Prediction {
  id: string;
  status: string;
  mode: string;
  priceUsd: number;
  costUsd: number | null;
  media: { role: string; url: string | null; uploadId: string | null }[];
  [field: string]: unknown;
}
interface Reply<T> {
  data?: T | null;
  errors?: { message: string; extensions: { code: string; issues?: { field: string; message: string }[] } }[];
}
type Job = Record<string, { prediction: Prediction }>;

for (const backend of BACKENDS) {
  describe(`the model family on ${backend}`, () => {
    const t = gatewayFixture(backend, {
      AUTH_MODE: 'jwt',
      AUTH_JWT_SECRET: JWT_SECRET,
      STORAGE_URL: `file:${mkdtempSync(join(tmpdir(), 'hh-modes-'))}`,
      VIDEO_BASE_URL: BASE_URL,
      PRICES,
      PRICE_PER_RUN_USD: '0.14',
      LIMIT_DAILY_SPEND_USD: '3',
    });
    beforeEach(async () => {
      t.fake.reset();
      // The outputs are copied into storage (STORAGE_URL is set) before a job is SUCCEEDED.
      t.fake.jobsWithFiles(() => ({ body: SAMPLE_MP4 }));
      await t.db.truncate();
    });

    /** One caller: GraphQL over the real socket with its token, and uploads sent with their one PUT. */
    function as(subject: string) {
      const who = `${backend}-${subject}`;
      const gql = async <T>(query: string, variables: Record<string, unknown> = {}): Promise<Reply<T>> => {
        const response = await fetch(t.gw.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${await hs256Token(JWT_SECRET, who)}` },
          body: JSON.stringify({ query, variables }),
        });
        return (await response.json()) as Reply<T>;
      };
      /** An upload of these bytes: sent (READY or REJECTED by the gateway's checks) unless `send` is false. */
      const upload = async (contentType: string, bytes: Buffer, { send = true, declared = contentType } = {}) => {
        const created = await gql<{
          createUpload: { upload: { id: string; uploadUrl: string; headers: { name: string; value: string }[] } };
        }>(CREATE_UPLOAD, { input: { contentType: declared, byteSize: bytes.length } });
        expect(created.errors).toBeUndefined();
        const { id, uploadUrl, headers } = created.data!.createUpload.upload;
        expect(uploadUrl.startsWith(`${BASE_URL}/uploads/${id}?`)).toBe(true);
        if (send) {
          // The link names VIDEO_BASE_URL; the gateway under test listens here.
          const target = new URL(uploadUrl);
          await fetch(new URL(`${target.pathname}${target.search}`, t.gw.url), {
            method: 'PUT',
            headers: Object.fromEntries(headers.map(({ name, value }) => [name, value])),
            body: new Uint8Array(bytes),
          }).then((response) => response.text());
        }
        return id;
      };
      const job = async (query: string, input: Record<string, unknown>) => {
        const reply = await gql<Job>(query, { input });
        expect(reply.errors).toBeUndefined();
        return Object.values(reply.data!)[0]!.prediction;
      };
      const read = async (id: string) => (await gql<{ prediction: Prediction }>(PREDICTION, { id })).data!.prediction;
      return { gql, upload, job, read };
    }

    /**
     * Without PUBLIC_URL the upload goes to Atlas' uploadMedia (once), and the job names its download_url:
     * the fake's copy of exactly these bytes.
     */
    const atlasCopyOf = (bytes: Buffer) => {
      const copies = t.fake.media.filter((media) => media.body.equals(bytes));
      expect(copies).toHaveLength(1);
      return copies[0]!.url;
    };
    /** Prediction.media.url for an upload: the gateway's signed read link (at VIDEO_BASE_URL), which opens its bytes. */
    const opensTo = async (link: string, id: string, bytes: Buffer) => {
      expect(link).toMatch(new RegExp(`^${BASE_URL}/uploads/${id}\\?`));
      const url = new URL(link);
      const response = await fetch(new URL(`${url.pathname}${url.search}`, t.gw.url));
      expect(Buffer.from(await response.arrayBuffer()).equals(bytes)).toBe(true);
    };
    const storedCount = async () => {
      const rows = await t.db.database.db.execute<{ n: number }>(sql`select count(*)::int as n from predictions`);
      return Number(
        (rows as unknown as { rows?: { n: number }[] }).rows?.[0]?.n ?? (rows as unknown as { n: number }[])[0]?.n,
      );
    };

    it('image to video from an upload: image_url is a signed link to it, priced per second, and it finishes', async () => {
      const alice = as('alice');
      const bytes = png(640, 360);
      const image = await alice.upload('image/png', bytes);
      const started = await alice.job(FROM_IMAGE, {
        image: { uploadId: image },
        resolution: 'RES_1080P',
        duration: 4,
        seed: 11,
      });
      expect(started).toMatchObject({
        mode: 'IMAGE_TO_VIDEO',
        model: I2V,
        prompt: null,
        aspectRatio: null,
        resolution: 'RES_1080P',
        duration: 4,
        seed: 11,
        priceUsd: 0.96,
        media: [{ role: 'IMAGE', uploadId: image }],
      });
      await opensTo(started.media[0]!.url!, image, bytes);
      // Progress before any such job finished: the descriptor's prior for 4 s at 1080P.
      expect(Date.parse(started.estimatedCompletionAt as string) - Date.parse(started.createdAt as string)).toBe(
        100_000,
      );
      expect(t.fake.creates.map((create) => create.body)).toEqual([
        { model: I2V, image_url: atlasCopyOf(bytes), resolution: '1080P', duration: 4, seed: 11 },
      ]);
      const done = await eventually(
        () => alice.read(started.id),
        (p) => p.status === 'SUCCEEDED',
      );
      expect(done.costUsd).toBe(0.96);
    });

    it('reference to video from the caller URLs and uploads, in order, priced per run by default', async () => {
      const alice = as('alice');
      const bytes = jpeg(400, 900);
      const second = await alice.upload('image/jpeg', bytes);
      const started = await alice.job(FROM_REFERENCES, {
        images: [{ url: 'https://cdn.example.com/hero.png' }, { uploadId: second }],
        prompt: 'character1 hands character2 a lantern',
        aspectRatio: 'RATIO_1_1',
      });
      expect(started).toMatchObject({
        mode: 'REFERENCE_TO_VIDEO',
        aspectRatio: 'RATIO_1_1',
        duration: 5,
        priceUsd: 0.14,
        media: [
          { role: 'REFERENCE', url: 'https://cdn.example.com/hero.png', uploadId: null },
          { role: 'REFERENCE', uploadId: second },
        ],
      });
      expect(t.fake.creates[0]!.body).toEqual({
        model: R2V,
        prompt: 'character1 hands character2 a lantern',
        reference_image_urls: ['https://cdn.example.com/hero.png', atlasCopyOf(bytes)],
        aspect_ratio: '1:1',
        resolution: '720P',
        duration: 5,
      });
      await eventually(
        () => alice.read(started.id),
        (p) => p.status === 'SUCCEEDED',
      );
    });

    it('edits a video with reference images, keeping its sound: audio_setting origin, priced per run from PRICES', async () => {
      const alice = as('alice');
      const video = await alice.upload('video/mp4', SAMPLE_MP4);
      const started = await alice.job(EDIT_VIDEO, {
        video: { uploadId: video },
        referenceImages: [{ url: 'https://cdn.example.com/style.webp' }],
        prompt: 'make it watercolour',
        audio: 'KEEP_ORIGINAL',
        seed: 7,
      });
      expect(started).toMatchObject({ mode: 'VIDEO_EDIT', duration: null, aspectRatio: null, priceUsd: 0.5 });
      // Progress before any edit has finished: the descriptor's typical run time (no length to go by).
      expect(Date.parse(started.estimatedCompletionAt as string) - Date.parse(started.createdAt as string)).toBe(
        105_000,
      );
      expect(started.media.map((media) => media.role)).toEqual(['VIDEO', 'REFERENCE']);
      expect(t.fake.creates[0]!.body).toEqual({
        model: EDIT,
        video_url: atlasCopyOf(SAMPLE_MP4),
        reference_image_urls: ['https://cdn.example.com/style.webp'],
        prompt: 'make it watercolour',
        resolution: '720P',
        audio_setting: 'origin',
        seed: 7,
      });
      // Without reference images and with the default audio: no reference field, new audio.
      await alice.job(EDIT_VIDEO, { video: { url: 'https://cdn.example.com/clip.mp4' }, prompt: 'at night' });
      expect(t.fake.creates[1]!.body).toEqual({
        model: EDIT,
        video_url: 'https://cdn.example.com/clip.mp4',
        prompt: 'at night',
        resolution: '720P',
        audio_setting: 'auto',
      });
      await eventually(
        () => alice.read(started.id),
        (p) => p.status === 'SUCCEEDED',
      );
    });

    it('keeps text to video as it was, and lists by mode', async () => {
      const alice = as('alice');
      const text = await alice.job(GENERATE, { prompt: 'a horse' });
      expect(text).toMatchObject({ mode: 'TEXT_TO_VIDEO', media: [], aspectRatio: 'RATIO_16_9', duration: 5 });
      expect(t.fake.creates[0]!.body).toEqual({
        model: 'alibaba/happyhorse-1.0/text-to-video',
        prompt: 'a horse',
        resolution: '720P',
        aspect_ratio: '16:9',
        duration: 5,
      });
      const image = await alice.job(FROM_IMAGE, { image: { url: 'https://cdn.example.com/a.png' }, prompt: 'runs' });
      const list = async (mode?: string[]) =>
        (
          await alice.gql<{ predictions: { edges: { node: { id: string; mode: string } }[] } }>(
            'query L($mode: [Mode!]) { predictions(first: 10, mode: $mode) { edges { node { id mode } } } }',
            { mode },
          )
        ).data!.predictions.edges.map((edge) => edge.node);
      expect(await list(['IMAGE_TO_VIDEO'])).toEqual([{ id: image.id, mode: 'IMAGE_TO_VIDEO' }]);
      expect(await list(['TEXT_TO_VIDEO', 'VIDEO_EDIT'])).toEqual([{ id: text.id, mode: 'TEXT_TO_VIDEO' }]);
      expect(await list()).toHaveLength(2);
      expect(await list([])).toEqual([]);
    });

    it('takes an idempotency key and a cancel as generateVideo does: one job and one upstream call per key', async () => {
      // Still running when it is cancelled.
      t.fake.timedJobs = { runMs: 60_000 };
      const alice = as('alice');
      const image = await alice.upload('image/webp', webp(800, 800));
      const input = { image: { uploadId: image }, prompt: 'spins', idempotencyKey: 'spin-1' };
      const first = await alice.job(FROM_IMAGE, input);
      const again = await alice.job(FROM_IMAGE, input);
      expect(again.id).toBe(first.id);
      expect(t.fake.creates).toHaveLength(1);
      expect(t.fake.media).toHaveLength(1);
      // The same key with other media is another request.
      const other = await alice.gql<Job>(FROM_IMAGE, {
        input: { ...input, image: { url: 'https://cdn.example.com/other.png' } },
      });
      expect(other.errors?.[0]?.extensions.code).toBe('IDEMPOTENCY_KEY_REUSED');
      const cancelled = await alice.gql<{ cancelPrediction: { status: string } }>(
        'mutation X($id: ID!) { cancelPrediction(id: $id) { status } }',
        { id: first.id },
      );
      expect(cancelled.data?.cancelPrediction.status).toBe('CANCELED');
    });

    it('stores nothing and submits nothing when an upload cannot be handed to Atlas', async () => {
      const alice = as('alice');
      const image = await alice.upload('image/png', png(640, 640));
      t.fake.uploadMediaReplies.push(httpError(503), httpError(503), httpError(503));
      const reply = await alice.gql<Job>(FROM_IMAGE, { input: { image: { uploadId: image } } });
      expect(reply.errors?.[0]?.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
      expect(await storedCount()).toBe(0);
      expect(t.fake.creates).toHaveLength(0);
      // Once Atlas takes it, the same upload works.
      t.fake.uploadMediaReplies.length = 0;
      await alice.job(FROM_IMAGE, { image: { uploadId: image } });
      expect(t.fake.creates).toHaveLength(1);
    });

    it('counts the per-second price against the daily spend limit', async () => {
      const alice = as('alice');
      // 1080P at $0.24/s for 15 s is $3.60, past LIMIT_DAILY_SPEND_USD=3.
      const reply = await alice.gql<Job>(FROM_IMAGE, {
        input: { image: { url: 'https://cdn.example.com/a.png' }, resolution: 'RES_1080P', duration: 15 },
      });
      expect(reply.errors?.[0]?.extensions).toMatchObject({ code: 'BUDGET_EXCEEDED', priceUsd: 3.6 });
      expect(await storedCount()).toBe(0);
      expect(t.fake.creates).toHaveLength(0);
    });

    describe('refuses, field by field, with nothing stored or sent', () => {
      async function refused(subject: string, query: string, input: Record<string, unknown>) {
        const reply = await as(subject).gql<Job>(query, { input });
        expect(reply.data?.[Object.keys(reply.data ?? {})[0] ?? ''] ?? null).toBeNull();
        const error = reply.errors?.[0];
        expect(error?.extensions.code).toBe('BAD_USER_INPUT');
        expect(await storedCount()).toBe(0);
        expect(t.fake.creates).toHaveLength(0);
        return error!.extensions.issues!;
      }

      it.each([
        ['narrower than 300 pixels', png(299, 600), 'must be at least 300 pixels on each side, and it is 299x600'],
        [
          'wider than 2.5:1',
          webp(1001, 400),
          'must have an aspect ratio from 1:2.5 to 2.5:1 (width:height), and it is 1001x400',
        ],
        [
          'taller than 1:2.5',
          png(300, 751),
          'must have an aspect ratio from 1:2.5 to 2.5:1 (width:height), and it is 300x751',
        ],
      ])('an image-to-video image %s', async (_case, bytes, message) => {
        const alice = as('alice');
        const image = await alice.upload(bytes[0] === 0x89 ? 'image/png' : 'image/webp', bytes);
        expect(await refused('alice', FROM_IMAGE, { image: { uploadId: image } })).toEqual([
          { field: 'input.image.uploadId', message },
        ]);
      });

      it('a reference image under 400 pixels on its shorter side, naming its place in the list', async () => {
        const alice = as('alice');
        const good = await alice.upload('image/png', png(400, 400));
        const small = await alice.upload('image/png', png(1200, 399));
        const issues = await refused('alice', FROM_REFERENCES, {
          images: [{ uploadId: good }, { url: 'https://cdn.example.com/b.png' }, { uploadId: small }],
          prompt: 'character1 and character3',
        });
        expect(issues).toEqual([
          {
            field: 'input.images.2.uploadId',
            message: 'must be at least 400 pixels on its shorter side, and it is 1200x399',
          },
        ]);
      });

      it('counts: no reference image, ten of them, six edit references', async () => {
        const url = { url: 'https://cdn.example.com/a.png' };
        expect(await refused('alice', FROM_REFERENCES, { images: [], prompt: 'p' })).toEqual([
          { field: 'input.images', message: 'must hold from 1 to 9 item(s)' },
        ]);
        expect(await refused('alice', FROM_REFERENCES, { images: Array(10).fill(url), prompt: 'p' })).toEqual([
          { field: 'input.images', message: 'must hold from 1 to 9 item(s)' },
        ]);
        expect(
          await refused('alice', EDIT_VIDEO, {
            video: { url: 'https://cdn.example.com/v.mp4' },
            referenceImages: Array(6).fill(url),
            prompt: 'p',
          }),
        ).toEqual([{ field: 'input.referenceImages', message: 'must hold from 0 to 5 item(s)' }]);
      });

      it('media of the wrong kind: a video as the first frame, an image as the video to edit', async () => {
        const alice = as('alice');
        const video = await alice.upload('video/mp4', SAMPLE_MP4);
        const image = await alice.upload('image/png', png(500, 500));
        expect(await refused('alice', FROM_IMAGE, { image: { uploadId: video } })).toEqual([
          { field: 'input.image.uploadId', message: 'must be an image, and this upload is a video (video/mp4)' },
        ]);
        expect(await refused('alice', EDIT_VIDEO, { video: { uploadId: image }, prompt: 'p' })).toEqual([
          { field: 'input.video.uploadId', message: 'must be a video, and this upload is an image (image/png)' },
        ]);
      });

      it.each([
        ['http://cdn.example.com/a.png', 'must use https'],
        ['https://127.0.0.1/a.png', 'must name a public host; 127.0.0.1 is a loopback address'],
        ['https://10.1.2.3/a.png', 'must name a public host; 10.1.2.3 is a private address'],
        ['https://169.254.169.254/latest', 'must name a public host; 169.254.169.254 is a linkLocal address'],
        ['https://[::1]/a.png', 'must name a public host; ::1 is a loopback address'],
        [
          'https://[::ffff:192.168.0.1]/a.png',
          'must name a public host; ::ffff:c0a8:1 is a private address (IPv4-mapped form of 192.168.0.1)',
        ],
        ['https://localhost/a.png', 'must name a public host; localhost is not one'],
        ['https://user:pw@cdn.example.com/a.png', 'must not contain a user name or password'],
        ['not a url', 'must be an absolute https URL, like https://cdn.example.com/photo.jpg'],
      ])('a media URL %s', async (url, message) => {
        expect(await refused('alice', FROM_IMAGE, { image: { url } })).toEqual([{ field: 'input.image.url', message }]);
      });

      it("another caller's upload, as not found; an unknown id too", async () => {
        const bob = await as('bob').upload('image/png', png(640, 640));
        expect(await refused('alice', FROM_IMAGE, { image: { uploadId: bob } })).toEqual([
          { field: 'input.image.uploadId', message: 'names no upload of yours (not found)' },
        ]);
        expect(await refused('alice', FROM_IMAGE, { image: { uploadId: 'nope' } })).toEqual([
          { field: 'input.image.uploadId', message: 'names no upload of yours (not found)' },
        ]);
      });

      it('an upload not sent yet, and one the gateway rejected, each with its reason', async () => {
        const alice = as('alice');
        const pending = await alice.upload('image/png', png(640, 640), { send: false });
        // Declared a JPEG, sent a PNG: rejected.
        const rejected = await alice.upload('image/png', png(640, 640), { declared: 'image/jpeg' });
        const issues = await refused('alice', FROM_REFERENCES, {
          images: [{ uploadId: pending }, { uploadId: rejected }],
          prompt: 'p',
        });
        expect(issues).toEqual([
          { field: 'input.images.0.uploadId', message: 'has not been sent yet (PUT its bytes to uploadUrl first)' },
          {
            field: 'input.images.1.uploadId',
            message: 'was rejected: contentType: declared image/jpeg, but the bytes are a PNG image (image/png)',
          },
        ]);
      });

      it('a model of another mode', async () => {
        expect(
          await refused('alice', FROM_IMAGE, {
            image: { url: 'https://cdn.example.com/a.png' },
            model: 'alibaba/happyhorse-1.0/text-to-video',
          }),
        ).toEqual([{ field: 'input.model', message: `must be one of: ${I2V}` }]);
      });

      it('both an upload and a URL in one MediaInput, and a prompt too long', async () => {
        const reply = await as('alice').gql<Job>(FROM_IMAGE, {
          input: { image: { uploadId: 'x', url: 'https://cdn.example.com/a.png' } },
        });
        expect(reply.errors?.[0]?.message).toMatch(/^input\.image Exactly one key must be specified/);
        expect(
          await refused('alice', FROM_REFERENCES, {
            images: [{ url: 'https://cdn.example.com/a.png' }],
            prompt: 'x'.repeat(2501),
          }),
        ).toEqual([{ field: 'input.prompt', message: 'must be at most 2500 characters' }]);
        expect(await storedCount()).toBe(0);
      });
    });
  });
}

describe('media from S3 storage (s3rver): the caller reads it through a presigned link', () => {
  const bucket = 'hh-modes';
  let s3: S3rverHandle;
  let fake: FakeAtlas;
  let gw: TestGateway;
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

  it("hands Atlas uploadMedia's copy of the object, and shows the caller a presigned GET that opens it", async () => {
    const gql = async <T>(query: string, variables: Record<string, unknown>): Promise<Reply<T>> => {
      const response = await fetch(gw.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${await hs256Token(JWT_SECRET, 's3-alice')}`,
        },
        body: JSON.stringify({ query, variables }),
      });
      return (await response.json()) as Reply<T>;
    };
    const bytes = png(500, 500);
    const created = await gql<{
      createUpload: { upload: { id: string; uploadUrl: string; headers: { name: string; value: string }[] } };
    }>(CREATE_UPLOAD, { input: { contentType: 'image/png', byteSize: bytes.length } });
    const { id, uploadUrl, headers } = created.data!.createUpload.upload;
    await fetch(uploadUrl, {
      method: 'PUT',
      headers: Object.fromEntries(headers.map(({ name, value }) => [name, value])),
      body: new Uint8Array(bytes),
    }).then((response) => response.text());
    await gql('mutation D($id: ID!) { completeUpload(id: $id) { status } }', { id });

    const reply = await gql<Job>(FROM_IMAGE, { input: { image: { uploadId: id } } });
    expect(reply.errors).toBeUndefined();
    const { media } = reply.data!.generateVideoFromImage!.prediction;
    expect(fake.creates[0]!.body).toEqual({
      model: I2V,
      image_url: fake.media[0]!.url,
      resolution: '720P',
      duration: 5,
    });
    expect(fake.media.map((copy) => copy.body.equals(bytes))).toEqual([true]);
    const link = media[0]!.url!;
    expect(new URL(link).pathname).toBe(`/${bucket}/gateway/uploads/${id}`);
    const opened = await fetch(link);
    expect(Buffer.from(await opened.arrayBuffer()).equals(bytes)).toBe(true);
  });
});
