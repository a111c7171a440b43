/**
 * The keys program as a child process, with only the database settings given: `npm run keys -- …` as
 * operators run it, or the same program from its bundle (test/support/childGateway.ts), which starts in
 * a fraction of the time npm and tsx take, where the command's behaviour rather than npm's script is
 * the subject.
 */
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { Reply } from './auth.ts';
import { bundled, TEST_NODE_FLAGS } from './childGateway.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const KEY = /^hhk_[A-Za-z0-9_-]{43}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const VIEWER =
  '{ viewer { id tenantId admin authenticatedBy limits { activeJobs jobsPerMinute dailySpendUsd } } }';
export type ViewerReply = {
  viewer: {
    id: string;
    tenantId: string | null;
    admin: boolean;
    authenticatedBy: string;
    limits: Record<string, number | null>;
  };
};
/** Child processes start slowly on a busy two-core machine. */
export const SLOW = 120_000;

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout without npm's own "> script" header and blank lines. */
  lines: string[];
}

/**
 * `npm run keys -- …args` (or its bundle) with only the given settings in its environment: the
 * database's, or a running gateway's (GATEWAY_URL, GATEWAY_ADMIN_TOKEN), or none (help).
 */
export async function keys(
  args: string[],
  env: { DATABASE_URL: string } | { DATA_DIR: string } | { GATEWAY_URL?: string; GATEWAY_ADMIN_TOKEN?: string },
  { via = 'bundle' }: { via?: 'npm' | 'bundle' } = {},
): Promise<Run> {
  const [command, commandArgs]: [string, string[]] =
    via === 'npm'
      ? ['npm', ['run', 'keys', '--', ...args]]
      : [process.execPath, [...TEST_NODE_FLAGS, await bundled('keys'), ...args]];
  return new Promise((resolve, reject) => {
    const child = spawn(command, commandArgs, {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? tmpdir(),
        NODE_ENV: 'test',
        LOG_LEVEL: 'silent',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code) => {
      const lines = stdout.split('\n').filter((line) => line.trim() && !line.startsWith('> '));
      resolve({ code, stdout, stderr, lines });
    });
  });
}

/** The id (first on its line) and the key (alone on its own line) a `create` printed. */
export function created(run: Run): { id: string; key: string } {
  expect(run.code, run.stderr).toBe(0);
  const printedKeys = run.stdout.split('\n').filter((line) => line.includes('hhk_') && KEY.test(line));
  expect(printedKeys).toHaveLength(1);
  const id = run.lines[0]!.split(/\s+/)[0]!;
  expect(id).toMatch(UUID);
  expect(run.stderr).toMatch(/only time the key is shown/);
  return { id, key: printedKeys[0]! };
}

export function expectRefused(reply: Reply) {
  expect(reply.status).toBe(401);
  expect(reply.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  expect(reply.body.data ?? null).toBeNull();
}
