/**
 * New PGlite data folders start as a copy of a template cluster instead of running initdb
 * (src/db/pgliteTemplate.ts). A copy shares the template's system identifier, which initdb makes anew
 * for every cluster: that is how these tests tell a copy from an initdb. The file makes one template
 * (initdb and the migrations, the slow part) in a cache of its own; each test starts from an empty
 * cache, or from a copy of that one where the template is a given rather than the subject.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { migrationsFolder } from '../src/db/database.ts';
import { createPglite, makeTemplate, templateDir } from '../src/db/pgliteTemplate.ts';

let shared: string;
let firstMade: 'made' | 'present';
/** The file's template's system identifier, which every copy of it (in any test's cache) shares. */
let templateId: string;
beforeAll(async () => {
  shared = mkdtempSync(join(tmpdir(), 'hh-template-shared-'));
  firstMade = await makeTemplate(migrationsFolder, shared);
  templateId = await identifierOf(templateDir(migrationsFolder, shared));
}, 120_000);
afterAll(() => rmSync(shared, { recursive: true, force: true }));

let folder: string;
let cache: string;
beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'hh-template-'));
  cache = join(folder, 'cache');
});
afterEach(() => rmSync(folder, { recursive: true, force: true }));

/** The file's template, as if made in this test's cache (now, for a test that needs it to appear late). */
function copySharedTemplate() {
  const template = templateDir(migrationsFolder, shared);
  const target = templateDir(migrationsFolder, cache);
  cpSync(template, target, { recursive: true });
  cpSync(`${template}.tar`, `${target}.tar`);
}

async function systemIdentifier(client: PGlite): Promise<string> {
  return (await client.query<{ id: string }>('select system_identifier::text as id from pg_control_system()')).rows[0]!
    .id;
}

/** A cluster's identifier, read by opening it as it is (no template involved). */
async function identifierOf(dataDir: string): Promise<string> {
  const client = await PGlite.create(dataDir);
  try {
    return await systemIdentifier(client);
  } finally {
    await client.close();
  }
}

/** Opens, reads what `read` says, closes. */
async function using<T>(dataDir: string, read: (client: PGlite) => Promise<T>): Promise<T> {
  const client = await createPglite(dataDir, migrationsFolder, cache);
  try {
    return await read(client);
  } finally {
    await client.close();
  }
}

describe('a new PGlite data folder', () => {
  it('is a copy of the template, made once per PGlite version and set of migrations, migrated and empty, and works as a database of its own', async () => {
    // The file's beforeAll made it in an empty cache.
    cache = shared;
    expect(firstMade).toBe('made');
    expect(await makeTemplate(migrationsFolder, cache)).toBe('present');

    const [a, b] = [join(folder, 'a'), join(folder, 'b')];
    const first = await using(a, async (client) => {
      const id = await systemIdentifier(client);
      const rows = (await client.query('select count(*)::int as n from predictions')).rows;
      // Only the database the gateway uses: initdb's template0 and template1 would triple the files to copy.
      expect((await client.query('select datname from pg_database')).rows).toEqual([{ datname: 'postgres' }]);
      await client.exec('create table horses (name text); insert into horses values ($$Silver$$);');
      return { id, rows };
    });
    // A copy of the template, migrated, and empty.
    expect(first).toEqual({ id: templateId, rows: [{ n: 0 }] });
    // A folder that already has other things in it (the gateway's lock file, say) is a new one too.
    mkdirSync(b);
    writeFileSync(join(b, 'gateway.pid'), '1');
    const other = await using(b, async (client) => ({
      id: await systemIdentifier(client),
      horses: await client.query('select name from horses').then(
        () => 'present',
        (error: Error) => error.message,
      ),
    }));
    expect(other.id).toBe(templateId);
    expect(other.horses).toMatch(/horses/);

    // What a was given is still there when it is opened again.
    expect(await using(a, async (client) => (await client.query('select name from horses')).rows)).toEqual([
      { name: 'Silver' },
    ]);
  }, 120_000);

  it('is never made over an existing database', async () => {
    // The existing database is a copy of the file's template made while this test's cache is still
    // empty, not an initdb (seconds of CPU): what shows it is kept is its row, which a copy of the
    // template over it would lose (the catalog would no longer know the table). Its identifier, the
    // template's too, could not tell the two apart.
    const data = join(folder, 'data');
    const existing = await createPglite(data, migrationsFolder, shared);
    try {
      await existing.exec('create table horses (name text); insert into horses values ($$Silver$$);');
    } finally {
      await existing.close();
    }
    // A template appears after the database was made.
    copySharedTemplate();
    expect(await makeTemplate(migrationsFolder, cache)).toBe('present');
    expect(await using(data, async (client) => (await client.query('select name from horses')).rows)).toEqual([
      { name: 'Silver' },
    ]);
  }, 120_000);

  it('is copied again when an earlier copy was cut short (no PG_VERSION yet)', async () => {
    copySharedTemplate();
    const data = join(folder, 'data');
    mkdirSync(join(data, 'base'), { recursive: true });
    writeFileSync(join(data, 'postgresql.conf'), 'half a copy');
    // A copy (not an initdb over the leftovers), and a working one.
    expect(
      await using(data, async (client) => ({
        id: await systemIdentifier(client),
        rows: (await client.query('select count(*)::int as n from predictions')).rows,
      })),
    ).toEqual({ id: templateId, rows: [{ n: 0 }] });
  }, 120_000);

  it('runs initdb where no template matches the migrations, in memory too; with one, a memory:// database is loaded from it', async () => {
    // Each initdb is seconds of CPU: one folder and one memory:// database show it, for migrations
    // with one more than the template was made for.
    copySharedTemplate();
    const newer = join(folder, 'migrations');
    cpSync(migrationsFolder, newer, { recursive: true });
    mkdirSync(join(newer, '20991231000000_later'));
    writeFileSync(join(newer, '20991231000000_later', 'migration.sql'), 'create table later (x int);');
    expect(templateDir(newer, cache)).not.toBe(templateDir(migrationsFolder, cache));
    const initdb = await Promise.all(
      [join(folder, 'data'), 'memory://'].map(async (dataDir) => {
        const client = await createPglite(dataDir, newer, cache);
        try {
          return await systemIdentifier(client);
        } finally {
          await client.close();
        }
      }),
    );
    expect(new Set([...initdb, templateId]).size).toBe(3);
    // Loaded from the template's tar file: the same cluster, migrated and empty, and each one its own.
    const first = await createPglite('memory://', migrationsFolder, cache);
    const second = await createPglite('memory://', migrationsFolder, cache);
    try {
      expect([await systemIdentifier(first), await systemIdentifier(second)]).toEqual([templateId, templateId]);
      expect((await first.query('select count(*)::int as n from predictions')).rows).toEqual([{ n: 0 }]);
      await first.query('create table scratch (n int)');
      expect((await second.query(`select to_regclass('scratch')::text as t`)).rows).toEqual([{ t: null }]);
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  }, 120_000);
});
