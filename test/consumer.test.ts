import { execFile } from 'node:child_process';
import { cp, lstat, mkdir, mkdtemp, readdir, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cachedFolder, contentHash } from '../scripts/contentCache.js';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { createGateway, type Gateway } from '../src/server.ts';
import { openTestDatabase, type TestDatabase } from './support/gateway.ts';
import { png } from './support/images.ts';
import { type TscState, tscState } from './support/tscState.ts';

/**
 * The published package (packages/client), as a stranger gets it: `npm pack` (prepack builds dist/), install the
 * tarball into a fresh TypeScript project, type-check a usage file under both module resolutions
 * people use, then run the compiled file against a gateway on the built-in simulator.
 */

const repo = fileURLToPath(new URL('..', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Variables an outer `npm run`/`npx` sets that describe *this* repo and must not leak into npm in the temp project. */
const LEAKY_ENV = /^(npm_package_|npm_lifecycle_|npm_command$|npm_config_local_prefix$|INIT_CWD$)/;

/** Run a program (no shell), capturing its output; never throws, so a failure can be reported with its output. */
function run(
  file: string,
  args: string[],
  options: { cwd: string; env?: Record<string, string>; timeoutMs?: number },
): Promise<Run> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !LEAKY_ENV.test(key)));
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      {
        cwd: options.cwd,
        env: { ...env, ...options.env },
        timeout: options.timeoutMs ?? 120_000,
        maxBuffer: 32 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({
          code,
          stdout: String(stdout),
          stderr: String(stderr) + (error && code === -1 ? `\n${error.message}` : ''),
        });
      },
    );
  });
}

/** Run and insist on exit 0, showing the output only when it failed. */
async function ok(file: string, args: string[], options: Parameters<typeof run>[2]): Promise<string> {
  const result = await run(file, args, options);
  if (result.code !== 0) {
    throw new Error(
      `${file} ${args.join(' ')} exited ${result.code} in ${options.cwd}\n${result.stdout}\n${result.stderr}`,
    );
  }
  return result.stdout;
}

/**
 * What a consumer writes. Every `@ts-expect-error` must meet a real error: if the published types
 * accepted the line (or were `any`), tsc fails with "Unused '@ts-expect-error' directive".
 */
