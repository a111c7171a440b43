import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/postgres-js';
import type { ExecutionResult } from 'graphql';
import { createClient } from 'graphql-sse';
import postgres from 'postgres';
import { afterAll, beforeAll } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { type Database, type Db, openDatabase } from '../../src/db/database.ts';
import { executedRows } from '../../src/db/rows.ts';
import { createLogger } from '../../src/log.ts';
import { createGateway, type Gateway } from '../../src/server.ts';
import { FakeAtlas } from './fakeAtlas.ts';
import { createServerDatabase, dropServerDatabase, SERVER_POOL_PREFIX } from './serverDatabases.ts';

export { ADMIN_URL, createServerDatabase } from './serverDatabases.ts';

/** A key that must never show up in a reply or a log line. */
export const TEST_KEY = 'sk-test-7f3c9e1a5b-SECRET';

export type Backend = 'pglite' | 'postgres';
export const BACKENDS: Backend[] = ['pglite', 'postgres'];
/**
 * The backend for tests whose subject cannot differ by backend (HTTP, GraphQL, auth, logs): what a
 * query, a transaction, a notification or a lease does stays on BACKENDS. PGlite, as it costs the machine
 * less: a file of such tests run again in a worker that has its databases cost 0.6 s of CPU on PGlite
 * (in the worker) against 1.2 s on the server (0.5 s in the worker, 0.7 s in Postgres' processes:
 * the gateway's pool connecting, its loops' queries), measured on secrets.test.ts and client-documents.
 */
export const ONE_BACKEND: Backend = 'pglite';

export interface TestDatabase {
  backend: Backend;
  database: Database;
  /** Set for the server backend: where a second gateway or a child process can connect. */
  url: string | undefined;
  /** Empty the tables between tests, so one database serves a whole file. */
  truncate(): Promise<void>;
  close(): Promise<void>;
}

export async function openTestDatabase(backend: Backend): Promise<TestDatabase> {
  return backend === 'pglite' ? openPooledPglite() : openPooledServerDatabase();
}

/**
 * Databases on the server a closed TestDatabase handed back, emptied, for the next file in this
 * worker. Making one costs the server about 0.35 s of CPU (`create database` writes a copy of
 * template1 to the WAL, then the migrations run), and the suite made dozens on two cores shared with
 * everything else; emptying one is a truncate. Dropped when the test run ends (test/support/globalSetup.ts).
 */
const idleServerDatabases: { url: string; name: string }[] = [];
/** The migrated schema as a new server database has it (compared as for PGlite, below). */
let newServerSchema: string | undefined;

const poolName = () =>
  `${SERVER_POOL_PREFIX}${process.env.HH_TEST_RUN ?? process.pid}_${randomBytes(4).toString('hex')}`;

async function openPooledServerDatabase(): Promise<TestDatabase> {
  const reused = idleServerDatabases.pop();
  const server = reused ?? (await createServerDatabase(poolName()));
  const database = await openDatabase({ url: server.url });
  newServerSchema ??= await schemaOf(database.db);
  let returned = false;
  return {
    backend: 'postgres',
    database,
    url: server.url,
    truncate: () => truncate(database),
    async close() {
      if (returned) return;
      returned = true;
      await database.close().catch(() => {});
      // One connection of its own: whatever else the file left connected (a child process, a second
      // gateway) goes first, its LISTEN and its locks with it, so nothing of it reaches the next file.
      const client = postgres(server.url, { max: 1, onnotice: () => {} });
      try {
        const db: Db = drizzle({ client });
        await db.execute(
          sql`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`,
        );
        if ((await schemaOf(db)) !== newServerSchema) throw new Error('schema altered');
        await emptied(db);
        idleServerDatabases.push(server);
      } catch {
        await dropServerDatabase(server.name);
      } finally {
        await client.end();
      }
    },
  };
}

/**
 * In-memory PGlite databases a closed TestDatabase handed back, emptied, for the next file in this
 * worker (files run one after another in a worker, sharing this module): a new one costs 1.5 to 2.5 s
 * of CPU (the WebAssembly Postgres starting and loading the template), emptying one a few milliseconds.
 */
const idlePglite: Database[] = [];
/** The migrated schema as a new database has it; one a test altered (error-logs drops a table) is not handed on. */
let newSchema: string | undefined;

