/**
 * Who a caller is: JWTs verified against an identity provider's JWKS over real HTTP (key rotation
 * included) or an HS256 secret, every way a token can be bad, AUTH_MODE none and none,jwt, CORS, and
 * the typed client and the React client carrying a token.
 */
import { exportSPKI, type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createVideoClient,
  type Prediction,
  PredictionsDocument,
  VideoClientError,
  ViewerDocument,
} from '../packages/client/src/client/index.ts';
import { createGatewayClient, toVideoClientError } from '../packages/client/src/react/index.tsx';
import {
  b64url,
  countPredictions,
  get,
  JwksServer,
  newSigningKey,
  post,
  type Reply,
  type SigningKey,
  signToken,
  sseRaw,
  subscribeAll,
  type TokenOptions,
  unsignedToken,
} from './support/auth.ts';
import { gatewayFixture, ONE_BACKEND, startGateway, TEST_KEY, type TestGateway } from './support/gateway.ts';

const ISSUER = 'https://idp.example';
const AUDIENCE = 'happyhorse-gateway';
const SECRET = 'an-hs256-secret-of-at-least-32-characters!';
const GENERATE =
  'mutation G($input: GenerateVideoInput!) { generateVideo(input: $input) { prediction { id ownerId tenantId status } } }';
const PREDICTION = 'query P($id: ID!) { prediction(id: $id) { id ownerId } }';
const VIEWER = '{ viewer { id tenantId admin authenticatedBy } }';
const UPDATES = 'subscription W($id: ID!) { predictionUpdated(id: $id) { id status } }';

type Generated = {
  generateVideo: { prediction: { id: string; ownerId: string; tenantId: string | null; status: string } };
};
type ViewerReply = { viewer: { id: string; tenantId: string | null; admin: boolean; authenticatedBy: string } };

/** 401, UNAUTHENTICATED, a short reason, and no data: refused before any operation ran. */
function expectRefused(reply: Reply, reason: RegExp) {
  expect(reply.status).toBe(401);
  expect(reply.headers.get('www-authenticate')).toBe('Bearer');
  expect(reply.body.data ?? null).toBeNull();
  expect(reply.body.errors).toHaveLength(1);
  const [error] = reply.body.errors!;
  expect(error!.extensions?.code).toBe('UNAUTHENTICATED');
  expect(error!.message).toMatch(reason);
  expect(error!.message.length).toBeLessThan(100);
}

