/**
 * A gateway as a real process of its own, configured only by environment variables, on a free
 * loopback port: the gateway's source bundled into one module and run by plain Node (see
 * `bundled`), or, where how operators start it is the subject, `node scripts/start.js` as `npm start`
 * runs it (which checks the bundle is current first).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gatewayBundle } from '../../scripts/bundle.js';
import { TEST_KEY } from './gateway.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const STARTUP_TIMEOUT_MS = 20_000;

/**
 * V8 flags for the gateways and programs the tests start. PGlite is WebAssembly Postgres: V8 compiles
 * it fast (Liftoff) and then again, optimised, in background threads, which for a process that lives
 * seconds is about 1 s of CPU thrown away (a PGlite gateway's start: 2.2 s of CPU, 1.2 s with this).
 * Behaviour is the same; the suite is CPU-bound on two cores, so this is time. vitest.config.ts
 * gives the test workers the same.
 */
export const TEST_NODE_FLAGS = ['--liftoff-only'];

let bundle: Promise<string> | undefined;

/**
 * The gateway's programs as `npm start` runs them: src/main.ts (the server) and src/cli/keys.ts
 * (`npm run keys`) bundled into plain ES modules (scripts/bundle.js), made once per content of src/.
 * A process started from one is running in about a third of the time tsx takes. Returns the file
 * for `program`.
 */
export async function bundled(program: 'main' | 'keys'): Promise<string> {
  bundle ??= gatewayBundle().then(({ dir }) => dir);
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
  /** SIGKILL, to the whole process group (an esbuild service, if any, included); resolves on exit. */
  kill9(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Every child started in this worker (its files run one after another, sharing this module), for secret checks and cleanup. */
export const children: Child[] = [];

/**
 * Ports below the kernel's ephemeral range (32768–60999 on Linux): no outgoing connection is ever
 * given one, so a port a test frees and listens on again (a gateway restarted on the same port) is not
 * taken meanwhile by some client socket. (From port 0 it was, once, under load: EADDRINUSE.)
 */
const TEST_PORTS = { from: 20_000, to: 32_767 };

/** A port nothing listens on now, for a server a test starts (or restarts) on it. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = TEST_PORTS.from + Math.floor(Math.random() * (TEST_PORTS.to - TEST_PORTS.from + 1));
    if (await canListen(port)) return port;
  }
}

async function canListen(port: number): Promise<boolean> {
  const server = createServer();
  const listening = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  return listening;
}

function isRunning(proc: ChildProcess): boolean {
  return proc.exitCode === null && proc.signalCode === null;
}

export async function startChild(
  env: Record<string, string>,
  {
    startupTimeoutMs = STARTUP_TIMEOUT_MS,
    via = 'bundle',
  }: { startupTimeoutMs?: number; via?: 'bundle' | 'npm start' } = {},
): Promise<Child> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const args = via === 'npm start' ? ['scripts/start.js'] : [...TEST_NODE_FLAGS, await bundled('main')];
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
    // Its own process group, so a SIGKILL also takes a helper (an esbuild service) down.
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

export interface CleanProcess {
  child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  exited: Promise<number | null>;
}

/** Started by `spawnClean` and not yet gone: `killCleanProcesses` ends them (each file's afterAll). */
const cleanProcesses: ChildProcess[] = [];

/**
 * `command` in its own process group, in `cwd`, with nothing from the test runner's environment but
 * PATH and HOME: its settings come from `env` (and whatever it reads itself, a .env say).
 */
export function spawnClean(command: string, args: string[], cwd: string, env: Record<string, string>): CleanProcess {
  const child = spawn(command, args, {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  cleanProcesses.push(child);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** SIGKILL to the group of every process `spawnClean` started that has not exited. */
export function killCleanProcesses(): void {
  for (const child of cleanProcesses.splice(0))
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
}
