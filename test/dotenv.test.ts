import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config.ts';
import { loadEnvFile } from '../src/envFile.ts';
import { bundled, freePort, killCleanProcesses, spawnClean, TEST_NODE_FLAGS } from './support/childGateway.ts';

const folders: string[] = [];
afterAll(() => {
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

function folder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hh-dotenv-'));
  folders.push(dir);
  return dir;
}

function folderWith(dotenv: string): string {
  const dir = folder();
  writeFileSync(join(dir, '.env'), dotenv);
  return dir;
}

describe('loadEnvFile', () => {
  it('takes what the environment does not set, and leaves what it sets, even when empty', () => {
    const dir = folderWith(
      '# the gateway\nPORT=4100\nLOG_LEVEL=debug\nATLASCLOUD_API_KEY=sk-file\nAUTH_JWT_ISSUER="https://id.example.com/#tenant"\n',
    );
    const env: NodeJS.ProcessEnv = { LOG_LEVEL: 'warn', ATLASCLOUD_API_KEY: '' };
    expect(loadEnvFile(env, join(dir, '.env')).sort()).toEqual(['AUTH_JWT_ISSUER', 'PORT']);
    expect(env).toEqual({
      LOG_LEVEL: 'warn',
      ATLASCLOUD_API_KEY: '',
      PORT: '4100',
      AUTH_JWT_ISSUER: 'https://id.example.com/#tenant',
    });
  });

  it('does nothing without a file', () => {
    const env: NodeJS.ProcessEnv = { PORT: '1' };
    expect(loadEnvFile(env, join(folder(), '.env'))).toEqual([]);
    expect(env).toEqual({ PORT: '1' });
  });

  it("is not read under NODE_ENV=test, so a developer's .env cannot reach the test suites", () => {
    const env: NodeJS.ProcessEnv = { NODE_ENV: 'test' };
    expect(loadEnvFile(env, join(folderWith('DATABASE_URL=postgres://prod.example.com/db\n'), '.env'))).toEqual([]);
    expect(env).toEqual({ NODE_ENV: 'test' });
  });

  it('stops start-up, naming the file, when it is there but cannot be read', () => {
    const dir = folder();
    mkdirSync(join(dir, '.env'));
    expect(() => loadEnvFile({}, join(dir, '.env'))).toThrow(ConfigError);
    expect(() => loadEnvFile({}, join(dir, '.env'))).toThrow(join(dir, '.env'));
  });
});

/**
 * The commands' own programs (what `npm start` and `npm run keys` run), in a folder of our choosing:
 * from their bundle (test/support/childGateway.ts), which reads .env as the source does and starts in
 * a fraction of tsx's time.
 */
afterAll(killCleanProcesses);

/** The gateway's `program` from its bundle, as `npm start` and `npm run keys` run it. */
async function start(program: 'main' | 'keys', args: string[], cwd: string, env: Record<string, string>) {
  return spawnClean(process.execPath, [...TEST_NODE_FLAGS, await bundled(program), ...args], cwd, env);
}

async function healthy(url: string, exited: Promise<unknown>, output: () => string, timeoutMs: number): Promise<void> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (gone) throw new Error(`exited during start-up:\n${output()}`);
    const response = await fetch(url, { signal: AbortSignal.timeout(1_000) }).catch(() => undefined);
    if (response?.status === 200) return;
    if (Date.now() > deadline) throw new Error(`not healthy within ${timeoutMs} ms:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('.env in the working directory', () => {
  it('configures the gateway (npm start), under what the environment says', { timeout: 90_000 }, async () => {
    const port = await freePort();
    const dir = folderWith(`PORT=${port}\nDATA_DIR=./from-dotenv\nLOG_LEVEL=silent\n`);
    const gateway = await start('main', [], dir, { NODE_ENV: 'development', HOST: '127.0.0.1', LOG_LEVEL: 'info' });
    await healthy(`http://127.0.0.1:${port}/health`, gateway.exited, gateway.output, 60_000);
    // The port and the data folder came from the file; the log level from the environment (silent would log nothing).
    expect(existsSync(join(dir, 'from-dotenv'))).toBe(true);
    const lines = gateway
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const read = lines.find((line) => line.msg === 'read .env');
    expect((read?.variables as string[] | undefined)?.sort()).toEqual(['DATA_DIR', 'PORT']);
    expect(lines).toContainEqual(
      expect.objectContaining({ msg: 'gateway listening', url: `http://127.0.0.1:${port}/graphql` }),
    );
    gateway.child.kill('SIGTERM');
    expect(await gateway.exited).toBe(0);
  });

  it('configures npm run keys, and a bad value in it stops the command naming the variable', {
    timeout: 90_000,
  }, async () => {
    const dir = folderWith('DATA_DIR=./keys-db\n');
    const create = await start('keys', ['create', '--name', 'from-dotenv'], dir, {});
    expect(await create.exited, create.output()).toBe(0);
    expect(create.output()).toMatch(/name="from-dotenv"/);
    expect(existsSync(join(dir, 'keys-db'))).toBe(true);

    const bad = await start('keys', ['list'], folderWith('DATABASE_URL=mysql://db.example.com/keys\n'), {});
    expect(await bad.exited).toBe(1);
    expect(bad.output()).toMatch(/DATABASE_URL:/);
  });
});