async function openPooledPglite(): Promise<TestDatabase> {
  let database = idlePglite.pop();
  if (!database) {
    database = await openDatabase({ dataDir: 'memory://' });
    newSchema ??= await schemaOf(database.db);
  }
  // What the borrower still listens to when it hands the database back is stopped then, so nothing
  // of one file's gateways hears the next file's notifications.
  const listening = new Set<() => Promise<void>>();
  const borrowed: Database = {
    kind: database.kind,
    db: database.db,
    poolSize: database.poolSize,
    applicationName: database.applicationName,
    async listen(channel, onPayload, onReconnect) {
      const stop = await database.listen(channel, onPayload, onReconnect);
      const tracked = async () => {
        listening.delete(tracked);
        await stop();
      };
      listening.add(tracked);
      return tracked;
    },
    // The borrower's gateways share it and never close it; the TestDatabase below hands it back.
    close: async () => {},
  };
  let returned = false;
  return {
    backend: 'pglite',
    database: borrowed,
    url: undefined,
    truncate: () => truncate(database),
    async close() {
      if (returned) return;
      returned = true;
      try {
        await Promise.all([...listening].map((stop) => stop()));
        if ((await schemaOf(database.db)) !== newSchema) throw new Error('schema altered');
        await emptied(database.db);
        idlePglite.push(database);
      } catch {
        await database.close().catch(() => {});
      }
    },
  };
}

/** Every table, column, index, sequence and constraint of the gateway's schema, as one string. */
async function schemaOf(db: Db): Promise<string> {
  const rows = executedRows<{ schema: string }>(
    await db.execute(sql`
    select string_agg(item, ',' order by item) as schema from (
      select c.relname::text || ':' || c.relkind::text as item from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public'
      union all select table_name || '.' || column_name || ':' || data_type || ':' || is_nullable from information_schema.columns where table_schema = 'public'
      union all select conrelid::regclass::text || ':' || conname::text from pg_constraint c join pg_namespace n on n.oid = c.connamespace where n.nspname = 'public'
    ) items`),
  );
  return rows[0]?.schema ?? '';
}

/** Every table of the gateway's schema empty and every sequence restarted, as a new database has them; no lock left held. */
async function emptied(db: Db) {
  const rows = executedRows<{ tables: string }>(
    await db.execute(
      sql`select coalesce(string_agg(format('%I.%I', schemaname, tablename), ', '), '') as tables from pg_tables where schemaname = 'public'`,
    ),
  );
  const tables = rows[0]?.tables;
  if (tables) await db.execute(sql.raw(`truncate ${tables} restart identity cascade`));
  await db.execute(sql`select pg_advisory_unlock_all()`);
}

async function truncate(database: Database) {
  for (let attempt = 1; ; attempt++) {
    try {
      // cascade: the webhook outbox and its attempts refer to predictions.
      return void (await database.db.execute(sql`truncate predictions, atlas_webhook_deliveries cascade`));
    } catch (error) {
      // A gateway still running in the background (the webhook dispatcher claiming its outbox) can
      // hold a lock truncate wants, in the other order: Postgres breaks the deadlock; try again.
      const code = (error as { cause?: { code?: unknown } }).cause?.code;
      if (code !== '40P01' || attempt >= 5) throw error;
    }
  }
}

export interface TestGateway {
  gateway: Gateway;
  /** http://127.0.0.1:PORT/graphql, on a real socket. */
  url: string;
  logs: string[];
  /** A query or mutation through yoga.fetch. */
  request<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>): Promise<ExecutionResult<T>>;
  /** Every event of a subscription over SSE on the real socket, until it completes. */
  subscribe<T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
  ): AsyncIterable<ExecutionResult<T>>;
  close(): Promise<void>;
}

/**
 * A gateway on a real socket. Given an open `database`, it shares it (the caller closes it); given a
 * `databaseUrl`, it opens and closes its own connections, as a separate process would.
 */
export async function startGateway(
  options: ({ database: Database } | { databaseUrl: string }) & {
    atlasUrl: string;
    env?: Record<string, string>;
    /** Listen here rather than on any free port (for a PUBLIC_URL that must name it in advance). */
    port?: number;
  },
): Promise<TestGateway> {
  const config = loadConfig({
    NODE_ENV: 'test',
    ATLASCLOUD_API_KEY: TEST_KEY,
    ATLASCLOUD_BASE_URL: options.atlasUrl,
    POLL_INTERVAL_MS: '40',
    // Generous, so a busy machine (the whole suite on two cores) does not time create calls out; tests
    // of timeouts set a short one themselves.
    UPSTREAM_TIMEOUT_MS: '3000',
    UPSTREAM_RETRIES: '2',
    // Local files (the journal of unrecorded submissions) of this gateway alone.
    DATA_DIR: mkdtempSync(join(tmpdir(), 'hh-gateway-')),
    ...('databaseUrl' in options ? { DATABASE_URL: options.databaseUrl } : {}),
    // Copies of outputs are mirror.test.ts' subject; elsewhere videoUrl stays the fake's link.
    STORAGE_URL: 'none',
    ...options.env,
  });
  const logs: string[] = [];
  const log = createLogger('debug', (line) => logs.push(line));
  const gateway = await createGateway(config, log, 'database' in options ? { database: options.database } : undefined);
  const url = await gateway.listen(options.port ?? 0, '127.0.0.1');
  const sse = createClient({ url, singleConnection: false, retryAttempts: 0 });

  return {
    gateway,
    url,
    logs,
    async request(query, variables) {
      const response = await gateway.yoga.fetch('http://gateway/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query, variables }),
      });
      return response.json();
    },
    subscribe: (query, variables) => sse.iterate({ query, variables }) as AsyncIterable<ExecutionResult<never>>,
    async close() {
      sse.dispose();
      await gateway.close();
    },
  };
}

