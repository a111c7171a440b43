/**
 * Streams outlive the request that checked their credential. A subscription (SSE or WebSocket) ends
 * with UNAUTHENTICATED once its API key is revoked (by the keys CLI, another process: the database
 * decides) or its JWT passes `exp`; streams of credentials that still hold go on to the job's end.
 */
import type { ExecutionResult } from 'graphql';
import { createClient as createSseClient } from 'graphql-sse';
import { type Client, createClient as createWsClient } from 'graphql-ws';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createApiKey } from '../src/auth/apiKeys.ts';
import { CredentialWatch } from '../src/auth/credentialWatch.ts';
import type { Db } from '../src/db/database.ts';
import { activeApiKeyIds } from '../src/db/queries/activeApiKeyIds.ts';
import { revokeApiKey } from '../src/db/queries/apiKeys.ts';
import { createLogger } from '../src/log.ts';
import { authHeaders, post } from './support/auth.ts';
import { FakeAtlas, wrapped } from './support/fakeAtlas.ts';
import { eventually, gatewayFixture, ONE_BACKEND, startGateway, type TestGateway } from './support/gateway.ts';
import { keys, SLOW } from './support/keysCli.ts';

const SECRET = 'stream-credentials-hs256-secret-0123456789';
const GENERATE = 'mutation G($input: GenerateVideoInput!) { generateVideo(input: $input) { prediction { id } } }';
const UPDATES = 'subscription W($id: ID!) { predictionUpdated(id: $id) { id status } }';
type Generated = { generateVideo: { prediction: { id: string } } };
type Updated = { predictionUpdated: { id: string; status: string } };

/** A JWT for `sub` that expires at `exp` (Unix seconds). */
const jwt = (sub: string, exp: number) =>
  new SignJWT({ sub })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime(exp)
    .sign(new TextEncoder().encode(SECRET));

/** Jobs stay PROCESSING upstream until `release()`; then they succeed. */
function holdJobs(fake: FakeAtlas): () => void {
  fake.newJob = (n) => ({ id: `held_${n}`, script: [wrapped({ id: `held_${n}`, status: 'processing' })] });
  return () => {
    for (const id of fake.statusScripts.keys()) {
      if (id.startsWith('held_'))
        fake.statusScripts.set(id, [wrapped({ id, status: 'completed', outputs: [`https://cdn.example/${id}.mp4`] })]);
    }
    fake.newJob = FakeAtlas.defaultJob;
  };
}

/** A stream followed in the background: what it gave so far, and how it ended (done, or failed with what). */
interface Followed {
  events: ExecutionResult<Updated>[];
  ended: boolean;
  failure: unknown;
}
function follow(stream: AsyncIterable<unknown>): Followed {
  const followed: Followed = { events: [], ended: false, failure: undefined };
  void (async () => {
    try {
      for await (const event of stream) followed.events.push(event as ExecutionResult<Updated>);
    } catch (error) {
      followed.failure = error;
    } finally {
      followed.ended = true;
    }
  })();
  return followed;
}

function overSse(gw: TestGateway, credential: string, id: string): { followed: Followed; close(): void } {
  const client = createSseClient({
    url: gw.url,
    singleConnection: false,
    retryAttempts: 0,
    headers: authHeaders(credential),
  });
  return { followed: follow(client.iterate({ query: UPDATES, variables: { id } })), close: () => client.dispose() };
}

function overWebSocket(
  gw: TestGateway,
  credential: string,
  id: string,
): { followed: Followed; close(): Promise<void> } {
  const client: Client = createWsClient({
    url: gw.url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: { token: credential },
    retryAttempts: 0,
  });
  return {
    followed: follow(client.iterate({ query: UPDATES, variables: { id } })),
    close: async () => void (await client.dispose()),
  };
}

const statuses = (followed: Followed) =>
  followed.events.map((event) => event.data?.predictionUpdated.status ?? 'errors');
const hasStarted = (followed: Followed) => () => followed.events.length > 0;

async function submit(gw: TestGateway, credential: string, prompt: string): Promise<string> {
  const created = await post<Generated>(gw.url, credential, GENERATE, { input: { prompt } });
  expect(created.body.errors).toBeUndefined();
  return created.body.data!.generateVideo.prediction.id;
}