const USAGE = `import {
  createVideoClient,
  UploadRejectedError,
  VideoClientError,
  type AspectRatio,
  type GenerateVideoInput,
  type Mode,
  type Prediction,
  type PredictionStatus,
  type Resolution,
  type Upload,
} from 'happyhorse-gateway/client';
import { createVideoClient as fromRoot, PredictionsDocument, type TypedDocumentNode } from 'happyhorse-gateway';
import { type PredictionWebhookEvent, verifyWebhook, WebhookVerificationError } from 'happyhorse-gateway/webhooks';
import { parse } from 'graphql';
import { Webhook } from 'standardwebhooks';

const url = process.env.GATEWAY_URL;
if (!url) throw new Error('GATEWAY_URL is not set');
const client = createVideoClient({ url });

export function uploadTypeChecks(upload: Upload) {
  // @ts-expect-error a path is not a source: pass the bytes, a Blob or a stream
  void client.uploadMedia('horse.png');
  // @ts-expect-error progress reports { loaded, total }, not a number
  void client.uploadMedia(new Uint8Array(1), { onProgress: (loaded: number) => loaded });
  // @ts-expect-error byteSize is a number
  void client.uploadMedia(new Uint8Array(1), { byteSize: '1' });
  const status: 'PENDING' | 'READY' | 'REJECTED' = upload.status;
  const width: number | null = upload.width;
  return [status, width];
}

export function modeTypeChecks(upload: Upload, prediction: Prediction) {
  // @ts-expect-error image to video needs its image
  void client.generateVideoFromImage({ prompt: 'a horse' });
  // @ts-expect-error reference images to video needs a prompt
  void client.generateVideoFromReferences({ images: [upload] });
  // @ts-expect-error reference images to video needs its images
  void client.generateVideoFromReferences({ prompt: 'character1 on a beach' });
  // @ts-expect-error a video edit needs its video
  void client.editVideo({ prompt: 'make it snow' });
  // @ts-expect-error a video edit needs a prompt
  void client.editVideo({ video: upload });
  // @ts-expect-error the same through generate: each mode's required fields
  void client.generate({ mode: 'IMAGE_TO_VIDEO', prompt: 'a horse' });
  // @ts-expect-error
  void client.generateAndWait({ mode: 'VIDEO_EDIT', prompt: 'make it snow' });
  // @ts-expect-error media is an upload id or a URL, not both
  void client.generateVideoFromImage({ image: { uploadId: upload.id, url: 'https://cdn.example/a.png' } });
  // @ts-expect-error a path is not media: upload it, or give an https URL
  void client.generateVideoFromImage({ image: 'horse.png' });
  // @ts-expect-error audio is GENERATE or KEEP_ORIGINAL
  void client.editVideo({ video: upload, prompt: 'make it snow', audio: 'MUTE' });
  // Media as the Upload itself, { uploadId } or { url }: these compile.
  void client.generateVideoFromImage({ image: upload });
  void client.generateVideoFromReferences({ images: [upload, { url: 'https://cdn.example/b.png' }], prompt: 'character1' });
  void client.editVideo({ video: { uploadId: upload.id }, referenceImages: [upload], prompt: 'snow', audio: 'KEEP_ORIGINAL' });
  // Exact types: the mode both ways, and each media piece's role.
  const mode: 'TEXT_TO_VIDEO' | 'IMAGE_TO_VIDEO' | 'REFERENCE_TO_VIDEO' | 'VIDEO_EDIT' = prediction.mode;
  const modeBack: Mode = mode;
  const roles: ('IMAGE' | 'REFERENCE' | 'VIDEO')[] = prediction.media.map((media) => media.role);
  return [modeBack, roles];
}

export function typeChecks(prediction: Prediction) {
  // @ts-expect-error a misspelt field name instead of prompt
  const misspelt: GenerateVideoInput = { promt: 'a horse' };
  // @ts-expect-error an unknown field next to a valid prompt
  const extra: GenerateVideoInput = { prompt: 'a horse', negativePrompt: 'rain' };
  // @ts-expect-error there is no 4K resolution
  const res4k: GenerateVideoInput = { prompt: 'a horse', resolution: 'RES_4K' };
  // @ts-expect-error aspect ratios are enum names, not "21:9"
  const wide: GenerateVideoInput = { prompt: 'a horse', aspectRatio: '21:9' };
  // @ts-expect-error prompt is required
  const noPrompt: GenerateVideoInput = { resolution: 'RES_720P' };
  // @ts-expect-error duration is a number of seconds, not a string
  const textDuration: GenerateVideoInput = { prompt: 'a horse', duration: '5' };
  // @ts-expect-error the field is videoUrl
  const wrongRead: unknown = prediction.videoURL;
  // @ts-expect-error the same mistakes straight in calls
  void client.generateVideo({ promt: 'a horse' });
  // @ts-expect-error
  void client.generateAndWait({ prompt: 'a horse', resolution: 'RES_4K' });
  // @ts-expect-error
  void client.generateAndWait({ aspectRatio: 'RATIO_16_9' });
  // @ts-expect-error
  void client.predictions({ first: '5' });
  // @ts-expect-error
  void client.predictions({ status: 'DONE' });
  // @ts-expect-error
  void client.prediction();

  // Exact types, not any or string: these must be assignable both ways.
  const status: 'STARTING' | 'PROCESSING' | 'SUCCEEDED' | 'FAILED' | 'CANCELED' = prediction.status;
  const statusBack: PredictionStatus = status;
  const resolution: 'RES_720P' | 'RES_1080P' = prediction.resolution satisfies Resolution;
  const ratio: AspectRatio = 'RATIO_9_16';
  const videoUrl: string | null = prediction.videoUrl;
  const outputs: string[] = prediction.outputs;
  return [misspelt, extra, res4k, wide, noPrompt, textDuration, wrongRead, statusBack, resolution, ratio, videoUrl, outputs];
}

// Documents of the consumer's own, typed as graphql-codegen types them.
const Recent = parse('query Recent($first: Int) { predictions(first: $first) { edges { node { id prompt } } } }') as TypedDocumentNode<
  { predictions: { edges: { node: { id: string; prompt: string | null } }[] } },
  { first?: number | null }
>;
const Follow = parse('subscription Follow($id: ID!) { predictionUpdated(id: $id) { id status } }') as TypedDocumentNode<
  { predictionUpdated: { id: string; status: PredictionStatus } },
  { id: string }
>;

export async function documentTypeChecks(event: PredictionWebhookEvent) {
  // @ts-expect-error first is a number
  void client.request(Recent, { first: '1' });
  // @ts-expect-error the package's own documents are typed the same way
  void client.request(PredictionsDocument, { status: 'DONE' });
  // @ts-expect-error the subscription needs its id
  void client.subscribe(Follow, {});
  const recent: { predictions: { edges: { node: { id: string; prompt: string | null } }[] } } = await client.request(Recent, { first: 1 });
  for await (const data of client.subscribe(Follow, { id: 'x' })) {
    const status: PredictionStatus = data.predictionUpdated.status;
    // @ts-expect-error not asked for in the document
    void data.predictionUpdated.videoUrl;
    void status;
  }
  const webhookStatus: PredictionStatus = event.data.status;
  // @ts-expect-error no such event type
  const eventType: PredictionWebhookEvent['type'] = 'prediction.done';
  return [recent, webhookStatus, eventType, fromRoot];
}

const updates: Prediction[] = [];
const image = Buffer.from('${png(64, 48).toString('base64')}', 'base64');
try {
  const progress: number[] = [];
  const uploaded = await client.uploadMedia(image, { filename: 'horse.png', onProgress: (p) => progress.push(p.loaded) });
  const rejected = await client
    .uploadMedia(image, { contentType: 'image/jpeg' })
    .then(() => 'READY', (error: unknown) => (error instanceof UploadRejectedError ? error.rejectionReason : String(error)));
  const frame = await client.uploadMedia(Buffer.from('${png(320, 320).toString('base64')}', 'base64'), { filename: 'frame.png' });
  const fromImage = await client.generateAndWait({ mode: 'IMAGE_TO_VIDEO', image: frame, duration: 3 });
  const done = await client.generateAndWait(
    { prompt: 'A horse galloping across a beach at sunset', resolution: 'RES_720P', aspectRatio: 'RATIO_9_16', duration: 3 },
    { onUpdate: (prediction) => updates.push(prediction) },
  );
  const fetched = await client.prediction(done.id);
  const page = await client.predictions({ first: 5 });
  const watched: Prediction[] = [];
  for await (const prediction of client.watchPrediction(done.id)) watched.push(prediction);
  const own = await client.request(Recent, { first: 50 });
  const followed: string[] = [];
  for await (const data of client.subscribe(Follow, { id: done.id })) followed.push(data.predictionUpdated.status);
  // A delivery signed as the gateway signs one, checked by the package's verifier in plain Node.
  const secret = 'whsec_' + Buffer.from('consumer-test-webhook-secret-0123456789').toString('base64');
  const body = JSON.stringify({ type: 'prediction.completed', timestamp: done.updatedAt, data: { id: done.id, status: done.status } });
  const now = new Date();
  const headers = { 'webhook-id': 'msg_1', 'webhook-timestamp': String(Math.floor(now.getTime() / 1000)), 'webhook-signature': new Webhook(secret).sign('msg_1', now, body) };
  const reasonFor = (changed: string) => {
    try {
      return verifyWebhook({ body: changed, headers, secret }).data.id;
    } catch (error) {
      return error instanceof WebhookVerificationError ? error.reason : String(error);
    }
  };
  console.log(
    JSON.stringify({
      id: done.id,
      status: done.status,
      videoUrl: done.videoUrl,
      resolution: done.resolution,
      aspectRatio: done.aspectRatio,
      duration: done.duration,
      updates: updates.length,
      updateStatuses: updates.map((prediction) => prediction.status),
      fetched: fetched && { id: fetched.id, status: fetched.status, videoUrl: fetched.videoUrl },
      listed: page.edges.map((edge) => edge.node.id),
      watched: watched.map((prediction) => prediction.status),
      own: own.predictions.edges.some((edge) => edge.node.id === done.id && edge.node.prompt === done.prompt),
      followed,
      webhook: { verified: reasonFor(body), tampered: reasonFor(body.replace(done.status, 'FAILED')) },
      sameFromRoot: fromRoot === createVideoClient,
      upload: { status: uploaded.status, width: uploaded.width, height: uploaded.height, bytes: image.length, progress },
      rejected,
      fromImage: { status: fromImage.status, mode: fromImage.mode, media: fromImage.media.map((m) => [m.role, m.uploadId === frame.id]) },
    }),
  );
} catch (error) {
  if (error instanceof VideoClientError) console.error('VideoClientError', error.code, error.message);
  throw error;
} finally {
  client.dispose();
}
`;

