/**
 * API keys (hhk_…) for server-to-server callers: their own principal with tenant, admin flag and
 * limits; next to JWTs; stored as a hash only; a revocation holds at once on every gateway process.
 */
import { SignJWT } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApiKey, hashApiKey } from '../src/auth/apiKeys.ts';
import { listApiKeys, revokeApiKey } from '../src/db/queries/apiKeys.ts';
import { countPredictions, dumpDatabase, post, type Reply, sseRaw } from './support/auth.ts';
import { eventually, gatewayFixture, startGateway, type TestGateway } from './support/gateway.ts';

const SECRET = 'api-key-tests-hs256-secret-0123456789abc';
const GENERATE =
  'mutation G($input: GenerateVideoInput!) { generateVideo(input: $input) { prediction { id ownerId tenantId } } }';
const PREDICTION = 'query P($id: ID!) { prediction(id: $id) { id ownerId tenantId } }';
const VIEWER = '{ viewer { id tenantId admin authenticatedBy limits { activeJobs jobsPerMinute dailySpendUsd } } }';
const KEY = /^hhk_[A-Za-z0-9_-]{43}$/;

type Generated = { generateVideo: { prediction: { id: string; ownerId: string; tenantId: string | null } } };
type One = { prediction: { id: string; ownerId: string; tenantId: string | null } | null };
type ViewerReply = {
  viewer: {
    id: string;
    tenantId: string | null;
    admin: boolean;
    authenticatedBy: string;
    limits: Record<string, number | null>;
  };
};

const jwt = (claims: Record<string, unknown>) =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(SECRET));