/** The job is unfinished whenever the credential lapses here: STARTING or PROCESSING, as far as the poller got. */
const UNFINISHED = /^(STARTING|PROCESSING)$/;

/** SSE: the last event carries the error alone (no data), and then the stream completes. */
function expectSseEndedWith(followed: Followed, reason: string) {
  expect(followed.ended).toBe(true);
  expect(followed.failure).toBeUndefined();
  const seen = statuses(followed);
  expect(seen.slice(0, -1).every((status) => UNFINISHED.test(status))).toBe(true);
  expect(seen.at(-1)).toBe('errors');
  expect(followed.events.at(-1)).toEqual({
    errors: [
      {
        message: `Not authenticated: ${reason}`,
        extensions: { code: 'UNAUTHENTICATED', requestId: expect.any(String) },
      },
    ],
  });
}

/** WebSocket: graphql-ws' `error` message for the operation, as for a refusal at its start. */
function expectWsEndedWith(followed: Followed, reason: string) {
  expect(followed.ended).toBe(true);
  expect(statuses(followed).length).toBeGreaterThan(0);
  expect(statuses(followed).every((status) => UNFINISHED.test(status))).toBe(true);
  expect(followed.failure).toEqual([
    { message: `Not authenticated: ${reason}`, extensions: { code: 'UNAUTHENTICATED', requestId: expect.any(String) } },
  ]);
}

describe('open streams on two gateway processes, one Postgres database', () => {
  const env = { AUTH_MODE: 'jwt,apikey', AUTH_JWT_SECRET: SECRET };
  const t = gatewayFixture('postgres', env);
  let other: TestGateway;
  const closers: (() => unknown)[] = [];
  beforeAll(async () => {
    // Connections of its own, from the URL, as a separate process would have.
    other = await startGateway({ databaseUrl: t.db.url!, atlasUrl: t.fake.url, env });
  });
  afterAll(async () => {
    for (const close of closers) await close();
    await other?.close();
  });
  beforeEach(async () => {
    // The fake numbers its jobs from 1 again: the rows of the last test would hold those upstream ids.
    t.fake.reset();
    await t.db.truncate();
  });

  it(
    'a key revoked by the keys CLI ends its SSE and WebSocket streams on both gateways with UNAUTHENTICATED; another key streams on',
    async () => {
      const release = holdJobs(t.fake);
      const doomed = await createApiKey(t.db.database.db, { name: 'doomed' });
      const survivor = await createApiKey(t.db.database.db, { name: 'survivor' });
      const doomedJob = await submit(t.gw, doomed.key, 'followed by a key about to be revoked');
      const survivorJob = await submit(other, survivor.key, 'followed by a key that stays');

      const sse = overSse(other, doomed.key, doomedJob);
      const ws = overWebSocket(t.gw, doomed.key, doomedJob);
      const kept = overSse(t.gw, survivor.key, survivorJob);
      const keptWs = overWebSocket(other, survivor.key, survivorJob);
      closers.push(sse.close, ws.close, kept.close, keptWs.close);
      for (const { followed } of [sse, ws, kept, keptWs]) await eventually(hasStarted(followed), Boolean);

      // Neither gateway is told: the CLI writes to the database, and that is all.
      const revoked = await keys(['revoke', doomed.row.id], { DATABASE_URL: t.db.url! });
      expect(revoked.code, revoked.stderr).toBe(0);

      await eventually(() => sse.followed.ended && ws.followed.ended, Boolean);
      expectSseEndedWith(sse.followed, 'the API key has been revoked');
      expectWsEndedWith(ws.followed, 'the API key has been revoked');

      // The other key's streams were left alone, and follow their job to its end.
      expect(kept.followed.ended || keptWs.followed.ended).toBe(false);
      release();
      await eventually(() => kept.followed.ended && keptWs.followed.ended, Boolean);
      expect(statuses(kept.followed).at(-1)).toBe('SUCCEEDED');
      expect(statuses(keptWs.followed).at(-1)).toBe('SUCCEEDED');
      expect(keptWs.followed.failure).toBeUndefined();
    },
    SLOW,
  );

  it('a JWT that expires ends its SSE and WebSocket streams at its exp; a longer one streams on', async () => {
    const release = holdJobs(t.fake);
    const now = Math.floor(Date.now() / 1000);
    // Long enough to open the streams on a busy machine, short enough to wait for.
    const shortLived = await jwt('carol', now + 4);
    const longLived = await jwt('dave', now + 3600);
    const carolJob = await submit(t.gw, shortLived, 'followed until the token expires');
    const daveJob = await submit(t.gw, longLived, 'followed with a token that lasts');

    const sse = overSse(t.gw, shortLived, carolJob);
    const ws = overWebSocket(other, shortLived, carolJob);
    const kept = overSse(other, longLived, daveJob);
    closers.push(sse.close, ws.close, kept.close);
    for (const { followed } of [sse, ws, kept]) await eventually(hasStarted(followed), Boolean);

    await eventually(() => sse.followed.ended && ws.followed.ended, Boolean);
    expect(Date.now()).toBeGreaterThanOrEqual((now + 4) * 1000);
    expectSseEndedWith(sse.followed, 'the token has expired');
    expectWsEndedWith(ws.followed, 'the token has expired');

    expect(kept.followed.ended).toBe(false);
    release();
    await eventually(() => kept.followed.ended, Boolean);
    expect(statuses(kept.followed).at(-1)).toBe('SUCCEEDED');
  });
});