const TSCONFIG_BUNDLER = {
  compilerOptions: {
    strict: true,
    module: 'ESNext',
    moduleResolution: 'bundler',
    target: 'ES2022',
    noEmit: true,
    types: ['node'],
    skipLibCheck: false,
    incremental: true,
    tsBuildInfoFile: 'bundler.tsbuildinfo',
  },
  files: ['usage.ts'],
};

const TSCONFIG_NODENEXT = {
  compilerOptions: {
    strict: true,
    module: 'NodeNext',
    moduleResolution: 'nodenext',
    target: 'ES2022',
    outDir: 'out',
    types: ['node'],
    skipLibCheck: false,
    incremental: true,
    tsBuildInfoFile: 'nodenext.tsbuildinfo',
  },
  files: ['usage.ts'],
};

/** Harness check: an unused directive must make tsc exit non-zero here, or passing type checks prove nothing. */
const CONTROL = `// @ts-expect-error
export const fine: number = 1;
`;
const TSCONFIG_CONTROL = {
  compilerOptions: {
    strict: true,
    module: 'NodeNext',
    moduleResolution: 'nodenext',
    noEmit: true,
    types: [],
    skipLibCheck: true,
  },
  files: ['control.ts'],
};

/**
 * tsc's incremental state from the last passing check against the same installed package, and the JS it
 * emitted with it: tsc still reads every file and re-checks the ones whose content differs from what the
 * state records, but the 70k lines of lib and @types/node it checked last time are not checked again
 * (8 to 10 s of CPU per resolution). Kept beside the cached install, so a changed package starts afresh.
 */
