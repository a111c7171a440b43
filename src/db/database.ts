import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import type { PgAsyncDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { lockDataDir } from './pgliteLock.ts';
import { createPglite, makeTemplate } from './pgliteTemplate.ts';

/** The query interface both drivers share; every query module takes this. */
export type Db = PgAsyncDatabase<PgQueryResultHKT>;

export interface Database {
  readonly kind: 'pglite' | 'postgres';
  readonly db: Db;
  /** Connections at most (PGlite: 1). */
  readonly poolSize: number;
  /**
   * The application_name this process' pool connections carry (unique per pool), so pg_stat_activity
   * tells them apart from other processes'; undefined for PGlite.
   */
  readonly applicationName: string | undefined;
  /**
   * LISTEN on a channel. `onReconnect` runs after the listening connection came back, when
   * notifications sent meanwhile are lost and whoever depends on them must re-read.
   */
  listen(channel: string, onPayload: (payload: string) => void, onReconnect: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export type DatabaseOptions = { url: string } | { dataDir: string };

export const migrationsFolder = fileURLToPath(new URL('./migrations', import.meta.url));
/** Serialises migrations when several gateways start against one database at once. */
const MIGRATION_LOCK = 7_301_905_311;

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  return 'url' in options ? openPostgres(options.url) : openPglite(options.dataDir);
}

async function openPostgres(url: string): Promise<Database> {
  // Migrations run on their own single connection, so the advisory lock and the DDL share a session.
  const migrator = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const db = drizzlePostgres({ client: migrator });
    await db.execute(sql`select pg_advisory_lock(${MIGRATION_LOCK})`);
    try {
      await migratePostgres(db, { migrationsFolder });
    } finally {
      await db.execute(sql`select pg_advisory_unlock(${MIGRATION_LOCK})`);
    }
  } finally {
    await migrator.end();
  }

  // While the database is away, requests should fail fast (DATABASE_UNAVAILABLE) rather than wait:
  // a short connect timeout instead of 30 s, and reconnects at most a second apart instead of
  // postgres.js' default backoff, which grows to 20 s and holds queued queries that long.
  const poolSize = 10;
  const applicationName = `happyhorse-gateway ${process.pid} ${randomBytes(4).toString('hex')}`;
  const client = postgres(url, {
    max: poolSize,
    onnotice: () => {},
    connection: { application_name: applicationName },
    connect_timeout: 5,
    backoff: (retries: number) => (0.5 + Math.random() / 2) * Math.min(3 ** retries / 100, 1),
  });
  return {
    kind: 'postgres',
    db: drizzlePostgres({ client }),
    poolSize,
    applicationName,
    async listen(channel, onPayload, onReconnect) {
      let connected = false;
      const request = await client.listen(channel, onPayload, () => {
        // postgres.js calls this on the first LISTEN and again after every reconnect.
        if (connected) onReconnect();
        connected = true;
      });
      return () => request.unlisten();
    },
    close: () => client.end({ timeout: 5 }),
  };
}

/** The cluster new PGlite folders are copied from (`npm install` makes it: scripts/postinstall.ts). */
export const makePgliteTemplate = () => makeTemplate(migrationsFolder);

async function openPglite(dataDir: string): Promise<Database> {
  let unlock = () => {};
  if (!dataDir.startsWith('memory://')) {
    mkdirSync(dataDir, { recursive: true });
    unlock = lockDataDir(dataDir);
  }
  try {
    const client = await createPglite(dataDir, migrationsFolder);
    const db = drizzlePglite({ client });
    await migratePglite(db, { migrationsFolder });
    return {
      kind: 'pglite',
      db,
      poolSize: 1,
      applicationName: undefined,
      // In-process: the connection cannot drop, so there is never a reconnect to report.
      listen: async (channel, onPayload) => client.listen(channel, onPayload),
      close: () => client.close().finally(unlock),
    };
  } catch (error) {
    unlock();
    throw error;
  }
}