/**
 * The usual set-up of a test file: a fake Atlas, a database of the given backend and a gateway
 * between them, started before the file's tests and torn down after. Read the fields inside tests.
 */
export function gatewayFixture(backend: Backend, env?: Record<string, string>) {
  const fixture = {} as { fake: FakeAtlas; db: TestDatabase; gw: TestGateway };
  beforeAll(async () => {
    [fixture.fake, fixture.db] = await Promise.all([FakeAtlas.start(), openTestDatabase(backend)]);
    fixture.gw = await startGateway({ database: fixture.db.database, atlasUrl: fixture.fake.url, env });
  });
  afterAll(async () => {
    await fixture.gw?.close();
    await Promise.all([fixture.fake?.close(), fixture.db?.close()]);
  });
  return fixture;
}

/**
 * A gateway with no API key, on its built-in simulator and an in-memory PGlite, as `npm start` runs for
 * a newcomer (`env` shortens its jobs and polls): started before the file's (or describe's) tests,
 * closed after. Read the fields inside tests: `origin` is http://127.0.0.1:PORT, `url` its /graphql.
 */
export function simulatorGatewayFixture(env: Record<string, string>) {
  const fixture = {} as { gateway: Gateway; origin: string; url: string; db: TestDatabase };
  beforeAll(async () => {
    fixture.db = await openTestDatabase('pglite');
    const config = loadConfig({ NODE_ENV: 'test', ...env });
    fixture.gateway = await createGateway(config, createLogger('silent'), { database: fixture.db.database });
    fixture.url = await fixture.gateway.listen(0, '127.0.0.1');
    fixture.origin = new URL(fixture.url).origin;
  }, 60_000);
  afterAll(async () => {
    await fixture.gateway?.close();
    await fixture.db?.close();
  });
  return fixture;
}

/**
 * Two gateways on one Postgres database, each opening connections of its own from the URL as separate
 * processes would, and a fake Atlas: started before the file's tests, torn down after.
 */
export function twoGatewaysFixture(env?: Record<string, string>) {
  const fixture = {} as { fake: FakeAtlas; db: TestDatabase; a: TestGateway; b: TestGateway };
  beforeAll(async () => {
    [fixture.fake, fixture.db] = await Promise.all([FakeAtlas.start(), openTestDatabase('postgres')]);
    const start = () => startGateway({ databaseUrl: fixture.db.url!, atlasUrl: fixture.fake.url, env });
    [fixture.a, fixture.b] = await Promise.all([start(), start()]);
  });
  afterAll(async () => {
    await Promise.all([fixture.a?.close(), fixture.b?.close()]);
    await Promise.all([fixture.fake?.close(), fixture.db?.close()]);
  });
  return fixture;
}

export async function collect<T>(events: AsyncIterable<T>, limit = 100): Promise<T[]> {
  const seen: T[] = [];
  for await (const event of events) {
    seen.push(event);
    if (seen.length >= limit) break;
  }
  return seen;
}

/**
 * Wait until a background loop of `gateway` has completed `cycles` more cycles (each a claim that
 * reached the database). What a test that shows "nothing more happens" waits on: a loop that ran
 * several times and did nothing proves it on a busy machine as on a quiet one, where a fixed sleep
 * proves it only on a quiet one. The poller and the copier are woken as a notice would wake them:
 * idle, their claims spread out to IDLE_CLAIM_CAP_MS, and ten cycles would take six seconds.
 */
export async function afterCycles(
  gateway: Gateway,
  loop: 'poller' | 'copier' | 'webhook dispatcher',
  cycles: number,
  timeoutMs = 30_000,
): Promise<void> {
  const target = gateway.loops.cycles(loop) + cycles;
  const wake =
    loop === 'poller' ? () => gateway.poller.wake() : loop === 'copier' ? () => gateway.mirror.wake() : undefined;
  await eventually(
    () => {
      wake?.();
      return gateway.loops.cycles(loop);
    },
    (done) => done >= target,
    timeoutMs,
  );
}

/**
 * A fixed wait, only where time passing is itself the test's subject (a cooldown that must expire, an
 * outage that must last, a clock that must stop) or where nothing observable marks the moment; the
 * caller says which. To show that nothing more happens, wait on something that can be counted instead:
 * `afterCycles` (a loop ran n more times) or a settled state (settledOutbox in webhookReceiver.ts).
 */
export function letTimePass(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Poll a condition (for state that changes in the background) until it holds or time runs out. */
export async function eventually<T>(
  read: () => Promise<T> | T,
  ok: (value: T) => boolean,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`condition not met in ${timeoutMs} ms; last value: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
