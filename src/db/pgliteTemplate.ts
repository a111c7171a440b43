import { existsSync, mkdirSync, openAsBlob, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';

/**
 * A new PGlite database starts from a copy of an empty cluster rather than running initdb, which is
 * about 2 of the 2.5 s it takes to make one. The copy is PGlite's own dump of a cluster it has just
 * made, kept per PGlite version in node_modules/.cache (where build tools keep theirs). `npm install`
 * makes it (scripts/postinstall.ts), or else the first database made without it; every new database
 * (a new DATA_DIR, each test's `memory://`) then starts from it. It is only a shortcut: when it
 * cannot be read or written, PGlite runs initdb.
 */
const PGLITE_DIR = join(dirname(createRequire(import.meta.url).resolve('@electric-sql/pglite')), '..');
/** The `.cache` of the node_modules that PGlite is installed in. */
const CACHE_DIR = join(PGLITE_DIR, '..', '..', '.cache', 'happyhorse-gateway');

function pgliteVersion(): string {
  return (JSON.parse(readFileSync(join(PGLITE_DIR, 'package.json'), 'utf8')) as { version: string }).version;
}

/** Where this PGlite version's empty cluster is kept. */
export function templateFile(cacheDir = CACHE_DIR): string {
  return join(cacheDir, `pglite-${pgliteVersion()}-cluster.tar`);
}

/** Whether `dataDir` holds no cluster yet (`memory://` never does). */
function isNew(dataDir: string): boolean {
  return dataDir.startsWith('memory://') || !existsSync(join(dataDir, 'PG_VERSION'));
}

/** PGlite on `dataDir`: a new cluster from the template when there is one, else made by initdb (and kept as the template). */
export async function createPglite(dataDir: string, cacheDir = CACHE_DIR): Promise<PGlite> {
  if (!isNew(dataDir)) return PGlite.create(dataDir);
  const file = templateFile(cacheDir);
  let template: Blob | undefined;
  try {
    template = await openAsBlob(file);
  } catch {
    // None yet (or unreadable): initdb, below.
  }
  if (template) return PGlite.create(dataDir, { loadDataDir: template });
  const client = await PGlite.create(dataDir);
  await keepAsTemplate(client, file);
  return client;
}

/** Writes the fresh cluster's dump, whole or not at all (a rename), for the next new database. Best effort. */
async function keepAsTemplate(client: PGlite, file: string): Promise<void> {
  const partial = `${file}.${process.pid}.partial`;
  try {
    // Uncompressed (40 MB): unpacking a gzipped one took 0.3 s longer, every time.
    const dump = await client.dumpDataDir('none');
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(partial, Buffer.from(await dump.arrayBuffer()));
    renameSync(partial, file);
  } catch {
    // A read-only node_modules (a container's) or a full disk: the next new database runs initdb too.
    try {
      rmSync(partial, { force: true });
    } catch {
      // There was nowhere to write it.
    }
  }
}

/** Makes this PGlite version's template unless it exists (`npm install` runs this: scripts/postinstall.ts). */
export async function makeTemplate(cacheDir = CACHE_DIR): Promise<'made' | 'present'> {
  const file = templateFile(cacheDir);
  if (existsSync(file)) return 'present';
  const client = await PGlite.create('memory://');
  try {
    await keepAsTemplate(client, file);
  } finally {
    await client.close();
  }
  return 'made';
}
