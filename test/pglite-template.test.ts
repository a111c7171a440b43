/**
 * New PGlite databases start from a template cluster instead of running initdb (src/db/pgliteTemplate.ts):
 * the first one made without a template leaves one, later new ones are made from it and work, and an
 * existing database is never touched by it. Each test has a cache folder of its own.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createPglite, makeTemplate, templateFile } from '../src/db/pgliteTemplate.ts';

let folder: string;
let cache: string;
beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'hh-template-'));
  cache = join(folder, 'cache');
});
afterEach(() => {
  vi.restoreAllMocks();
  rmSync(folder, { recursive: true, force: true });
});

/** Whether each database opened was given a cluster to load (initdb's own helper instance, which has no folder, aside). */
function watchCreates() {
  const create = vi.spyOn(PGlite, 'create');
  return () =>
    create.mock.calls
      .filter(([dataDir]) => typeof dataDir === 'string')
      .map(([, options]) => (options as { loadDataDir?: unknown } | undefined)?.loadDataDir !== undefined);
}

describe('a new PGlite database', () => {
  it('runs initdb when there is no template, and leaves one; the next new database is made from it and works', async () => {
    const loaded = watchCreates();
    const first = await createPglite('memory://', cache);
    await first.close();
    expect(loaded()).toEqual([false]);
    expect(existsSync(templateFile(cache))).toBe(true);

    const second = await createPglite(join(folder, 'data'), cache);
    try {
      expect(loaded()).toEqual([false, true]);
      await second.exec('create table horses (name text primary key); insert into horses values ($$Silver$$);');
      expect((await second.query<{ name: string }>('select name from horses')).rows).toEqual([{ name: 'Silver' }]);
    } finally {
      await second.close();
    }
  }, 60_000);

  it('never replaces an existing database with the template', async () => {
    expect(await makeTemplate(cache)).toBe('made');
    expect(await makeTemplate(cache)).toBe('present');
    const data = join(folder, 'data');
    const made = await createPglite(data, cache);
    await made.exec('create table horses (name text); insert into horses values ($$Silver$$);');
    await made.close();

    const loaded = watchCreates();
    const reopened = await createPglite(data, cache);
    try {
      expect(loaded()).toEqual([false]);
      expect((await reopened.query<{ name: string }>('select name from horses')).rows).toEqual([{ name: 'Silver' }]);
    } finally {
      await reopened.close();
    }
  }, 60_000);

  it('still starts where the template can be neither read nor written', async () => {
    // A file where the cache folder should be: nothing can be read from or written under it.
    writeFileSync(cache, 'not a folder');
    const loaded = watchCreates();
    const client = await createPglite('memory://', cache);
    try {
      expect(loaded()).toEqual([false]);
      expect((await client.query<{ one: number }>('select 1 as one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await client.close();
    }
    expect(existsSync(templateFile(cache))).toBe(false);
  }, 60_000);
});