function expectRevoked(reply: Reply) {
  expect(reply.status).toBe(401);
  expect(reply.body.data ?? null).toBeNull();
  expect(reply.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  expect(reply.body.errors?.[0]?.message).toBe('Not authenticated: the API key is unknown or revoked');
}

describe('API keys on Postgres, with AUTH_MODE=jwt,apikey', () => {
  const env = { AUTH_MODE: 'jwt,apikey', AUTH_JWT_SECRET: SECRET, AUTH_TENANT_CLAIM: 'org', LIMIT_ACTIVE_JOBS: '9' };
  const t = gatewayFixture('postgres', env);
  beforeEach(() => t.fake.reset());

  it('a key is a caller of its own, key:<id>, with its tenant, admin flag and limits', async () => {
    const plain = await createApiKey(t.db.database.db, { name: 'plain' });
    const scoped = await createApiKey(t.db.database.db, {
      name: 'acme-ops',
      tenantId: 'acme',
      admin: true,
      limits: { activeJobs: 2, jobsPerMinute: 7, dailySpendUsd: 1.5 },
    });
    expect(plain.key).toMatch(KEY);
    expect(scoped.key).toMatch(KEY);
    expect(plain.key).not.toBe(scoped.key);

    expect((await post<ViewerReply>(t.gw.url, plain.key, VIEWER)).body).toEqual({
      data: {
        viewer: {
          id: `key:${plain.row.id}`,
          tenantId: null,
          admin: false,
          authenticatedBy: 'API_KEY',
          // The gateway's LIMIT_ACTIVE_JOBS; the others unlimited.
          limits: { activeJobs: 9, jobsPerMinute: null, dailySpendUsd: null },
        },
      },
    });
    expect((await post<ViewerReply>(t.gw.url, scoped.key, VIEWER)).body).toEqual({
      data: {
        viewer: {
          id: `key:${scoped.row.id}`,
          tenantId: 'acme',
          admin: true,
          authenticatedBy: 'API_KEY',
          limits: { activeJobs: 2, jobsPerMinute: 7, dailySpendUsd: 1.5 },
        },
      },
    });

    // The key's tenant and admin flag decide what it sees, next to JWT callers of that tenant.
    const byKey = await post<Generated>(t.gw.url, scoped.key, GENERATE, { input: { prompt: 'by the ops key' } });
    expect(byKey.body.data!.generateVideo.prediction).toMatchObject({
      ownerId: `key:${scoped.row.id}`,
      tenantId: 'acme',
    });
    const byAlice = await post<Generated>(t.gw.url, await jwt({ sub: 'alice', org: 'acme' }), GENERATE, {
      input: { prompt: 'by alice' },
    });
    const aliceJob = byAlice.body.data!.generateVideo.prediction.id;
    expect((await post<One>(t.gw.url, scoped.key, PREDICTION, { id: aliceJob })).body.data?.prediction?.ownerId).toBe(
      'alice',
    );
    expect((await post<One>(t.gw.url, plain.key, PREDICTION, { id: aliceJob })).body.data).toEqual({
      prediction: null,
    });
    expect(
      (
        await post<One>(t.gw.url, await jwt({ sub: 'alice', org: 'acme' }), PREDICTION, {
          id: byKey.body.data!.generateVideo.prediction.id,
        })
      ).body.data,
    ).toEqual({
      prediction: null,
    });
  });

  it('with both methods on, hhk_… is a key and anything else a JWT; unknown or malformed keys are refused', async () => {
    expect(
      (await post<ViewerReply>(t.gw.url, await jwt({ sub: 'hhk_not_a_key_but_a_subject' }), VIEWER)).body.data?.viewer,
    ).toMatchObject({
      id: 'hhk_not_a_key_but_a_subject',
      authenticatedBy: 'JWT',
    });
    const { key } = await createApiKey(t.db.database.db, { name: 'real' });
    const before = await countPredictions(t.db.database.db);
    const forged = `hhk_${key.slice(4, -1)}${key.endsWith('A') ? 'B' : 'A'}`; // one character off
    for (const credential of [forged, `hhk_${'x'.repeat(43)}`, 'hhk_short', `${key}x`]) {
      expectRevoked(await post(t.gw.url, credential, GENERATE, { input: { prompt: 'forged key' } }));
    }
    expect(t.fake.creates).toHaveLength(0);
    expect(await countPredictions(t.db.database.db)).toBe(before);
    expect((await post<ViewerReply>(t.gw.url, key, VIEWER)).body.data?.viewer.authenticatedBy).toBe('API_KEY');
  });

  it('stores only a hash: after the keys are made and used, no row of any table holds a raw key', async () => {
    const keys = await Promise.all([
      createApiKey(t.db.database.db, { name: 'hashed-1', tenantId: 'acme' }),
      createApiKey(t.db.database.db, { name: 'hashed-2', admin: true, limits: { dailySpendUsd: 5 } }),
    ]);
    for (const { key } of keys) {
      const created = await post<Generated>(t.gw.url, key, GENERATE, {
        input: { prompt: 'paid for by a key', idempotencyKey: 'once' },
      });
      expect(created.body.errors).toBeUndefined();
      expect((await post<ViewerReply>(t.gw.url, key, VIEWER)).status).toBe(200);
    }
    // Each use is noted (last_used_at), so the rows were written after the keys were used.
    await eventually(
      () => listApiKeys(t.db.database.db),
      (rows) => keys.every(({ row }) => rows.find((r) => r.id === row.id)?.lastUsedAt),
    );

    const { tables, rows } = await dumpDatabase(t.db.database.db);
    expect(tables).toEqual(expect.arrayContaining(['public.api_keys', 'public.predictions']));
    const dump = rows.join('\n');
    for (const { key, row } of keys) {
      // The check is real: the rows are there, with the key's hash and its owner id.
      expect(dump).toContain(hashApiKey(key));
      expect(dump).toContain(`key:${row.id}`);
      expect(dump).not.toContain(key);
      expect(dump).not.toContain(key.slice(4)); // the secret part, without the prefix
      expect(dump).not.toContain(Buffer.from(key.slice(4), 'base64url').toString('hex'));
      expect(t.gw.logs.join('\n')).not.toContain(key.slice(4));
    }
  });
});

describe('revoking a key, with two gateway processes on one Postgres database', () => {
  const t = gatewayFixture('postgres', { AUTH_MODE: 'apikey' });
  let a: TestGateway;
  let b: TestGateway;
  beforeAll(async () => {
    // Each opens its own connections from the URL, as separate processes would.
    [a, b] = await Promise.all([
      startGateway({ databaseUrl: t.db.url!, atlasUrl: t.fake.url, env: { AUTH_MODE: 'apikey' } }),
      startGateway({ databaseUrl: t.db.url!, atlasUrl: t.fake.url, env: { AUTH_MODE: 'apikey' } }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
  });

  it('refuses the very next request on each gateway', async () => {
    const doomed = await createApiKey(t.db.database.db, { name: 'doomed' });
    const other = await createApiKey(t.db.database.db, { name: 'survivor' });
    const viewerOf = async (gw: TestGateway, key: string) =>
      (await post<ViewerReply>(gw.url, key, VIEWER)).body.data?.viewer.id;

    expect(await viewerOf(a, doomed.key)).toBe(`key:${doomed.row.id}`);
    expect(await viewerOf(b, doomed.key)).toBe(`key:${doomed.row.id}`);
    const created = await post<Generated>(a.url, doomed.key, GENERATE, { input: { prompt: 'before revocation' } });
    const id = created.body.data!.generateVideo.prediction.id;
    expect((await post<One>(b.url, doomed.key, PREDICTION, { id })).body.data?.prediction?.id).toBe(id);

    expect(await revokeApiKey(t.db.database.db, doomed.row.id, new Date())).toBe(true);

    expectRevoked(await post(a.url, doomed.key, GENERATE, { input: { prompt: 'after revocation' } }));
    expectRevoked(await post(b.url, doomed.key, PREDICTION, { id }));
    expectRevoked(await post(t.gw.url, doomed.key, VIEWER));
    const stream = await sseRaw(b.url, doomed.key, {
      query: 'subscription($id: ID!) { predictionUpdated(id: $id) { id } }',
      variables: { id },
    });
    expect(stream.status).toBe(401);
    expect(stream.text).toContain('"code":"UNAUTHENTICATED"');
    expect(stream.text).not.toContain(id);
    expect(t.fake.creates).toHaveLength(1);

    // Both gateways are up and still take the other key.
    expect(await viewerOf(a, other.key)).toBe(`key:${other.row.id}`);
    expect(await viewerOf(b, other.key)).toBe(`key:${other.row.id}`);
    expect(await revokeApiKey(t.db.database.db, '00000000-0000-4000-8000-000000000000', new Date())).toBe(false);
  });
});
