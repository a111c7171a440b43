/**
 * New PGlite data folders start as a copy of a template cluster instead of running initdb
 * (src/db/pgliteTemplate.ts). A copy shares the template's system identifier, which initdb makes anew
 * for every cluster: that is how these tests tell a copy from an initdb. The file makes one template
 * (initdb and the migrations, the slow part) in a cache of its own; each test starts from an empty
 * cache, or from a copy of that one where the template is a given rather than the subject.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { migrationsFolder } from '../src/db/database.ts';
import { createPglite, makeTemplate, templateDir } from '../src/db/pgliteTemplate.ts';

let shared: string;
let firstMade: 'made' | 'present';
beforeAll(async () => {
  shared = mkdtempSync(join(tmpdir(), 'hh-template-shared-'));
  firstMade = await makeTemplate(migrationsFolder, shared);
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

/** The template's own identifier, which every copy of it shares. */
async function templateIdentifier(): Promise<string> {
  const template = await PGlite.create(templateDir(migrationsFolder, cache));
  try {
    return await systemIdentifier(template);
  } finally {
    await template.close();
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
    const templateId = await templateIdentifier();

    const [a, b] = [join(folder, 'a'), join(folder, 'b')];
    expect(await using(a, systemIdentifier)).toBe(templateId);
    // Migrated, and empty.
    expect(
      await using(a, async (client) => (await client.query('select count(*)::int as n from predictions')).rows),
    ).toEqual([{ n: 0 }]);
    // A folder that already has other things in it (the gateway's lock file, say) is a new one too.
    mkdirSync(b);
    writeFileSync(join(b, 'gateway.pid'), '1');
    expect(await using(b, systemIdentifier)).toBe(templateId);

    await using(a, (client) => client.exec('create table horses (name text); insert into horses values ($$Silver$$);'));
    expect(await using(a, async (client) => (await client.query('select name from horses')).rows)).toEqual([
      { name: 'Silver' },
    ]);
    await expect(using(b, (client) => client.query('select name from horses'))).rejects.toThrow(/horses/);
  }, 120_000);

  it('is never made over an existing database', async () => {
    const data = join(folder, 'data');
    const own = await using(data, async (client) => {
      await client.exec('create table horses (name text); insert into horses values ($$Silver$$);');
      return systemIdentifier(client);
    });
    // A template appears after the database was made.
    copySharedTemplate();
    expect(await makeTemplate(migrationsFolder, cache)).toBe('present');
    const reopened = await using(data, async (client) => ({
      id: await systemIdentifier(client),
      rows: (await client.query('select name from horses')).rows,
    }));
    expect(reopened).toEqual({ id: own, rows: [{ name: 'Silver' }] });
  }, 120_000);

  it('is copied again when an earlier copy was cut short (no PG_VERSION yet)', async () => {
    copySharedTemplate();
    const data = join(folder, 'data');
    mkdirSync(join(data, 'base'), { recursive: true });
    writeFileSync(join(data, 'postgresql.conf'), 'half a copy');
    // A copy (not an initdb over the leftovers), and a working one.
    expect(await using(data, systemIdentifier)).toBe(await templateIdentifier());
    expect(
      await using(data, async (client) => (await client.query('select count(*)::int as n from predictions')).rows),
    ).toEqual([{ n: 0 }]);
  }, 120_000);

  it('is not copied from a template made for other migrations', async () => {
    copySharedTemplate();
    const templateId = await templateIdentifier();
    const newer = join(folder, 'migrations');
    cpSync(migrationsFolder, newer, { recursive: true });
    mkdirSync(join(newer, '20991231000000_later'));
    writeFileSync(join(newer, '20991231000000_later', 'migration.sql'), 'create table later (x int);');
    expect(templateDir(newer, cache)).not.toBe(templateDir(migrationsFolder, cache));
    const client = await createPglite(join(folder, 'data'), newer, cache);
    try {
      expect(await systemIdentifier(client)).not.toBe(templateId);
    } finally {
      await client.close();
    }
  }, 120_000);

  it('runs initdb where there is no template, in memory too; with one, a memory:// database is loaded from it', async () => {
    const initdb = [await using(join(folder, 'data'), systemIdentifier), await using('memory://', systemIdentifier)];
    expect(existsSync(templateDir(migrationsFolder, cache))).toBe(false);
    copySharedTemplate();
    const templateId = await templateIdentifier();
    expect(new Set([...initdb, templateId]).size).toBe(3);
    // Loaded from the template's tar file: the same cluster, migrated and empty, and each one its own.
    expect(await using('memory://', systemIdentifier)).toBe(templateId);
    const first = await createPglite('memory://', migrationsFolder, cache);
    const second = await createPglite('memory://', migrationsFolder, cache);
    try {
      expect((await first.query('select count(*)::int as n from predictions')).rows).toEqual([{ n: 0 }]);
      await first.query('create table scratch (n int)');
      expect((await second.query(`select to_regclass('scratch')::text as t`)).rows).toEqual([{ t: null }]);
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  }, 120_000);
});