describe("AUTH_MODE=jwt against an identity provider's JWKS", () => {
  let jwks: JwksServer;
  let rsa: SigningKey;
  const env: Record<string, string> = {
    AUTH_MODE: 'jwt',
    AUTH_JWKS_COOLDOWN_MS: '0',
    AUTH_JWT_ISSUER: ISSUER,
    AUTH_JWT_AUDIENCE: AUDIENCE,
    AUTH_TENANT_CLAIM: 'org',
    AUTH_ADMIN_CLAIM: 'roles',
    AUTH_ADMIN_VALUE: 'admin',
  };
  // Registered before the fixture, so the JWKS is up (and its URL in env) when the gateway starts.
  beforeAll(async () => {
    rsa = await newSigningKey('RS256', 'rsa-2026-01');
    jwks = await JwksServer.start([rsa.jwk]);
    env.AUTH_JWKS_URL = jwks.url;
  });
  afterAll(() => jwks?.close());
  const t = gatewayFixture(ONE_BACKEND, env);
  beforeEach(async () => {
    t.fake.reset();
    await t.db.truncate();
  });

  const token = (claims: JWTPayload = {}, options: TokenOptions = {}, key = rsa) =>
    signToken(key, { sub: 'alice', ...claims }, { issuer: ISSUER, audience: AUDIENCE, ...options });

  it('takes the subject as the caller, who owns what they submit; the token never goes upstream', async () => {
    const alice = await token();
    const viewer = await post<ViewerReply>(t.gw.url, alice, VIEWER);
    expect(viewer.status).toBe(200);
    expect(viewer.body).toEqual({
      data: { viewer: { id: 'alice', tenantId: null, admin: false, authenticatedBy: 'JWT' } },
    });

    const created = await post<Generated>(t.gw.url, alice, GENERATE, { input: { prompt: 'a horse, signed in' } });
    expect(created.body.errors).toBeUndefined();
    expect(created.body.data!.generateVideo.prediction).toMatchObject({ ownerId: 'alice', tenantId: null });
    expect(t.fake.creates).toHaveLength(1);
    expect(t.fake.creates[0]!.headers.authorization).toBe(`Bearer ${TEST_KEY}`);
    expect(JSON.stringify(t.fake.requests)).not.toContain(alice);
  });

  it('reads the tenant claim, and the admin claim as a string or in an array', async () => {
    const cases: [JWTPayload, string | null, boolean][] = [
      [{ org: 'acme' }, 'acme', false],
      [{ org: 'acme', roles: 'admin' }, 'acme', true],
      [{ roles: ['viewer', 'admin'] }, null, true],
      [{ org: 'acme', roles: ['viewer', 'editor'] }, 'acme', false],
      [{ roles: 'administrator' }, null, false],
      [{ role: 'admin', admin: true }, null, false], // other claims do not count
    ];
    for (const [claims, tenantId, admin] of cases) {
      const reply = await post<ViewerReply>(t.gw.url, await token(claims), VIEWER);
      expect(reply.body.data?.viewer, JSON.stringify(claims)).toEqual({
        id: 'alice',
        tenantId,
        admin,
        authenticatedBy: 'JWT',
      });
    }
    const created = await post<Generated>(t.gw.url, await token({ org: 'acme' }), GENERATE, {
      input: { prompt: 'tenant job' },
    });
    expect(created.body.data!.generateVideo.prediction).toMatchObject({ ownerId: 'alice', tenantId: 'acme' });
  });

  it('refuses every bad credential with 401 UNAUTHENTICATED and a short reason, storing and sending nothing', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: 'alice', iss: ISSUER, aud: AUDIENCE, exp: now + 3600 };
    const impostor = await newSigningKey('RS256', rsa.kid); // another key, under the published kid
    const stranger = await newSigningKey('ES256', 'never-published');
    const good = await token();
    const [header, , signature] = good.split('.');
    const publicPem = await exportSPKI(rsa.publicKey);

    const cases: [string, string | undefined, RegExp][] = [
      ['expired', await token({}, { expiresIn: -120 }), /^Not authenticated: the token has expired$/],
      ['not yet valid', await token({ nbf: now + 3600 }), /nbf claim is not accepted/],
      ['wrong issuer', await token({}, { issuer: 'https://evil.example' }), /iss claim is not accepted/],
      ['wrong audience', await token({}, { audience: 'another-api' }), /aud claim is not accepted/],
      ['no subject', await signToken(rsa, {}, { issuer: ISSUER, audience: AUDIENCE }), /sub claim is not accepted/],
      ['signed by another key under the same kid', await token({}, {}, impostor), /signature does not verify/],
      [
        'payload swapped under a valid signature',
        `${header}.${b64url({ ...claims, sub: 'root', roles: 'admin' })}.${signature}`,
        /signature does not verify/,
      ],
      ['signed by an unpublished key', await token({}, {}, stranger), /signed with an unknown key/],
      ['alg none', unsignedToken({ kid: rsa.kid }, claims), /algorithm is not accepted/],
      ['alg none, kid omitted', unsignedToken({}, claims), /algorithm is not accepted/],
      [
        'HS256 keyed with the public key',
        await new SignJWT(claims)
          .setProtectedHeader({ alg: 'HS256', kid: rsa.kid })
          .sign(new TextEncoder().encode(publicPem)),
        /algorithm is not accepted/,
      ],
      [
        'HS256 keyed with some secret',
        await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET)),
        /algorithm is not accepted/,
      ],
      ['malformed', 'not-a-jwt', /malformed/],
      ['malformed, three parts', 'a.b.c', /malformed/],
      ['an API key on a JWT-only gateway', `hhk_${'A'.repeat(43)}`, /does not take API keys/],
      ['no Authorization header', undefined, /needs an Authorization: Bearer token/],
      ['Basic scheme', 'Basic YWxpY2U6c2VjcmV0', /must be "Bearer <token>"/],
      ['Bearer without a token', 'Bearer ', /must be "Bearer <token>"/],
    ];
    for (const [name, credential, reason] of cases) {
      const reply = await post(t.gw.url, credential, GENERATE, { input: { prompt: `refused: ${name}` } });
      expect.soft(reply.status, name).toBe(401);
      expect.soft(reply.body.errors?.[0]?.message, name).toMatch(reason);
      expectRefused(reply, reason);
      if (credential && credential.length > 20) expect(reply.body.errors![0]!.message).not.toContain(credential);
    }
    expect(t.fake.creates).toHaveLength(0);
    expect(await countPredictions(t.db.database.db)).toBe(0);

    // The same request with a good token goes through: the refusals above were the credentials'.
    const accepted = await post<Generated>(t.gw.url, good, GENERATE, { input: { prompt: 'refused: none' } });
    expect(accepted.body.data?.generateVideo.prediction.ownerId).toBe('alice');
    expect(t.fake.creates).toHaveLength(1);
    expect(await countPredictions(t.db.database.db)).toBe(1);
  });

  it('requires exp, refuses a token that lives longer than AUTH_JWT_MAX_AGE (24 h by default), and a sub that is not a non-empty string', async () => {
    const now = Math.floor(Date.now() / 1000);
    const HOUR = 3600;
    /** Signed by the published key, with exactly these claims besides iss and aud. */
    const signed = (claims: JWTPayload) =>
      new SignJWT({ iss: ISSUER, aud: AUDIENCE, ...claims })
        .setProtectedHeader({ alg: rsa.alg, kid: rsa.kid })
        .sign(rsa.privateKey);

    const refused: [string, JWTPayload, RegExp][] = [
      ['no exp', { sub: 'alice' }, /^Not authenticated: the token's exp claim is not accepted$/],
      [
        'exp 1e20',
        { sub: 'alice', exp: 1e20 },
        /^Not authenticated: the token lives longer than this gateway accepts$/,
      ],
      ['25 h from now, no iat', { sub: 'alice', exp: now + 25 * HOUR }, /lives longer/],
      ['24 h and a minute from iat', { sub: 'alice', iat: now, exp: now + 24 * HOUR + 60 }, /lives longer/],
      ['issued 2 h ago, 23 h to go', { sub: 'alice', iat: now - 2 * HOUR, exp: now + 23 * HOUR }, /lives longer/],
      // A future iat does not move the start: the lifetime counts from now.
      ['iat far ahead', { sub: 'alice', iat: now + 1000 * HOUR, exp: now + 1001 * HOUR }, /lives longer/],
      [
        'sub an object',
        { sub: { id: 'alice' } as unknown as string, exp: now + HOUR },
        /^Not authenticated: the token's sub claim is not accepted$/,
      ],
      ['sub empty', { sub: '', exp: now + HOUR }, /sub claim is not accepted/],
      ['sub a number', { sub: 42 as unknown as string, exp: now + HOUR }, /sub claim is not accepted/],
      ['sub an array', { sub: ['alice'] as unknown as string, exp: now + HOUR }, /sub claim is not accepted/],
      // Owner ids the gateway gives others: the anonymous caller, an API key's owner.
      ['sub the anonymous caller', { sub: 'anonymous', exp: now + HOUR }, /sub claim is not accepted/],
      [
        'sub an API key owner',
        { sub: 'key:0d7c0b5e-9d3a-4c4e-8f51-2a7f3f0e6b1d', exp: now + HOUR },
        /sub claim is not accepted/,
      ],
    ];
    for (const [name, claims, reason] of refused) {
      const credential = await signed(claims);
      for (const query of [VIEWER, GENERATE]) {
        const reply = await post(t.gw.url, credential, query, { input: { prompt: `refused: ${name}` } });
        expect.soft(reply.body.errors?.[0]?.message, name).toMatch(reason);
        expectRefused(reply, reason);
      }
    }
    expect(t.fake.creates).toHaveLength(0);
    expect(await countPredictions(t.db.database.db)).toBe(0);

    // Up to the limit is fine, counted from iat or, without one, from now.
    for (const claims of [
      { sub: 'alice', exp: now + 23 * HOUR },
      { sub: 'alice', iat: now - HOUR, exp: now + 23 * HOUR },
    ]) {
      expect(
        (await post<ViewerReply>(t.gw.url, await signed(claims), VIEWER)).body.data?.viewer.id,
        JSON.stringify(claims),
      ).toBe('alice');
    }
  });

  it('refuses a bad token over GET and SSE too, where a good one passes', async () => {
    const expired = await token({}, { expiresIn: -120 });
    const alice = await token();

    const viaGet = await get<ViewerReply>(t.gw.url, expired, VIEWER);
    expect(viaGet.status).toBe(401);
    expect(viaGet.body?.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(viaGet.body?.data ?? null).toBeNull();
    expect((await get<ViewerReply>(t.gw.url, alice, VIEWER)).body?.data?.viewer.id).toBe('alice');

    const created = await post<Generated>(t.gw.url, alice, GENERATE, { input: { prompt: 'watched' } });
    const id = created.body.data!.generateVideo.prediction.id;
    const viaSse = await sseRaw(t.gw.url, expired, { query: UPDATES, variables: { id } });
    expect(viaSse.status).toBe(401);
    expect(viaSse.text).toContain('"code":"UNAUTHENTICATED"');
    expect(viaSse.text).not.toContain('"data"');
    await expect(subscribeAll(t.gw.url, expired, UPDATES, { id })).rejects.toMatchObject({ response: { status: 401 } });

    const events = await subscribeAll<{ predictionUpdated: { id: string; status: string } }>(t.gw.url, alice, UPDATES, {
      id,
    });
    expect(events[0]!.data!.predictionUpdated.id).toBe(id);
    expect(events.at(-1)!.data!.predictionUpdated.status).toBe('SUCCEEDED');
  });

  it('follows a key rotation: a token signed with a newly published key is accepted without a restart', async () => {
    expect((await post<ViewerReply>(t.gw.url, await token(), VIEWER)).body.data?.viewer.id).toBe('alice');
    const fetched = jwks.fetches;
    expect(fetched).toBeGreaterThan(0);
    // A known kid is served from the cached set.
    expect((await post<ViewerReply>(t.gw.url, await token({ sub: 'bob' }), VIEWER)).body.data?.viewer.id).toBe('bob');
    expect(jwks.fetches).toBe(fetched);

    const rotated = await newSigningKey('ES256', 'ec-2026-02');
    const fresh = await token({ sub: 'carol' }, {}, rotated);
    // Not published yet: the gateway looks again (cool-down 0), and still does not know it.
    expectRefused(await post(t.gw.url, fresh, VIEWER), /signed with an unknown key/);
    expect(jwks.fetches).toBe(fetched + 1);

    jwks.keys = [rsa.jwk, rotated.jwk];
    const accepted = await post<ViewerReply>(t.gw.url, fresh, VIEWER);
    expect(accepted.body).toEqual({
      data: { viewer: { id: 'carol', tenantId: null, admin: false, authenticatedBy: 'JWT' } },
    });
    expect(jwks.fetches).toBe(fetched + 2);
    const created = await post<Generated>(t.gw.url, await token({ sub: 'carol' }, {}, rotated), GENERATE, {
      input: { prompt: 'rotated' },
    });
    expect(created.body.data?.generateVideo.prediction.ownerId).toBe('carol');
    expect(jwks.fetches).toBe(fetched + 2);
    // The old key still verifies while it is published.
    expect((await post<ViewerReply>(t.gw.url, await token(), VIEWER)).body.data?.viewer.id).toBe('alice');
  });

  it('sends no CORS headers without CORS_ORIGINS', async () => {
    const preflight = await fetch(t.gw.url, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    expect(preflight.headers.get('access-control-allow-headers')).toBeNull();
    const response = await fetch(t.gw.url, {
      method: 'POST',
      headers: {
        origin: 'https://app.example',
        'content-type': 'application/json',
        authorization: `Bearer ${await token()}`,
      },
      body: JSON.stringify({ query: VIEWER }),
    });
    expect((await response.json()).data.viewer.id).toBe('alice'); // it reached the gateway and ran
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });

  describe('the typed client with a token', () => {
    it('sends a string token on every call, the SSE stream included', async () => {
      const alice = createVideoClient({ url: t.gw.url, token: await token() });
      try {
        expect(await alice.viewer()).toMatchObject({ id: 'alice', authenticatedBy: 'JWT' });
        const submitted = await alice.generateVideo({ prompt: 'typed and signed in' });
        expect(submitted.status).toBe('PROCESSING');
        expect((await alice.prediction(submitted.id))?.id).toBe(submitted.id);
        const seen: Prediction[] = [];
        for await (const update of alice.watchPrediction(submitted.id)) seen.push(update);
        expect(seen[0]!.id).toBe(submitted.id);
        expect(seen.at(-1)!.status).toBe('SUCCEEDED');

        // Someone else's client, with an async token function: the same id is not theirs, on HTTP and SSE.
        let calls = 0;
        const bob = createVideoClient({
          url: t.gw.url,
          token: async () => {
            calls++;
            return token({ sub: 'bob' });
          },
        });
        try {
          expect((await bob.viewer()).id).toBe('bob');
          expect(await bob.prediction(submitted.id)).toBeNull();
          const watching = (async () => {
            for await (const _ of bob.watchPrediction(submitted.id)) throw new Error('bob saw an update');
          })();
          await expect(watching).rejects.toMatchObject({ name: 'VideoClientError', code: 'NOT_FOUND' });
          expect(calls).toBe(3);
        } finally {
          bob.dispose();
        }
      } finally {
        alice.dispose();
      }
    });

    it('calls an async token function per request, so a refreshed token is used at once', async () => {
      let user = 'dora';
      const client = createVideoClient({ url: t.gw.url, token: async () => token({ sub: user }) });
      try {
        expect((await client.viewer()).id).toBe('dora');
        user = 'eve';
        expect((await client.viewer()).id).toBe('eve');
        const done = await client.generateAndWait({ prompt: 'refreshed' });
        expect(done.status).toBe('SUCCEEDED');
        expect(
          (
            await post<{ prediction: { ownerId: string } }>(t.gw.url, await token({ sub: 'eve' }), PREDICTION, {
              id: done.id,
            })
          ).body.data?.prediction.ownerId,
        ).toBe('eve');
      } finally {
        client.dispose();
      }
    });

    it('without a token, fails with VideoClientError UNAUTHENTICATED and sends nothing upstream', async () => {
      for (const client of [
        createVideoClient({ url: t.gw.url }),
        createVideoClient({ url: t.gw.url, token: async () => undefined }),
      ]) {
        try {
          for (const call of [
            () => client.generateVideo({ prompt: 'no token' }),
            () => client.viewer(),
            () => client.predictions({ first: 5 }),
          ]) {
            const error = await call().then(
              () => undefined,
              (e: unknown) => e,
            );
            expect(error).toBeInstanceOf(VideoClientError);
            expect(error).toMatchObject({ code: 'UNAUTHENTICATED' });
          }
        } finally {
          client.dispose();
        }
      }
      expect(t.fake.creates).toHaveLength(0);
      expect(await countPredictions(t.db.database.db)).toBe(0);
    });

    // graphql-sse retries any non-2xx answer as a network error; the client reads the gateway's
    // GraphQL refusal instead, so a 401 is UNAUTHENTICATED at once, not NETWORK_ERROR after 30 s.
    it('watchPrediction without a token fails with UNAUTHENTICATED at once', async () => {
      const client = createVideoClient({ url: t.gw.url });
      try {
        const watching = (async () => {
          for await (const _ of client.watchPrediction('00000000-0000-4000-8000-000000000000')) return 'an update';
          return 'completed';
        })();
        const outcome = await Promise.race([
          watching.then(
            (value) => value,
            (error: unknown) => error,
          ),
          new Promise((resolve) => setTimeout(() => resolve('still waiting after 4 s'), 4_000)),
        ]);
        expect(outcome).toBeInstanceOf(VideoClientError);
        expect(outcome).toMatchObject({ code: 'UNAUTHENTICATED' });
      } finally {
        client.dispose();
      }
    });

    it("the React hooks' client (createGatewayClient) sends the token too", async () => {
      const signedIn = createGatewayClient({ url: t.gw.url, token: () => token({ sub: 'frank' }) });
      const viewer = await signedIn.query(ViewerDocument, {}).toPromise();
      expect(viewer.error).toBeUndefined();
      expect(viewer.data?.viewer).toMatchObject({ id: 'frank', authenticatedBy: 'JWT' });

      const anonymous = createGatewayClient({ url: t.gw.url });
      const refused = await anonymous.query(PredictionsDocument, { first: 5 }).toPromise();
      expect(refused.data).toBeUndefined();
      expect(toVideoClientError(refused.error!).code).toBe('UNAUTHENTICATED');
    });
  });

  describe('next to AUTH_MODE=none,jwt and an HS256 gateway on the same database', () => {
    let mixed: TestGateway;
    let hs: TestGateway;
    beforeAll(async () => {
      [mixed, hs] = await Promise.all([
        startGateway({ database: t.db.database, atlasUrl: t.fake.url, env: { ...env, AUTH_MODE: 'none,jwt' } }),
        startGateway({
          database: t.db.database,
          atlasUrl: t.fake.url,
          env: {
            AUTH_MODE: 'jwt',
            AUTH_JWT_SECRET: SECRET,
            AUTH_JWT_ISSUER: ISSUER,
            AUTH_JWT_AUDIENCE: AUDIENCE,
            AUTH_JWT_MAX_AGE: '2h',
          },
        }),
      ]);
    });
    afterAll(async () => {
      await Promise.all([mixed?.close(), hs?.close()]);
    });

    it('none,jwt: no header is anonymous, a good token is its subject, a bad or odd credential is refused', async () => {
      expect((await post<ViewerReply>(mixed.url, undefined, VIEWER)).body.data?.viewer).toEqual({
        id: 'anonymous',
        tenantId: null,
        admin: false,
        authenticatedBy: 'NONE',
      });
      const anonymous = await post<Generated>(mixed.url, undefined, GENERATE, {
        input: { prompt: 'nobody in particular' },
      });
      expect(anonymous.body.data?.generateVideo.prediction.ownerId).toBe('anonymous');
      const id = anonymous.body.data!.generateVideo.prediction.id;

      const alice = await token();
      expect((await post<ViewerReply>(mixed.url, alice, VIEWER)).body.data?.viewer).toMatchObject({
        id: 'alice',
        authenticatedBy: 'JWT',
      });
      // The anonymous job is not alice's, and alice's token is not ignored in favour of anonymous.
      expect((await post(mixed.url, alice, PREDICTION, { id })).body.data).toEqual({ prediction: null });
      expect((await post(mixed.url, undefined, PREDICTION, { id })).body.data).toEqual({
        prediction: { id, ownerId: 'anonymous' },
      });

      expectRefused(
        await post(mixed.url, await token({}, { expiresIn: -120 }), GENERATE, { input: { prompt: 'expired' } }),
        /expired/,
      );
      expectRefused(await post(mixed.url, 'not-a-jwt', GENERATE, { input: { prompt: 'garbage' } }), /malformed/);
      expectRefused(
        await post(mixed.url, 'Basic YWxpY2U6c2VjcmV0', GENERATE, { input: { prompt: 'basic' } }),
        /Bearer <token>/,
      );
      expect(t.fake.creates).toHaveLength(1);
      expect(await countPredictions(t.db.database.db)).toBe(1);
    });

    it('AUTH_JWT_SECRET: HS256 with the secret is accepted; another secret, an RS256 token and alg none are not', async () => {
      const hsToken = (secret: string, sub = 'henry') =>
        new SignJWT({ sub, org: 'acme' })
          .setProtectedHeader({ alg: 'HS256' })
          .setIssuer(ISSUER)
          .setAudience(AUDIENCE)
          .setExpirationTime('1h')
          .sign(new TextEncoder().encode(secret));
      const accepted = await post<ViewerReply>(hs.url, await hsToken(SECRET), VIEWER);
      // No AUTH_TENANT_CLAIM on this gateway: the org claim is not read.
      expect(accepted.body.data?.viewer).toEqual({ id: 'henry', tenantId: null, admin: false, authenticatedBy: 'JWT' });

      expectRefused(
        await post(hs.url, await hsToken(`${SECRET}-but-another`), GENERATE, { input: { prompt: 'x' } }),
        /signature does not verify/,
      );
      // AUTH_JWT_MAX_AGE=2h here: a token good for 3 hours is refused, one for 2 is not.
      const forHours = (hours: number) =>
        new SignJWT({ sub: 'henry' })
          .setProtectedHeader({ alg: 'HS256' })
          .setIssuer(ISSUER)
          .setAudience(AUDIENCE)
          .setIssuedAt()
          .setExpirationTime(`${hours}h`)
          .sign(new TextEncoder().encode(SECRET));
      expectRefused(await post(hs.url, await forHours(3), VIEWER), /lives longer than this gateway accepts/);
      expect((await post<ViewerReply>(hs.url, await forHours(2), VIEWER)).body.data?.viewer.id).toBe('henry');
      expectRefused(
        await post(hs.url, await token(), GENERATE, { input: { prompt: 'x' } }),
        /algorithm is not accepted/,
      );
      const now = Math.floor(Date.now() / 1000);
      expectRefused(
        await post(hs.url, unsignedToken({}, { sub: 'henry', iss: ISSUER, aud: AUDIENCE, exp: now + 60 }), GENERATE, {
          input: { prompt: 'x' },
        }),
        /algorithm is not accepted/,
      );
      // And the HS256 token means nothing to the JWKS gateway.
      expectRefused(await post(t.gw.url, await hsToken(SECRET), VIEWER), /algorithm is not accepted/);
      expect(t.fake.creates).toHaveLength(0);
    });
  });
});

describe('AUTH_MODE=none, with CORS_ORIGINS=https://app.example', () => {
  const t = gatewayFixture(ONE_BACKEND, { AUTH_MODE: 'none', CORS_ORIGINS: 'https://app.example' });

  const preflight = (url: string, origin: string) =>
    fetch(url, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });

  it('every request is the anonymous caller, and the demo page flow works without any header', async () => {
    const page = await fetch(new URL('/', t.gw.url));
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<script type="module" src="/demo.js">');

    expect((await post<ViewerReply>(t.gw.url, undefined, VIEWER)).body).toEqual({
      data: { viewer: { id: 'anonymous', tenantId: null, admin: false, authenticatedBy: 'NONE' } },
    });
    // With none alone, a header (a proxy's own token, say) is not looked at.
    expect((await post<ViewerReply>(t.gw.url, 'whatever-a-proxy-sends', VIEWER)).body.data?.viewer.id).toBe(
      'anonymous',
    );

    // What the demo page does, with the clients it is built from and no token.
    const urql = createGatewayClient({ url: t.gw.url });
    const typed = createVideoClient({ url: t.gw.url });
    try {
      const done = await typed.generateAndWait({ prompt: 'A white horse galloping along a beach at sunrise' });
      expect(done.status).toBe('SUCCEEDED');
      expect(done.videoUrl).toMatch(/^https:\/\/cdn\.example\//);
      const recent = await urql.query(PredictionsDocument, { first: 10 }).toPromise();
      expect(recent.error).toBeUndefined();
      expect(recent.data?.predictions.edges.map((edge) => edge.node.id)).toEqual([done.id]);
      const stored = await post<{ prediction: { id: string; ownerId: string } }>(t.gw.url, undefined, PREDICTION, {
        id: done.id,
      });
      expect(stored.body.data?.prediction.ownerId).toBe('anonymous');
      expect(t.fake.creates).toHaveLength(1);
    } finally {
      typed.dispose();
    }
  });

  it('answers a preflight from the allowed origin, and never allows another one', async () => {
    const allowed = await preflight(t.gw.url, 'https://app.example');
    expect(allowed.status).toBeLessThan(300);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(allowed.headers.get('access-control-allow-headers')).toMatch(/authorization/);
    expect(allowed.headers.get('access-control-allow-headers')).toMatch(/x-graphql-csrf/);

    // (With one allowed origin Yoga names that origin to everyone; a browser at another origin is
    // refused all the same, as the header does not match it.)
    for (const origin of ['https://evil.example', 'https://app.example.evil.example', 'http://app.example']) {
      const other = await preflight(t.gw.url, origin);
      expect([null, 'null', 'https://app.example']).toContain(other.headers.get('access-control-allow-origin'));
    }

    const response = await fetch(t.gw.url, {
      method: 'POST',
      headers: { origin: 'https://app.example', 'content-type': 'application/json' },
      body: JSON.stringify({ query: VIEWER }),
    });
    expect(response.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect((await response.json()).data.viewer.id).toBe('anonymous');
  });

  it('with two allowed origins, names the caller only if it is one of them; * allows any origin, without credentials', async () => {
    const two = await startGateway({
      database: t.db.database,
      atlasUrl: t.fake.url,
      env: { AUTH_MODE: 'none', CORS_ORIGINS: 'https://app.example,https://admin.example' },
    });
    const star = await startGateway({
      database: t.db.database,
      atlasUrl: t.fake.url,
      env: { AUTH_MODE: 'none', CORS_ORIGINS: '*' },
    });
    try {
      expect((await preflight(two.url, 'https://admin.example')).headers.get('access-control-allow-origin')).toBe(
        'https://admin.example',
      );
      expect((await preflight(two.url, 'https://app.example')).headers.get('access-control-allow-origin')).toBe(
        'https://app.example',
      );
      const other = (await preflight(two.url, 'https://evil.example')).headers.get('access-control-allow-origin');
      expect(other === null || other === 'null').toBe(true);

      // Yoga answers * by naming the caller's origin; credentials are never allowed with it.
      const any = await preflight(star.url, 'https://anywhere.example');
      expect(any.headers.get('access-control-allow-origin')).toBe('https://anywhere.example');
      expect(any.headers.get('access-control-allow-credentials')).toBeNull();
      expect((await preflight(two.url, 'https://app.example')).headers.get('access-control-allow-credentials')).toBe(
        'true',
      );
    } finally {
      await Promise.all([two.close(), star.close()]);
    }
  });
});
