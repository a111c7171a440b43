/**
 * Once per test run, in vitest's main process: the server databases its workers pooled
 * (test/support/gateway.ts) are dropped when the run ends, and any left by a run that was killed
 * (whose main process is gone) when the next one starts. Another run's, still going, are not touched.
 */
import { existsSync } from 'node:fs';
import postgres from 'postgres';
import { ADMIN_URL, dropServerDatabase, SERVER_POOL_PREFIX } from './serverDatabases.ts';

async function pooledDatabases(): Promise<{ name: string; pid: number }[]> {
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  try {
    const rows = await admin<
      { datname: string }[]
    >`select datname from pg_database where datname like ${`${SERVER_POOL_PREFIX}%`}`;
    return rows.map(({ datname }) => ({
      name: datname,
      pid: Number(datname.slice(SERVER_POOL_PREFIX.length).split('_')[0]),
    }));
  } finally {
    await admin.end();
  }
}

export async function setup(): Promise<void> {
  // The workers (forked from this process, with its environment) name their databases after it.
  process.env.HH_TEST_RUN = String(process.pid);
  for (const { name, pid } of await pooledDatabases()) if (!existsSync(`/proc/${pid}`)) await dropServerDatabase(name);
}

export async function teardown(): Promise<void> {
  for (const { name, pid } of await pooledDatabases()) if (pid === process.pid) await dropServerDatabase(name);
}
