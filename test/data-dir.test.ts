/**
 * DATA_DIR holds the journal of paid jobs' upstream ids that the database could not take yet. A
 * gateway refuses to start without a writable one, /ready says when it stops being writable, and a
 * journal that fails (during a database outage, the one time it is needed) never ends the process
 * nor loses a job: the ids stay in memory and are written once the database is back.
 *
 * DATA_DIR is made unusable the way the incident had it: a path under something that is not a
 * folder (ENOTDIR), which holds even for root, unlike permissions.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { journalDir } from '../src/dataDir.ts';
import { children, startChild } from './support/childGateway.ts';
import { eventually, startGateway, TEST_KEY } from './support/gateway.ts';
import { GENERATE, type Generated, outageFixture } from './support/outage.ts';

/** A DATA_DIR two levels down a fresh folder, and ways to take it away and give it back. */
function dataDirUnder(): { dataDir: string; breakIt(): void; restore(): void; hide(): void; unhide(): void } {
  const base = mkdtempSync(join(tmpdir(), 'hh-datadir-'));
  const parent = join(base, 'parent');
  const dataDir = join(parent, 'data');
  mkdirSync(dataDir, { recursive: true });
  const blockParent = () => writeFileSync(parent, 'not a folder');
  return {
    dataDir,
    /** Gone, and a file where its parent folder was: every use fails with ENOTDIR. */
    breakIt() {
      rmSync(parent, { recursive: true, force: true });
      blockParent();
    },
    restore() {
      rmSync(parent, { force: true });
      mkdirSync(dataDir, { recursive: true });
    },
    /** Unusable as with breakIt, but what it held comes back with unhide. */
    hide() {
      renameSync(parent, `${parent}.away`);
      blockParent();
    },
    unhide() {
      rmSync(parent, { force: true });
      renameSync(`${parent}.away`, parent);
    },
  };
}

const occurrences = (text: string, needle: string) => text.split(needle).length - 1;

