/**
 * The production path for real: `npm run build`, then, in a folder holding only what the Dockerfile's
 * runtime stage gets (its COPY lines read from the Dockerfile), `npm ci --omit=dev` and the image's CMD.
 * The built gateway must start without tsx or any dev tooling, find its migrations, manifest, sample
 * video and demo bundle, run a simulated job to the end, pass the image's HEALTHCHECK and stop cleanly.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cachedFolder, contentHash } from '../scripts/contentCache.js';
import { BUILD_INPUTS } from './support/buildInputs.ts';
import { freePort } from './support/childGateway.ts';
import { copies, execForm, healthcheck, last, ROOT, readDockerfile } from './support/deploy.ts';

const runtime = readDockerfile().at(-1)!;
const cmd = execForm(last(runtime, 'CMD')!);
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { dev?: boolean }>;
};

/** Variables an outer `npm run`/`npx` sets that describe *this* repo and must not leak into npm in the temp folder. */
const LEAKY_ENV = /^(npm_package_|npm_lifecycle_|npm_command$|npm_config_local_prefix$|INIT_CWD$)/;

interface Run {
  code: number;
  output: string;
  ms: number;
}

function run(
  file: string,
  args: string[],
  options: { cwd: string; env?: Record<string, string>; timeoutMs?: number },
): Promise<Run> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !LEAKY_ENV.test(key)));
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      {
        cwd: options.cwd,
        env: { ...env, ...options.env },
        timeout: options.timeoutMs ?? 150_000,
        maxBuffer: 32 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({
          code,
          output: `${stdout}\n${stderr}${error && code === -1 ? `\n${error.message}` : ''}`,
          ms: Date.now() - started,
        });
      },
    );
  });
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

/** `COPY a b dir/` and `COPY dir dir` into `app`, as Docker does relative to WORKDIR. */
function copyAsTheImageDoes(app: string) {
  for (const copy of copies(runtime).filter((copy) => copy.from === undefined)) {
    for (const source of copy.sources) {
      const intoFolder = copy.dest.endsWith('/') || copy.sources.length > 1;
      const target = join(app, intoFolder ? join(copy.dest, basename(source)) : copy.dest);
      mkdirSync(dirname(target), { recursive: true });
      cpSync(join(ROOT, source), target, { recursive: true });
    }
  }
}

/** `run`, failing with its output unless it exits 0. */
async function runOrThrow(file: string, args: string[], options: { cwd: string }): Promise<Run> {
  const result = await run(file, args, options);
  if (result.code !== 0) throw new Error(`${file} ${args.join(' ')} exited ${result.code}:\n${result.output}`);
  return result;
}

const app = mkdtempSync(join(tmpdir(), 'hh-prod-'));

