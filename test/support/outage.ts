/**
 * The set-up of the tests that take the database away while jobs are out at Atlas (outage.test.ts,
 * data-dir.test.ts): a fake Atlas, a database of its own on the Postgres server, and a TCP proxy in
 * front of that server, so a test cuts the database off for its gateways while the server keeps
 * serving other test files. Made before each test; taken down after it with every gateway and child
 * process the test started.
 */
import postgres from 'postgres';
import { afterEach, beforeEach } from 'vitest';
import { children } from './childGateway.ts';
import { FakeAtlas } from './fakeAtlas.ts';
import { ADMIN_URL, createServerDatabase, type TestGateway } from './gateway.ts';
import { TcpProxy } from './tcpProxy.ts';

export const GENERATE =
  'mutation G($input: GenerateVideoInput!) { generateVideo(input: $input) { prediction { id status } } }';
export type Generated = { generateVideo: { prediction: { id: string; status: string } } };

/** A predictions row as read straight from the database. */
export interface StoredRow {
  id: string;
  status: string;
  upstream_id: string | null;
  error_code: string | null;
}

export interface OutageFixture {
  fake: FakeAtlas;
  server: { url: string; drop(): Promise<void> };
  /** Between the gateways and the server: `proxy.url(server.url)` goes through it. */
  proxy: TcpProxy;
  /** Straight to the server, past the proxy. */
  sql: postgres.Sql;
  /** In-process gateways the test started; closed after it. */
  gateways: TestGateway[];
  /** Every prediction, oldest first, read past the proxy. */
  rows(): Promise<StoredRow[]>;
}

export function outageFixture(): OutageFixture {
  const fixture = {
    gateways: [],
    rows: () =>
      fixture.sql<StoredRow[]>`select id, status, upstream_id, error_code from predictions order by created_at`,
  } as unknown as OutageFixture;

  beforeEach(async () => {
    [fixture.fake, fixture.server] = await Promise.all([FakeAtlas.start(), createServerDatabase()]);
    const admin = new URL(ADMIN_URL);
    fixture.proxy = await TcpProxy.start({ host: admin.hostname, port: Number(admin.port || 5432) });
    fixture.sql = postgres(fixture.server.url, { max: 1, onnotice: () => {} });
  });

  afterEach(async () => {
    await Promise.all(fixture.gateways.splice(0).map((gateway) => gateway.close()));
    await Promise.all(children.splice(0).map((child) => child.kill9()));
    await fixture.sql.end({ timeout: 1 });
    await fixture.proxy.close();
    await Promise.all([fixture.fake.close(), fixture.server.drop()]);
  });

  return fixture;
}
