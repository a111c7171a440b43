/**
 * The modes migration on a database an older release filled: its text-to-video rows get their mode
 * and their request as `input`, keep every column they had, and an older process can still insert a
 * row as it did (no mode, no input). On PGlite and on the Postgres server.
 */
import { cpSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { migrationsFolder } from '../src/db/database.ts';
import { createPglite, makeTemplate } from '../src/db/pgliteTemplate.ts';
import { createServerDatabase } from './support/gateway.ts';

const MODES_MIGRATION = readdirSync(migrationsFolder).find((name) => name.endsWith('_modes'))!;

/** The migrations as they were before modes. */
function migrationsBeforeModes(): string {
  const folder = mkdtempSync(join(tmpdir(), 'hh-migrations-'));
  for (const name of readdirSync(migrationsFolder)) {
    if (name < MODES_MIGRATION) cpSync(join(migrationsFolder, name), join(folder, name), { recursive: true });
  }
  return folder;
}

/** Rows as the previous release wrote them: every column it knew, none of the new ones. */
const OLD_ROWS = `
  insert into predictions (id, status, prompt, model, resolution, aspect_ratio, duration, seed, price_usd)
  values ('00000000-0000-4000-8000-000000000001', 'SUCCEEDED', 'a horse', 'alibaba/happyhorse-1.0/text-to-video', '1080P', '9:16', 8, 42, 0.14),
         ('00000000-0000-4000-8000-000000000002', 'STARTING', 'a cat', 'alibaba/happyhorse-1.0/text-to-video', '720P', '16:9', 5, null, 0.14)`;
const READ = `select id, mode, input, prompt, aspect_ratio, duration, seed from predictions order by id`;

function expectBackfilled(rows: Record<string, unknown>[]) {
  expect(rows).toEqual([
    {
      id: '00000000-0000-4000-8000-000000000001',
      mode: 'TEXT_TO_VIDEO',
      input: { prompt: 'a horse', resolution: '1080P', aspectRatio: '9:16', duration: 8, seed: 42, media: [] },
      prompt: 'a horse',
      aspect_ratio: '9:16',
      duration: 8,
      seed: 42,
    },
    {
      id: '00000000-0000-4000-8000-000000000002',
      mode: 'TEXT_TO_VIDEO',
      input: { prompt: 'a cat', resolution: '720P', aspectRatio: '16:9', duration: 5, media: [] },
      prompt: 'a cat',
      aspect_ratio: '16:9',
      duration: 5,
      seed: null,
    },
  ]);
}

describe('the modes migration', () => {
  it('backfills mode and input on PGlite, and an old process still inserts as before', async () => {
    // A database at the migrations before modes, loaded from a template of them kept in the cache beside
    // the gateway's own (keyed by the migrations' names and SQL, not by this temporary folder): only the
    // first run on a machine pays initdb and those migrations. Then the rows an older release wrote.
    const beforeModes = migrationsBeforeModes();
    await makeTemplate(beforeModes);
    const client = await createPglite('memory://', beforeModes);
    try {
      const db = drizzlePglite({ client });
      await client.exec(OLD_ROWS);
      await migratePglite(db, { migrationsFolder });
      expectBackfilled((await client.query<Record<string, unknown>>(READ)).rows);
      await client.exec(`insert into predictions (id, status, prompt, model, resolution, aspect_ratio, duration)
        values ('00000000-0000-4000-8000-000000000003', 'STARTING', 'old', 'alibaba/happyhorse-1.0/text-to-video', '720P', '1:1', 3)`);
      const [late] = (
        await client.query<{ mode: string; input: unknown }>(
          `select mode, input from predictions where id = '00000000-0000-4000-8000-000000000003'`,
        )
      ).rows;
      expect(late).toEqual({ mode: 'TEXT_TO_VIDEO', input: null });
    } finally {
      await client.close();
    }
    // The first run on a machine makes the template (initdb), seconds of CPU; on a loaded machine well
    // past the default 30 s.
  }, 120_000);

  it('backfills mode and input on the Postgres server', async () => {
    const server = await createServerDatabase();
    const sql = postgres(server.url, { max: 1, onnotice: () => {} });
    try {
      const db = drizzlePostgres({ client: sql });
      await migratePostgres(db, { migrationsFolder: migrationsBeforeModes() });
      await sql.unsafe(OLD_ROWS);
      await migratePostgres(db, { migrationsFolder });
      expectBackfilled((await sql.unsafe(READ)).map((row) => ({ ...row })));
    } finally {
      await sql.end();
      await server.drop();
    }
  });
});
