/**
 * Databases of the tests' own on the Postgres server (no gateway code here: vitest's main process
 * imports this for test/support/globalSetup.ts).
 */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';

/** The Postgres server CI starts; tests make a database of their own in it. */
export const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A new, empty database on the server, for one test file. */
export async function createServerDatabase(
  name = `hh_test_${randomBytes(6).toString('hex')}`,
): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return { url: url.toString(), name, drop: () => dropServerDatabase(name) };
}

export async function dropServerDatabase(name: string): Promise<void> {
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`drop database if exists ${name} with (force)`);
  } finally {
    await admin.end();
  }
}

/** Pooled databases (test/support/gateway.ts) are named after the test run, so one run's teardown drops its own only. */
export const SERVER_POOL_PREFIX = 'hh_pool_';