describe('DATA_DIR', () => {
  const t = outageFixture();
  const ready = async (base: string) => {
    const response = await fetch(new URL('/ready', base), { signal: AbortSignal.timeout(10_000) });
    return { status: response.status, body: (await response.json()) as { status: string; reason?: string } };
  };

  it.each([
    ['Postgres', true],
    ['PGlite', false],
  ])(
    'refuses to start (%s) when DATA_DIR cannot be written, with a message naming it, and exit code 1',
    async (_name, withDatabaseUrl) => {
      const { dataDir, breakIt } = dataDirUnder();
      breakIt();
      const env = {
        ATLASCLOUD_BASE_URL: t.fake.url,
        DATA_DIR: dataDir,
        ...(withDatabaseUrl ? { DATABASE_URL: t.server.url } : {}),
      };
      await expect(startChild(env)).rejects.toThrow(/exited during start-up/);
      const child = children.at(-1)!;
      expect(await child.exited).toEqual({ code: 1, signal: null });
      expect(child.output()).toContain(`DATA_DIR (${dataDir}) cannot be written: ENOTDIR`);
      // A plain message for the operator, not a crash.
      expect(child.output()).not.toMatch(/^\s+at /m);
    },
    60_000,
  );

  it('/ready answers 503 while DATA_DIR cannot be written, and 200 again once it can', async () => {
    const { dataDir, breakIt, restore } = dataDirUnder();
    const gw = await startGateway({ databaseUrl: t.server.url, atlasUrl: t.fake.url, env: { DATA_DIR: dataDir } });
    t.gateways.push(gw);
    expect(await ready(gw.url)).toEqual({ status: 200, body: { status: 'ready' } });

    breakIt();
    // Probed every few seconds, not on every request.
    const down = await eventually(
      () => ready(gw.url),
      (r) => r.status === 503,
      15_000,
    );
    expect(down.body).toEqual({ status: 'not ready', reason: 'data dir: DATA_DIR cannot be written' });
    // The details are for the log, not for whoever asks /ready.
    expect(gw.logs.join('\n')).toContain('ENOTDIR');

    restore();
    await eventually(
      () => ready(gw.url),
      (r) => r.status === 200,
      15_000,
    );
  }, 40_000);

  it('survives a journal that cannot be written during a database outage, and records every job once the database is back', async () => {
    const { dataDir, breakIt } = dataDirUnder();
    const child = await startChild({
      DATABASE_URL: t.proxy.url(t.server.url),
      ATLASCLOUD_BASE_URL: t.fake.url,
      DATA_DIR: dataDir,
      UPSTREAM_TIMEOUT_MS: '5000',
    });
    breakIt();

    // Ten paid jobs whose create calls are out at Atlas when the database goes away.
    t.fake.createDelayMs = 1_000;
    const submissions = Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        fetch(`${child.base}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query: GENERATE, variables: { input: { prompt: `paid job ${i}` } } }),
        }).then((response) => response.json() as Promise<{ data?: Generated; errors?: unknown[] }>),
      ),
    );
    await eventually(
      () => t.fake.creates.length,
      (n) => n === 10,
    );
    await t.proxy.cut();
    const replies = await submissions;
    for (const reply of replies) expect(reply.errors).toBeUndefined();
    const ids = replies.map((reply) => reply.data!.generateVideo.prediction.id);

    // Neither the database nor the journal takes them: they are held in memory, and the log says so.
    await eventually(
      () => child.output(),
      (output) =>
        occurrences(output, 'the submission journal could not be written') === 10 &&
        output.includes('recording a submission failed again'),
      15_000,
    );
    await t.proxy.restore();

    // Every job ends with the id Atlas gave it: none was taken for lost.
    const done = await eventually(
      t.rows,
      (all) => all.length === 10 && all.every((row) => row.status === 'SUCCEEDED'),
      30_000,
    );
    expect(done.map((row) => row.id).sort()).toEqual([...ids].sort());
    expect(done.map((row) => row.upstream_id).sort()).toEqual(
      Array.from({ length: 10 }, (_, i) => `job_${i + 1}`).sort(),
    );
    expect(done.filter((row) => row.error_code !== null)).toEqual([]);
    expect(t.fake.creates).toHaveLength(10);

    // Still running, and still serving.
    expect(child.proc.exitCode).toBeNull();
    expect((await fetch(`${child.base}/health`)).status).toBe(200);
    expect(child.output()).not.toContain(TEST_KEY);
  }, 90_000);

  it('names, on shutdown, the upstream ids that neither the database nor the journal took', async () => {
    const { dataDir, breakIt } = dataDirUnder();
    const gw = await startGateway({
      databaseUrl: t.proxy.url(t.server.url),
      atlasUrl: t.fake.url,
      env: { DATA_DIR: dataDir, UPSTREAM_TIMEOUT_MS: '5000' },
    });
    breakIt();
    t.fake.createDelayMs = 1_000;
    const submission = gw.request<Generated>(GENERATE, { input: { prompt: 'recorded nowhere' } });
    await eventually(
      () => t.fake.creates.length,
      (n) => n === 1,
    );
    await t.proxy.cut();
    const id = (await submission).data!.generateVideo.prediction.id;
    await gw.close();
    const line = gw.logs.find((entry) => entry.includes('stopping with submissions recorded nowhere'));
    expect(line).toBeDefined();
    expect(JSON.parse(line!)).toMatchObject({
      level: 'error',
      submissions: [{ predictionId: id, upstreamId: 'job_1' }],
    });
  }, 60_000);

  it('keeps going when recorded ids cannot be removed from the journal, and removes them once it can', async () => {
    const { dataDir, hide, unhide } = dataDirUnder();
    const gw = await startGateway({
      databaseUrl: t.proxy.url(t.server.url),
      atlasUrl: t.fake.url,
      env: { DATA_DIR: dataDir, UPSTREAM_TIMEOUT_MS: '5000' },
    });
    t.gateways.push(gw);
    t.fake.createDelayMs = 1_000;
    const submissions = Promise.all(
      Array.from({ length: 3 }, (_, i) => gw.request<Generated>(GENERATE, { input: { prompt: `on disk ${i}` } })),
    );
    await eventually(
      () => t.fake.creates.length,
      (n) => n === 3,
    );
    await t.proxy.cut();
    await submissions;
    // On disk, as they should be; then the folder goes away before they can be removed.
    const journal = journalDir(dataDir);
    await eventually(
      () => readdirSync(journal).filter((name) => name.endsWith('.json')).length,
      (n) => n === 3,
    );
    hide();
    await t.proxy.restore();

    await eventually(
      t.rows,
      (all) => all.length === 3 && all.every((row) => row.status === 'SUCCEEDED' && row.upstream_id !== null),
      30_000,
    );
    await eventually(
      () => gw.logs.filter((line) => line.includes('could not be removed from the journal')).length,
      (n) => n === 3,
    );

    // Back: the stale files go, so a later process does not record them again.
    unhide();
    expect(existsSync(journal)).toBe(true);
    await eventually(
      () => readdirSync(journal).filter((name) => name.endsWith('.json')),
      (names) => names.length === 0,
      15_000,
    );
  }, 60_000);
});