beforeAll(async () => {
  copyAsTheImageDoes(app);
  // Each made once per content of its inputs (scripts/contentCache.js): a minute apiece, and the
  // same for the same source. The install needs only the manifests, so both run at once.
  const [build, install] = await Promise.all([
    cachedFolder('prod-build', contentHash(ROOT, BUILD_INPUTS), async (dir) => {
      await runOrThrow('npm', ['run', 'build', '--', join(dir, 'dist')], { cwd: ROOT });
    }),
    cachedFolder('prod-install', contentHash(app, readdirSync(app)), async (dir) => {
      copyAsTheImageDoes(dir);
      await runOrThrow('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: dir });
    }),
  ]);
  // The image copies the build stage's /app/dist to dist. node_modules is linked: Node resolves the
  // packages through it from dist/ as from a folder of its own.
  cpSync(join(build.dir, 'dist'), join(app, 'dist'), { recursive: true });
  symlinkSync(join(install.dir, 'node_modules'), join(app, 'node_modules'), 'dir');
  console.log(
    `npm run build ${build.reused ? 'reused' : 'made'}, npm ci --omit=dev ${install.reused ? 'reused' : 'made'}`,
  );
}, 240_000);

// Removes the link to node_modules, not the cached folder it points to.
afterAll(() => rmSync(app, { recursive: true, force: true }), 60_000);

describe('npm run build', () => {
  it('leaves the program the image runs', () => {
    expect(cmd[0]).toBe('node');
    expect(existsSync(join(app, cmd[1]!)), `${cmd[1]} after npm run build`).toBe(true);
  });

  it('puts every file a compiled module reads beside itself where the module looks for it', () => {
    const read: string[] = [];
    for (const file of filesUnder(join(app, 'dist')).filter((file) => file.endsWith('.js'))) {
      for (const [, path] of readFileSync(file, 'utf8').matchAll(
        /new URL\(['"`](\.{1,2}\/[^'"`$]+)['"`], import\.meta\.url\)/g,
      )) {
        // Source files and the client package's folder are for running from src/ (the demo's esbuild
        // fallback, the manifest's source), never reached in a build.
        if (/\.tsx?$/.test(path!) || path!.startsWith('../packages/')) continue;
        const target = resolve(dirname(file), path!);
        read.push(relative(join(app, 'dist'), target));
        expect(existsSync(target), `${relative(app, file)} reads ${path}`).toBe(true);
      }
    }
    expect(read.sort()).toEqual(['db/migrations', 'demo/demo.js', 'persisted-documents.json', 'simulator/sample.mp4']);
    expect(readdirSync(join(app, 'dist/db/migrations')).sort()).toEqual(
      readdirSync(join(ROOT, 'src/db/migrations')).sort(),
    );
  });

  it('imports nothing but Node and the runtime dependencies', () => {
    const builtins = new Set(builtinModules);
    const packages = new Set<string>();
    for (const file of filesUnder(join(app, 'dist')).filter(
      (file) => file.endsWith('.js') && !file.endsWith('demo/demo.js'),
    )) {
      const text = readFileSync(file, 'utf8');
      const specifiers = [
        ...text.matchAll(/^\s*(?:import|export)\s[^;]*?\bfrom\s*['"]([^'"]+)['"]/gm), // static, side-effect-free or re-export
        ...text.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm), // for its side effects
        ...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g), // dynamic
      ].map((match) => match[1]!);
      for (const specifier of specifiers.filter((specifier) => !specifier.startsWith('.'))) {
        if (specifier.startsWith('node:') || builtins.has(specifier)) continue;
        packages.add(
          specifier
            .split('/')
            .slice(0, specifier.startsWith('@') ? 2 : 1)
            .join('/'),
        );
      }
    }
    expect(packages.size).toBeGreaterThan(10);
    const notRuntime = [...packages].filter((name) => !(name in pkg.dependencies));
    expect(notRuntime, 'imported by dist/ but not in dependencies').toEqual([]);
  });
});

describe('npm ci --omit=dev', () => {
  it('patches the database driver (postinstall runs patch-package, a runtime dependency)', () => {
    expect(readFileSync(join(app, 'node_modules/postgres/src/connection.js'), 'utf8')).toContain('// Patched');
  });

  it('installs no development tooling', () => {
    const devOnly = Object.keys(pkg.devDependencies).filter(
      (name) => lock.packages[`node_modules/${name}`]?.dev === true,
    );
    expect(devOnly).toContain('typescript');
    expect(devOnly.filter((name) => existsSync(join(app, 'node_modules', name)))).toEqual([]);
  });
});

describe('node dist/main.js, as the image runs it', () => {
  let gateway: ChildProcess;
  let output = '';
  let base = '';
  let exited: Promise<number | null>;

  beforeAll(async () => {
    // start:prod reads .env from its working directory, as `npm start` does.
    writeFileSync(join(app, '.env'), 'DATA_DIR=./data-from-dotenv\n');
    gateway = spawn(process.execPath, cmd.slice(1), {
      cwd: app,
      // The built-in simulator: no key, not production. Port 0: the gateway logs the one it got.
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? tmpdir(),
        NODE_ENV: 'development',
        HOST: '127.0.0.1',
        PORT: '0',
        SIMULATOR_JOB_MS: '500',
        POLL_INTERVAL_MS: '100',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    gateway.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    gateway.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    exited = new Promise((resolve) => gateway.once('exit', (code) => resolve(code)));
    // The first start runs PGlite's initdb and the migrations (the image has no template): seconds
    // alone, a minute or more beside the rest of the suite on two busy cores.
    const deadline = Date.now() + 120_000;
    while (!base) {
      if (gateway.exitCode !== null) throw new Error(`exited during start-up:\n${output}`);
      if (Date.now() > deadline) throw new Error(`did not start within 120 s:\n${output}`);
      const listening = output
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { msg: string; url?: string })
        .find((line) => line.msg === 'gateway listening');
      if (listening?.url) base = new URL('/', listening.url).href.slice(0, -1);
      else await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }, 150_000);

  afterAll(() => {
    if (gateway?.exitCode === null) gateway.kill('SIGKILL');
  });

  it("answers /health, and the image's HEALTHCHECK passes against it (and fails where nothing listens)", async () => {
    expect((await fetch(`${base}/health`)).status).toBe(200);
    const check = healthcheck(last(runtime, 'HEALTHCHECK')!).command;
    expect(check[0]).toBe('node');
    const port = new URL(base).port;
    expect((await run(process.execPath, check.slice(1), { cwd: app, env: { PORT: port } })).code).toBe(0);
    expect(
      (await run(process.execPath, check.slice(1), { cwd: app, env: { PORT: String(await freePort()) } })).code,
    ).not.toBe(0);
  });

  it('keeps its data where .env says', () => {
    expect(existsSync(join(app, 'data-from-dotenv'))).toBe(true);
  });

  it('runs a simulated job to the end and serves its video', { timeout: 60_000 }, async () => {
    const gql = async (query: string, variables?: Record<string, unknown>) => {
      const response = await fetch(`${base}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query, variables }),
      });
      // biome-ignore lint/suspicious/noExplicitAny: replies are read loosely, field by field, in the assertions
      return (await response.json()) as { data?: any; errors?: unknown[] };
    };
    const created = await gql(
      'mutation { generateVideo(input: { prompt: "A white horse on a beach" }) { prediction { id status } } }',
    );
    expect(created.errors).toBeUndefined();
    const id = created.data.generateVideo.prediction.id as string;
    let prediction: { status: string; videoUrl: string | null } | undefined;
    const deadline = Date.now() + 45_000;
    do {
      await new Promise((resolve) => setTimeout(resolve, 200));
      prediction = (await gql('query($id: ID!) { prediction(id: $id) { status videoUrl } }', { id })).data?.prediction;
    } while (prediction?.status !== 'SUCCEEDED' && prediction?.status !== 'FAILED' && Date.now() < deadline);
    expect(prediction?.status, output).toBe('SUCCEEDED');
    const video = await fetch(prediction!.videoUrl!);
    expect(video.status).toBe(200);
    expect(Buffer.from(await video.arrayBuffer()).equals(readFileSync(join(ROOT, 'src/simulator/sample.mp4')))).toBe(
      true,
    );
  });

  it('serves the demo page with the bundle made by the build, not one bundled at run time', async () => {
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<script type="module" src="/demo.js">');
    const script = await fetch(`${base}/demo.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/javascript/);
    expect(await script.text()).toBe(readFileSync(join(app, 'dist/demo/demo.js'), 'utf8'));
  });

  it('stops cleanly on SIGTERM', { timeout: 60_000 }, async () => {
    gateway.kill('SIGTERM');
    expect(await exited, output).toBe(0);
  });
});
