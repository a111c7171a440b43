/**
 * `npm start` as a newcomer runs it (README): the gateway from the bundle of the sources as they are
 * (scripts/start.js, scripts/bundle.js) on PGlite in a new DATA_DIR, with the simulator and no API
 * key. An edited source is bundled again before the gateway runs, never served from an older bundle.
 * And the production install holds no development tooling: neither tsx nor esbuild.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { bundleKey } from '../scripts/bundle.js';
import { freePort, killCleanProcesses, spawnClean } from './support/childGateway.ts';
import { eventually } from './support/gateway.ts';

const ROOT = join(import.meta.dirname, '..');

const folders: string[] = [];
afterAll(() => {
  killCleanProcesses();
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

function folder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hh-start-'));
  folders.push(dir);
  return dir;
}

const run = spawnClean;

/** Resolves once `url` answers 200; fails as soon as the process exits. */
async function answers(url: string, gateway: ReturnType<typeof run>): Promise<void> {
  let gone = false;
  void gateway.exited.then(() => (gone = true));
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (gone) throw new Error(`exited during start-up:\n${gateway.output()}`);
    const response = await fetch(url, { signal: AbortSignal.timeout(1_000) }).catch(() => undefined);
    if (response?.status === 200) return;
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within 90 s:\n${gateway.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const groupAlive = (pid: number) => {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** SIGTERM to the group (npm, its shell, the gateway); resolves when none of them is left. */
async function stop(gateway: ReturnType<typeof run>): Promise<void> {
  const pid = gateway.child.pid!;
  process.kill(-pid, 'SIGTERM');
  await gateway.exited;
  await eventually(
    () => groupAlive(pid),
    (alive) => !alive,
    15_000,
  );
}

describe('npm start', () => {
  it('serves /ready on a fresh DATA_DIR, with the simulator and no API key', { timeout: 120_000 }, async () => {
    const port = await freePort();
    const dataDir = join(folder(), 'data');
    const gateway = run('npm', ['start'], ROOT, { PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir });
    await answers(`http://127.0.0.1:${port}/ready`, gateway);
    expect(gateway.output()).toContain('SIMULATING Atlas Cloud');
    expect(readFileSync(join(dataDir, 'PG_VERSION'), 'utf8').trim()).toMatch(/^\d+$/);
    await stop(gateway);
  });

  it('bundles an edited source again before it runs, never an older bundle', { timeout: 120_000 }, async () => {
    // A checkout of our own to edit: what the bundle is made from, and this one's packages.
    const checkout = folder();
    for (const path of ['src', 'scripts', 'tsconfig.json', 'packages/client/src/client/generated'])
      cpSync(join(ROOT, path), join(checkout, path), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(checkout, 'node_modules'), 'dir');
    const { bundleKey: keyOf } = (await import(join(checkout, 'scripts/bundle.js'))) as {
      bundleKey: typeof bundleKey;
    };
    // Unedited, it is the repository's sources: the same bundle.
    expect(keyOf()).toBe(bundleKey());

    const main = join(checkout, 'src/main.ts');
    writeFileSync(main, readFileSync(main, 'utf8').replace('HappyHorse gateway: demo', 'Edited gateway: demo'));
    const edited = keyOf();
    expect(edited).not.toBe(bundleKey());
    // Its bundle links files of this temporary checkout: removed with it.
    folders.push(join(ROOT, 'node_modules/.cache', `hh-cache-bundle-${edited}`));

    const port = await freePort();
    const gateway = run(process.execPath, ['scripts/start.js'], checkout, {
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: join(checkout, 'data'),
      LOG_LEVEL: 'warn',
    });
    await answers(`http://127.0.0.1:${port}/ready`, gateway);
    expect(gateway.output()).toContain('Bundling the gateway (src/ changed)');
    await eventually(gateway.output, (output) => output.includes('Edited gateway: demo'), 10_000);
    await stop(gateway);
  });
});

describe('the production install (npm ci --omit=dev)', () => {
  it('holds neither tsx nor esbuild: nothing that runs there needs them', async () => {
    interface Tree {
      dependencies?: Record<string, Tree>;
    }
    const { stdout } = await promisify(execFile)('npm', ['ls', '--omit=dev', '--all', '--json'], {
      cwd: ROOT,
      maxBuffer: 64 * 1024 * 1024,
    });
    const names = new Set<string>();
    const walk = (tree: Tree) => {
      for (const [name, child] of Object.entries(tree.dependencies ?? {})) {
        names.add(name);
        walk(child);
      }
    };
    walk(JSON.parse(stdout) as Tree);
    expect(names).toContain('@electric-sql/pglite');
    expect(names).toContain('patch-package'); // postinstall's first step, in production too
    expect([...names].filter((name) => /^(tsx|esbuild|@esbuild\/.*)$/.test(name))).toEqual([]);
  });
});
