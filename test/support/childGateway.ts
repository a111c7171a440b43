/**
 * A gateway as a real process of its own, configured only by environment variables, on a free
 * loopback port: the gateway's source bundled into one module and run by plain Node (see
 * `bundled`), or, where how operators start it is the subject, `node --import tsx src/main.ts`
 * as `npm start` runs it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { cachedFolder, contentHash } from './contentCache.ts';
import { TEST_KEY } from './gateway.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const STARTUP_TIMEOUT_MS = 20_000;

let bundle: Promise<string> | undefined;

/**
 * The gateway's programs, src/main.ts (the server) and src/cli/keys.ts (`npm run keys`), each as one
 * ES module (esbuild, packages left as imports), made once per content of src/ and kept in
 * node_modules/.cache, where Node finds the packages from them. A process started from one is
 * running in about a third of the time tsx takes (tsx compiles each of the gateway's modules at
 * start-up: 5 to 12 s for the server on a busy machine). The files modules read beside themselves
 * through `new URL('./…', import.meta.url)` are linked beside the bundles, as `npm run build` copies
 * them beside the compiled modules. Returns the file for `program`.
 */
export async function bundled(program: 'main' | 'keys'): Promise<string> {
  bundle ??= cachedFolder(
    'bundle',
    contentHash(ROOT, ['src', 'packages/client/src/client/generated/persisted-documents.json']),
    async (dir) => {
      mkdirSync(dir, { recursive: true });
      await build({
        entryPoints: [join(ROOT, 'src/main.ts'), join(ROOT, 'src/cli/keys.ts')],
        // Side by side (main.js, keys.js): the files they read resolve from one folder.
        entryNames: '[name]',
        outdir: dir,
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        packages: 'external',
        logLevel: 'silent',
      });
      for (const [from, to] of [
        ['src/db/migrations', 'migrations'], // database.ts
        ['src/simulator/sample.mp4', 'sample.mp4'], // atlasSimulator.ts
        ['packages/client/src/client/generated/persisted-documents.json', 'persisted-documents.json'],
        ['src/demo/main.tsx', 'main.tsx'], // bundle.ts: the demo page's entry, bundled on request
      ] as const)
        symlinkSync(join(ROOT, from), join(dir, to));
    },
    join(ROOT, 'node_modules/.cache'),
  ).then(({ dir }) => dir);
  return join(await bundle, `${program}.js`);
}

export interface Child {
  proc: ChildProcess;
  /** http://127.0.0.1:PORT */
  base: string;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves once the process is gone. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL, to the whole process group (tsx's esbuild service, if any, included); resolves on exit. */
  kill9(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Every child started in this worker (its files run one after another, sharing this module), for secret checks and cleanup. */
export const children: Child[] = [];

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function isRunning(proc: ChildProcess): boolean {
  return proc.exitCode === null && proc.signalCode === null;
}

export async function startChild(
  env: Record<string, string>,
  { startupTimeoutMs = STARTUP_TIMEOUT_MS, via = 'bundle' }: { startupTimeoutMs?: number; via?: 'bundle' | 'tsx' } = {},
): Promise<Child> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const args = via === 'tsx' ? ['--import', 'tsx', 'src/main.ts'] : [await bundled('main')];
  const proc = spawn(process.execPath, args, {
    cwd: ROOT,
    // Only what the gateway is configured by: nothing leaks in from the test runner's environment.
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'test',
      ATLASCLOUD_API_KEY: TEST_KEY,
      PORT: String(port),
      HOST: '127.0.0.1',
      POLL_INTERVAL_MS: '50',
      UPSTREAM_TIMEOUT_MS: '1000',
      LOG_LEVEL: 'debug',
      DATA_DIR: mkdtempSync(join(tmpdir(), 'hh-child-')),
      // Copies of outputs are mirror.test.ts' subject; elsewhere videoUrl stays the fake's link.
      STORAGE_URL: 'none',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so a SIGKILL also takes a helper (tsx's esbuild service) down.
    detached: true,
  });
  let output = '';
  proc.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  proc.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const child: Child = {
    proc,
    base: `http://127.0.0.1:${port}`,
    output: () => output,
    exited,
    async kill9() {
      if (isRunning(proc)) {
        try {
          process.kill(-proc.pid!, 'SIGKILL');
        } catch {
          proc.kill('SIGKILL');
        }
      }
      return exited;
    },
  };
  children.push(child);

  const deadline = Date.now() + startupTimeoutMs;
  for (;;) {
    if (!isRunning(proc)) throw new Error(`gateway exited during start-up:\n${output}`);
    try {
      const response = await fetch(`${child.base}/health`, { signal: AbortSignal.timeout(1_000) });
      if (response.status === 200) return child;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await child.kill9();
      throw new Error(`gateway not healthy within ${startupTimeoutMs} ms:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