let keptTsc: TscState;

let root: string;
let app: string;
let database: TestDatabase | undefined;
let gateway: Gateway | undefined;
let gatewayUrl: string;

/** What the packed tarball and its install depend on: the client's source and manifest, the schema, the lock file. */
const PACK_INPUTS = [
  'package-lock.json',
  'packages/client/README.md',
  'LICENSE',
  'schema/schema.graphql',
  'packages/client/package.json',
  'packages/client/tsconfig.json',
  'packages/client/src',
];

async function packAndInstall() {
  await mkdir(app);
  // `npm pack` and the install, made once per content of their inputs (scripts/contentCache.js):
  // twenty seconds of builds and installs, the same for the same client. The project links to the
  // installed node_modules, as the production test links to its install.
  const made = await cachedFolder('consumer', contentHash(repo, PACK_INPUTS), async (dir) => {
    const packDir = join(dir, 'pack');
    const installDir = join(dir, 'app');
    await mkdir(packDir, { recursive: true });
    await mkdir(installDir);
    // prepack runs the build, so this also proves `npm pack` works from a clean dist/.
    await ok('npm', ['pack', '--workspace', 'happyhorse-gateway', '--pack-destination', packDir], { cwd: repo });
    const packed = (await readdir(packDir)).filter((name) => name.endsWith('.tgz'));
    await writeFile(
      join(installDir, 'package.json'),
      `${JSON.stringify({ type: 'module', private: true }, null, 2)}\n`,
    );
    await ok(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        join(packDir, packed[0]!),
        'typescript@~5.9.3',
        '@types/node@^20',
      ],
      { cwd: installDir },
    );
  });
  keptTsc = tscState(`${made.dir}-tsc`, ['bundler.tsbuildinfo', 'nodenext.tsbuildinfo', 'out']);
  const packed = (await readdir(join(made.dir, 'pack'))).filter((name) => name.endsWith('.tgz'));
  expect(packed).toHaveLength(1);
  await cp(join(made.dir, 'app', 'package.json'), join(app, 'package.json'));
  await symlink(join(made.dir, 'app', 'node_modules'), join(app, 'node_modules'), 'dir');
  await writeFile(join(app, 'usage.ts'), USAGE);
  await writeFile(join(app, 'control.ts'), CONTROL);
  await writeFile(join(app, 'tsconfig.bundler.json'), JSON.stringify(TSCONFIG_BUNDLER, null, 2));
  await writeFile(join(app, 'tsconfig.nodenext.json'), JSON.stringify(TSCONFIG_NODENEXT, null, 2));
  await writeFile(join(app, 'tsconfig.control.json'), JSON.stringify(TSCONFIG_CONTROL, null, 2));
  await keptTsc.restore(app);
}

