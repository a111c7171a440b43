import { createHash } from 'node:crypto';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import { migrate } from 'drizzle-orm/pglite/migrator';

/**
 * A new PGlite data folder starts as a copy of a migrated, empty cluster rather than by running initdb
 * and the migrations, which took 2.5 to 3 s of the first start; the copy takes about 0.1 s. The
 * cluster is made by PGlite itself when `npm install` runs (scripts/postinstall.ts), one per PGlite
 * version and set of migrations, and kept in the `.cache` of the node_modules PGlite is in (where
 * build tools keep theirs). Nothing but the migrations has
 * written to it: no gateway's secret or job is in it. It is only a shortcut: without one that matches
 * (a migration added since the install, say), PGlite runs initdb as ever.
 *
 * `memory://` databases (the tests make dozens) load the same cluster from one tar file beside it
 * (PGlite's loadDataDir): 0.3 to 0.5 s where initdb in memory took 2 s, and 12 s on a loaded machine.
 */
const PGLITE_DIR = join(dirname(createRequire(import.meta.url).resolve('@electric-sql/pglite')), '..');
const CACHE_DIR = join(PGLITE_DIR, '..', '..', '.cache', 'happyhorse-gateway');
/** The file that makes a folder a cluster; copied last, so a copy cut short is not taken for one. */
const MARKER = 'PG_VERSION';

function pgliteVersion(): string {
  return (JSON.parse(readFileSync(join(PGLITE_DIR, 'package.json'), 'utf8')) as { version: string }).version;
}

/** A digest of the migrations: their folders' names and SQL. */
function migrationsDigest(migrationsFolder: string): string {
  const hash = createHash('sha256');
  for (const name of readdirSync(migrationsFolder).sort()) {
    const sql = join(migrationsFolder, name, 'migration.sql');
    if (existsSync(sql)) hash.update(name).update('\0').update(readFileSync(sql)).update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

/** How templates are made; a change to what goes into one (below) gets a new number, so no older one is reused. */
const TEMPLATE_FORMAT = 2;

/** Where the cluster for this PGlite version and these migrations is kept. */
export function templateDir(migrationsFolder: string, cacheDir = CACHE_DIR): string {
  return join(cacheDir, `pglite-${pgliteVersion()}-${migrationsDigest(migrationsFolder)}-f${TEMPLATE_FORMAT}`);
}

/** The template as one tar file (PGlite's dumpDataDir), for `memory://` databases. */
const dumpOf = (template: string) => `${template}.tar`;

/**
 * Postgres' default of 128 MB of shared buffers lives in PGlite's WebAssembly memory, all of it
 * touched at start-up: 170 MiB of the gateway's resident memory (430 MiB at idle), and about a
 * second of its start on a busy machine spent clearing it. The gateway's working set is a few MB of
 * job rows; 16 MB (2,048 pages) holds it.
 */
const START_PARAMS = [...PGlite.defaultStartParams, '-c', 'shared_buffers=16MB'];

/** PGlite on `dataDir`; a new folder, or `memory://`, starts as a copy of the matching template when there is one. */
export async function createPglite(dataDir: string, migrationsFolder: string, cacheDir = CACHE_DIR): Promise<PGlite> {
  if (dataDir.startsWith('memory://')) {
    const dump = dumpOf(templateDir(migrationsFolder, cacheDir));
    return existsSync(dump)
      ? PGlite.create(dataDir, { loadDataDir: new Blob([readFileSync(dump)]), startParams: START_PARAMS })
      : PGlite.create(dataDir, { startParams: START_PARAMS });
  }
  // Only a new folder looks for a template: every other start skips hashing the migrations.
  const isNew = !existsSync(join(dataDir, MARKER));
  const marker = isNew ? join(templateDir(migrationsFolder, cacheDir), MARKER) : undefined;
  if (marker && existsSync(marker)) {
    // Synchronously: about 0.1 s for its thousand files, where fs.promises.cp took 0.4 to 0.9 s.
    cpSync(dirname(marker), dataDir, { recursive: true, filter: (source) => source !== marker });
    copyFileSync(marker, join(dataDir, MARKER));
  }
  return PGlite.create(dataDir, { startParams: START_PARAMS });
}

/**
 * Makes the template unless it exists: a cluster made by initdb, migrated, and closed cleanly; and its
 * tar file for `memory://` databases.
 */
export async function makeTemplate(migrationsFolder: string, cacheDir = CACHE_DIR): Promise<'made' | 'present'> {
  const template = templateDir(migrationsFolder, cacheDir);
  if (existsSync(join(template, MARKER))) {
    if (existsSync(dumpOf(template))) return 'present';
    const client = await PGlite.create(template);
    try {
      await writeDump(client, template);
    } finally {
      await client.close();
    }
    return 'made';
  }
  // Made aside and renamed into place: whole or not at all, even with two installs at once.
  const partial = `${template}.${process.pid}.partial`;
  try {
    mkdirSync(partial, { recursive: true });
    const client = await PGlite.create(partial);
    try {
      await migrate(drizzle({ client }), { migrationsFolder });
      await dropTemplateDatabases(client);
      await writeDump(client, template);
    } finally {
      await client.close();
    }
    rmSync(template, { recursive: true, force: true });
    renameSync(partial, template);
    return 'made';
  } finally {
    rmSync(partial, { recursive: true, force: true });
  }
}

/**
 * initdb makes three databases, each about 300 files; the gateway uses `postgres` alone and never
 * creates a database, which is all template0 and template1 are for. Without them a new data folder is
 * 400 files to copy instead of 1,000: the copy is per file (about 0.4 s of system time on two cores,
 * where the 16 MB of WAL cost nothing measurable).
 */
async function dropTemplateDatabases(client: PGlite): Promise<void> {
  await client.exec(`update pg_database set datistemplate = false where datname in ('template0', 'template1')`);
  await client.exec('drop database template0');
  await client.exec('drop database template1');
}

/** The cluster `client` has open, as the template's tar file: written aside and renamed into place. */
async function writeDump(client: PGlite, template: string): Promise<void> {
  const dump = await client.dumpDataDir('none');
  const partial = `${dumpOf(template)}.${process.pid}.partial`;
  writeFileSync(partial, Buffer.from(await dump.arrayBuffer()));
  renameSync(partial, dumpOf(template));
}