describe('CredentialWatch', () => {
  const t = gatewayFixture(ONE_BACKEND);

  it('reads each watched key once a period however many streams use it, and tells every one of them of a revocation', async () => {
    const busy = await createApiKey(t.db.database.db, { name: 'busy' });
    const quiet = await createApiKey(t.db.database.db, { name: 'quiet' });
    const queries: string[][] = [];
    const counted = (db: Db, ids: readonly string[]) => {
      queries.push([...ids].sort());
      return activeApiKeyIds(db, ids);
    };
    const watch = new CredentialWatch({
      db: t.db.database.db,
      log: createLogger('silent'),
      recheckMs: 20,
      readActiveKeyIds: counted,
    });
    try {
      const lapsed: string[] = [];
      const unwatchBusy = Array.from({ length: 10_000 }, () =>
        watch.watch({ kind: 'apikey', keyId: busy.row.id }, (reason) => lapsed.push(reason)),
      );
      watch.watch({ kind: 'apikey', keyId: quiet.row.id }, (reason) => lapsed.push(`quiet: ${reason}`));
      expect(watch.watchedKeys).toBe(2);

      await eventually(
        () => queries.length,
        (n) => n >= 3,
      );
      // One query a period, for both keys at once.
      expect(new Set(queries.map((ids) => ids.join()))).toEqual(new Set([[busy.row.id, quiet.row.id].sort().join()]));
      expect(lapsed).toEqual([]);

      await revokeApiKey(t.db.database.db, busy.row.id, new Date());
      await eventually(
        () => lapsed.length,
        (n) => n >= 10_000,
      );
      expect(new Set(lapsed)).toEqual(new Set(['the API key has been revoked']));
      expect(watch.watchedKeys).toBe(1);

      // Told once: a stream that stops watching afterwards changes nothing.
      for (const unwatch of unwatchBusy) unwatch();
      const seen = queries.length;
      await eventually(
        () => queries.length,
        (n) => n >= seen + 2,
      );
      expect(queries.at(-1)).toEqual([quiet.row.id]);
      expect(lapsed).toHaveLength(10_000);
    } finally {
      watch.stop();
    }
  });

  it('tells a JWT stream at its exp, and an anonymous one never', async () => {
    const watch = new CredentialWatch({ db: t.db.database.db, log: createLogger('silent') });
    const told: string[] = [];
    const expiresAt = new Date(Date.now() + 300);
    watch.watch({ kind: 'jwt', expiresAt }, (reason) =>
      told.push(`${reason} at or after exp: ${Date.now() >= expiresAt.getTime()}`),
    );
    watch.watch({ kind: 'none' }, (reason) => told.push(`anonymous: ${reason}`));
    const stopped = watch.watch({ kind: 'jwt', expiresAt }, (reason) => told.push(`unwatched: ${reason}`));
    stopped();
    await eventually(
      () => told.length,
      (n) => n >= 1,
    );
    expect(told).toEqual(['the token has expired at or after exp: true']);
    watch.stop();
  });
});