async function startSimulatedGateway() {
  const config = loadConfig({ NODE_ENV: 'test', SIMULATOR_JOB_MS: '1500', POLL_INTERVAL_MS: '100' });
  database = await openTestDatabase('pglite');
  gateway = await createGateway(config, createLogger('silent'), { database: database.database });
  gatewayUrl = await gateway.listen(0, '127.0.0.1');
}

const tsc = (project: string) =>
  run(join(app, 'node_modules', '.bin', 'tsc'), ['-p', project, '--pretty', 'false'], { cwd: app });

describe('the packed happyhorse-gateway tarball in a fresh TypeScript project', () => {
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'hh-consumer-'));
    app = join(root, 'app');
    await Promise.all([packAndInstall(), startSimulatedGateway()]);
  }, 180_000);

  afterAll(async () => {
    await gateway?.close();
    await database?.close();
    if (root) await rm(root, { recursive: true, force: true });
  }, 30_000);

  it('installs as a real copy from the tarball, with its own dependencies', async () => {
    const installed = join(app, 'node_modules', 'happyhorse-gateway');
    expect((await lstat(installed)).isSymbolicLink()).toBe(false);
    const manifest = JSON.parse(await readFile(join(installed, 'package.json'), 'utf8')) as {
      name: string;
      version: string;
      scripts?: Record<string, string>;
      dependencies: Record<string, string>;
    };
    const ours = JSON.parse(await readFile(join(repo, 'packages', 'client', 'package.json'), 'utf8')) as {
      version: string;
    };
    expect(manifest).toMatchObject({ name: 'happyhorse-gateway', version: ours.version });
    // Nothing but the build and the schema: no sources, tests or local data.
    expect(await readdir(installed)).not.toContain('src');
    // Only the client's own dependencies, and no install script of the gateway's (patch-package) to run here.
    expect(Object.keys(manifest.dependencies).sort()).toEqual([
      '@graphql-typed-document-node/core',
      'graphql',
      'graphql-sse',
      'standardwebhooks',
    ]);
    expect(manifest.scripts?.postinstall).toBeUndefined();
    expect(await readdir(join(installed, 'dist', 'client'))).toContain('index.d.ts');
    // The package's own README, written for its users, is in the tarball.
    const readme = await readFile(join(installed, 'README.md'), 'utf8');
    expect(readme).toMatch(/^# happyhorse-gateway\n/);
    for (const topic of [
      'createVideoClient',
      'videos.request(',
      'videos.subscribe(',
      'happyhorse-gateway/react',
      'uploadMedia',
      'VideoClientError',
      'CORS_ORIGINS',
      'verifyWebhook',
    ])
      expect(readme).toContain(topic);
  });

  it('imports the bare name (the client entry), the client and the webhooks entries from plain Node', async () => {
    const script = `const [root, client, webhooks] = await Promise.all(['happyhorse-gateway', 'happyhorse-gateway/client', 'happyhorse-gateway/webhooks'].map((name) => import(name)));
console.log(JSON.stringify({ same: root.createVideoClient === client.createVideoClient, verify: typeof webhooks.verifyWebhook }))`;
    const stdout = await ok('node', ['--input-type=module', '-e', script], { cwd: app });
    expect(JSON.parse(stdout)).toEqual({ same: true, verify: 'function' });
  });

  it('fails tsc on an unused @ts-expect-error (harness control)', async () => {
    const result = await tsc('tsconfig.control.json');
    expect(result.code).not.toBe(0);
    expect(result.stdout).toContain('TS2578');
  }, 60_000);

  it('type-checks, with every deliberate mistake rejected, under bundler and NodeNext resolution', async () => {
    const [bundler, nodenext] = await Promise.all([tsc('tsconfig.bundler.json'), tsc('tsconfig.nodenext.json')]);
    expect({ code: bundler.code, output: bundler.stdout + bundler.stderr }).toEqual({ code: 0, output: '' });
    expect({ code: nodenext.code, output: nodenext.stdout + nodenext.stderr }).toEqual({ code: 0, output: '' });
    await keptTsc.keep(app);
  }, 120_000);

  it('runs compiled against a gateway on the simulator: submit, follow, fetch, list, watch, upload and image to video', async () => {
    const stdout = await ok('node', [join('out', 'usage.js')], {
      cwd: app,
      env: { GATEWAY_URL: gatewayUrl },
      timeoutMs: 30_000,
    });
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const result = JSON.parse(lines[0]!) as {
      id: string;
      status: string;
      videoUrl: string | null;
      resolution: string;
      aspectRatio: string;
      duration: number;
      updates: number;
      updateStatuses: string[];
      fetched: { id: string; status: string; videoUrl: string | null } | null;
      listed: string[];
      watched: string[];
      upload: { status: string; width: number; height: number; bytes: number; progress: number[] };
      rejected: string;
      fromImage: { status: string; mode: string; media: [string, boolean][] };
      own: boolean;
      followed: string[];
      webhook: { verified: string; tampered: string };
      sameFromRoot: boolean;
    };

    expect(result).toMatchObject({
      status: 'SUCCEEDED',
      resolution: 'RES_720P',
      aspectRatio: 'RATIO_9_16',
      duration: 3,
    });
    expect(result.updates).toBeGreaterThanOrEqual(2);
    // The submitted job (unfinished; the gateway reads a job accepted upstream as PROCESSING), then its changes.
    expect(['STARTING', 'PROCESSING']).toContain(result.updateStatuses[0]);
    expect(result.updateStatuses.at(-1)).toBe('SUCCEEDED');
    expect(result.fetched).toEqual({ id: result.id, status: 'SUCCEEDED', videoUrl: result.videoUrl });
    expect(result.listed).toContain(result.id);
    // A finished job: the current state once, then the stream ends.
    expect(result.watched).toEqual(['SUCCEEDED']);
    // An upload from the compiled package: READY with its pixels, progress up to its size; a lie refused.
    expect(result.upload).toMatchObject({ status: 'READY', width: 64, height: 48 });
    expect(result.upload.progress.at(-1)).toBe(result.upload.bytes);
    // Image to video from the uploaded frame, passed as the Upload the package returned.
    expect(result.fromImage).toEqual({ status: 'SUCCEEDED', mode: 'IMAGE_TO_VIDEO', media: [['IMAGE', true]] });
    // request() and subscribe() with the consumer's own documents; the verifier, in plain Node.
    expect(result.own).toBe(true);
    expect(result.followed).toEqual(['SUCCEEDED']);
    expect(result.webhook).toEqual({ verified: result.id, tampered: 'BAD_SIGNATURE' });
    expect(result.sameFromRoot).toBe(true);
    expect(result.rejected).toBe('contentType: declared image/jpeg, but the bytes are a PNG image (image/png)');

    // The video is the gateway's own copy (a signed link; the simulator's would expire), and it is a video.
    const origin = new URL(gatewayUrl).origin;
    expect(
      result.videoUrl?.startsWith(`${origin}/videos/${result.id}/0.mp4?expires=`),
      `${result.videoUrl} from ${origin}`,
    ).toBe(true);
    const video = await fetch(result.videoUrl!);
    expect(video.status).toBe(200);
    expect(video.headers.get('content-type')).toBe('video/mp4');
    expect((await video.arrayBuffer()).byteLength).toBeGreaterThan(0);
  }, 45_000);

  it('installs the happyhorse command (its bin), which runs against the gateway', async () => {
    const bin = join(app, 'node_modules', '.bin', 'happyhorse');
    const manifest = JSON.parse(await readFile(join(repo, 'packages', 'client', 'package.json'), 'utf8')) as {
      version: string;
    };
    expect((await ok(bin, ['--version'], { cwd: app })).trim()).toBe(manifest.version);
    const listed = await ok(bin, ['list', '--json', '--limit', '1'], { cwd: app, env: { HAPPYHORSE_URL: gatewayUrl } });
    expect(JSON.parse(listed)).toMatchObject({ predictions: [{ status: 'SUCCEEDED' }] });
  });

  it('serves the schema as happyhorse-gateway/schema.graphql', async () => {
    const resolve = `console.log(import.meta.resolve('happyhorse-gateway/schema.graphql'))`;
    const href = (await ok('node', ['--input-type=module', '-e', resolve], { cwd: app })).trim();
    const path = fileURLToPath(href);
    // Inside the installed package (node_modules links to the cached install: Node resolves the real path).
    expect(path.startsWith(await realpath(join(app, 'node_modules', 'happyhorse-gateway')))).toBe(true);
    const schema = await readFile(path, 'utf8');
    expect(schema).toContain('type Prediction');
    expect(schema).toContain('input GenerateVideoInput');
  });
});
