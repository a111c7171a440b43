/**
 * `npm run keys` against a PGlite data folder: it works while no gateway holds the folder, and fails
 * with a clear message while one does (PGlite is one process' database).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../src/auth/apiKeys.ts';
import { type Database, openDatabase } from '../src/db/database.ts';
import { dumpDatabase, post } from './support/auth.ts';
import { FakeAtlas } from './support/fakeAtlas.ts';
import { startGateway, type TestGateway } from './support/gateway.ts';
import { created, expectRefused, keys, SLOW, VIEWER, type ViewerReply } from './support/keysCli.ts';

let fake: FakeAtlas;
beforeAll(async () => {
  fake = await FakeAtlas.start();
});
afterAll(() => fake?.close());

describe('npm run keys against a PGlite data folder', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hh-keys-'));
  let database: Database | undefined;
  let gw: TestGateway | undefined;
  const open = async () => {
    database = await openDatabase({ dataDir: dir });
    gw = await startGateway({ database, atlasUrl: fake.url, env: { AUTH_MODE: 'apikey' } });
    return gw;
  };
  const close = async () => {
    await gw?.close();
    await database?.close();
    gw = database = undefined;
  };
  afterAll(async () => {
    await close();
    rmSync(dir, { recursive: true, force: true });
  });

  it(
    'works while no gateway holds the folder, and fails with a clear message while one does',
    async () => {
      const { id, key } = created(await keys(['create', '--name', 'local', '--tenant', 'home'], { DATA_DIR: dir }));

      const running = await open();
      expect((await post<ViewerReply>(running.url, key, VIEWER)).body.data?.viewer).toMatchObject({
        id: `key:${id}`,
        tenantId: 'home',
      });

      // This test process holds the folder; the CLI must not open it beside us.
      const held = await keys(['revoke', id], { DATA_DIR: dir });
      expect(held.code).toBe(1);
      expect(held.stderr).toContain(`${dir} is in use by process ${process.pid}`);
      expect(held.stderr).toMatch(/PGlite allows one process per folder/);
      expect(held.stdout).not.toMatch(/revoked/);
      // Nothing was revoked.
      expect((await post<ViewerReply>(running.url, key, VIEWER)).body.data?.viewer.id).toBe(`key:${id}`);
      await close();

      const revoked = await keys(['revoke', id], { DATA_DIR: dir });
      expect(revoked.code, revoked.stderr).toBe(0);
      expect(revoked.lines).toEqual([`revoked ${id}`]);

      const reopened = await open();
      expectRefused(await post(reopened.url, key, VIEWER));
      const { rows } = await dumpDatabase(database!.db);
      const dump = rows.join('\n');
      expect(dump).toContain(hashApiKey(key));
      expect(dump).not.toContain(key.slice(4));
    },
    SLOW,
  );
});
