import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServerDatabase } from './support/gateway.ts';

/**
 * The database driver survives a connection cut at the worst moment (patches/postgres+3.4.9.patch).
 * Each scenario runs in a process of its own: unpatched, it dies of an uncaught exception or hangs.
 */
const script = fileURLToPath(new URL('./support/cutConnection.mjs', import.meta.url));

function runScenario(url: string, scenario: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [script, url, scenario], { timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
    });
  });
}

describe('postgres.js when a connection is cut', () => {
  let server: Awaited<ReturnType<typeof createServerDatabase>>;
  beforeAll(async () => {
    server = await createServerDatabase();
  });
  afterAll(() => server?.drop());

  it("rejects a transaction's next query with CONNECTION_CLOSED instead of crashing the process", async () => {
    const run = await runScenario(server.url, 'server-cut');
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    // The pool reconnects and serves the next query.
    expect(JSON.parse(run.stdout)).toEqual({ queryAfterCut: 'CONNECTION_CLOSED', poolAfterCut: 2 });
  });

  it('settles a write buffered when the socket died, and the connection flushes again afterwards', async () => {
    const run = await runScenario(server.url, 'buffered-write');
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(run.stdout)).toEqual({ bufferedWhenCut: 'CONNECTION_CLOSED', nextQuery: 3 });
  });
});
