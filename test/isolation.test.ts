/**
 * Whose predictions a caller sees, on every operation and transport (HTTP POST, HTTP GET, SSE, and
 * persisted-only mode): their own; a tenant admin the tenant's; a global admin everything. Someone
 * else's prediction looks exactly like an unknown id. Then `viewer` and `usage`, numbers checked.
 */
import { type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createVideoClient,
  PredictionDocument,
  PredictionsDocument,
  PredictionUpdatedDocument,
  requestBody,
} from '../packages/client/src/client/index.ts';
import { get, post, type Reply, subscribeAll } from './support/auth.ts';
import { FakeAtlas, httpError, wrapped } from './support/fakeAtlas.ts';
import { eventually, gatewayFixture, startGateway, type TestGateway } from './support/gateway.ts';

const SECRET = 'isolation-tests-hs256-secret-0123456789';
const JWT_ENV = {
  AUTH_MODE: 'jwt',
  AUTH_JWT_SECRET: SECRET,
  AUTH_TENANT_CLAIM: 'org',
  AUTH_ADMIN_CLAIM: 'role',
  AUTH_ADMIN_VALUE: 'admin',
};

const sign = (claims: JWTPayload) =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(SECRET));

const GENERATE =
  'mutation G($input: GenerateVideoInput!) { generateVideo(input: $input) { prediction { id ownerId tenantId status } } }';
const PREDICTION = 'query P($id: ID!) { prediction(id: $id) { id ownerId tenantId prompt } }';
const LIST = '{ predictions(first: 100) { edges { node { id ownerId tenantId } } } }';
const UPDATES = 'subscription W($id: ID!) { predictionUpdated(id: $id) { id ownerId tenantId status } }';
const UNKNOWN = '00000000-0000-4000-8000-000000000000';

type Generated = {
  generateVideo: { prediction: { id: string; ownerId: string; tenantId: string | null; status: string } };
};
type One = { prediction: { id: string; ownerId: string; tenantId: string | null } | null };
type List = { predictions: { edges: { node: { id: string } }[] } };
type Updated = { predictionUpdated: { id: string; status: string } };

/** The callers, by JWT claims. */
const CALLERS = {
  alice: { sub: 'alice', org: 'acme' },
  bob: { sub: 'bob', org: 'acme' },
  carol: { sub: 'carol', org: 'globex' },
  aliceAtGlobex: { sub: 'alice', org: 'globex' }, // the same subject in another tenant
  aliceWithoutTenant: { sub: 'alice' },
  acmeAdmin: { sub: 'ann', org: 'acme', role: 'admin' },
  globexAdmin: { sub: 'gus', org: 'globex', role: ['auditor', 'admin'] },
  globalAdmin: { sub: 'root', role: 'admin' },
} satisfies Record<string, JWTPayload>;
type Caller = keyof typeof CALLERS;

/** One prediction each, made by these callers; and what every caller may see of them. */
const JOBS = { A: 'alice', B: 'bob', C: 'carol', D: 'aliceAtGlobex' } as const satisfies Record<string, Caller>;
type Job = keyof typeof JOBS;
const SEES: Record<Caller, Job[]> = {
  alice: ['A'],
  bob: ['B'],
  carol: ['C'],
  aliceAtGlobex: ['D'],
  aliceWithoutTenant: [],
  acmeAdmin: ['A', 'B'],
  globexAdmin: ['C', 'D'],
  globalAdmin: ['A', 'B', 'C', 'D'],
};

describe('isolation between callers, on every transport', () => {
  const t = gatewayFixture('pglite', JWT_ENV);
  let persisted: TestGateway;
  const tokens = {} as Record<Caller, string>;
  const ids = {} as Record<Job, string>;
  const jobOf = (id: string) => (Object.keys(ids) as Job[]).find((job) => ids[job] === id) ?? id;

  beforeAll(async () => {
    persisted = await startGateway({
      database: t.db.database,
      atlasUrl: t.fake.url,
      env: { ...JWT_ENV, PERSISTED_OPERATIONS: 'only' },
    });
    for (const caller of Object.keys(CALLERS) as Caller[]) tokens[caller] = await sign(CALLERS[caller]);
    for (const job of ['A', 'B', 'D'] as const) {
      const created = await post<Generated>(t.gw.url, tokens[JOBS[job]], GENERATE, { input: { prompt: `job ${job}` } });
      expect(created.body.errors).toBeUndefined();
      ids[job] = created.body.data!.generateVideo.prediction.id;
    }
    // C is made through the persisted-only gateway, by the typed client with a token.
    const carol = createVideoClient({ url: persisted.url, token: tokens.carol, persisted: true });
    ids.C = (await carol.generateVideo({ prompt: 'job C' })).id;
    carol.dispose();
    // Finished, so each subscription below is one event (the current state) and completes.
    for (const job of Object.keys(ids) as Job[]) {
      await eventually(
        () =>
          post<{ prediction: { status: string } }>(
            t.gw.url,
            tokens.globalAdmin,
            'query($id: ID!) { prediction(id: $id) { status } }',
            { id: ids[job] },
          ),
        (reply) => reply.body.data?.prediction?.status === 'SUCCEEDED',
      );
    }
  });
  afterAll(() => persisted?.close());

  it('stored each prediction with its owner and tenant', async () => {
    const all = await post<{
      predictions: { edges: { node: { id: string; ownerId: string; tenantId: string | null } }[] };
    }>(t.gw.url, tokens.globalAdmin, LIST);
    const owners = Object.fromEntries(
      all.body.data!.predictions.edges.map(({ node }) => [jobOf(node.id), [node.ownerId, node.tenantId]]),
    );
    expect(owners).toEqual({
      A: ['alice', 'acme'],
      B: ['bob', 'acme'],
      C: ['carol', 'globex'],
      D: ['alice', 'globex'],
    });
    expect(t.fake.creates).toHaveLength(4);
  });

  /** Runs `see` for every caller and job, and compares with SEES; `list` gives what the list shows. */
  async function checkMatrix(
    see: (caller: Caller, id: string) => Promise<boolean>,
    list: (caller: Caller) => Promise<string[]>,
  ) {
    const seen = {} as Record<Caller, Job[]>;
    const listed = {} as Record<Caller, Job[]>;
    for (const caller of Object.keys(CALLERS) as Caller[]) {
      seen[caller] = [];
      for (const job of Object.keys(ids).sort() as Job[]) if (await see(caller, ids[job])) seen[caller].push(job);
      listed[caller] = (await list(caller)).map(jobOf).sort() as Job[];
    }
    expect(seen).toEqual(SEES);
    expect(listed).toEqual(SEES);
  }

  it('HTTP POST: prediction(id) is null and predictions omits it unless the caller may see it', async () => {
    const unknown = await post<One>(t.gw.url, tokens.alice, PREDICTION, { id: UNKNOWN });
    expect(unknown.body).toEqual({ data: { prediction: null } });
    await checkMatrix(
      async (caller, id) => {
        const reply = await post<One>(t.gw.url, tokens[caller], PREDICTION, { id });
        expect(reply.status).toBe(200);
        if (reply.body.data?.prediction) return reply.body.data.prediction.id === id;
        expect(reply.body).toEqual(unknown.body); // exactly what an unknown id gets
        return false;
      },
      async (caller) =>
        (await post<List>(t.gw.url, tokens[caller], LIST)).body.data!.predictions.edges.map((edge) => edge.node.id),
    );
  });

  it('HTTP GET (with the CSRF header): the same', async () => {
    await checkMatrix(
      async (caller, id) => {
        const reply = await get<One>(t.gw.url, tokens[caller], PREDICTION, { id });
        expect(reply.status).toBe(200);
        expect(reply.body?.errors).toBeUndefined();
        return reply.body?.data?.prediction?.id === id;
      },
      async (caller) =>
        (await get<List>(t.gw.url, tokens[caller], LIST)).body!.data!.predictions.edges.map((edge) => edge.node.id),
    );
  });

  it('refuses a GET, or a non-JSON POST, without the CSRF header, even from the owner', async () => {
    const allowed = await get<One>(t.gw.url, tokens.alice, PREDICTION, { id: ids.A });
    expect(allowed.body?.data?.prediction?.id).toBe(ids.A);

    const refused = await get<One>(t.gw.url, tokens.alice, PREDICTION, { id: ids.A }, { csrf: false });
    expect(refused.status).toBe(403);
    expect(refused.text).toMatch(/CSRF/);
    expect(refused.text).not.toContain(ids.A);
    expect(refused.text).not.toContain('job A');

    const form = await fetch(t.gw.url, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', authorization: `Bearer ${tokens.alice}` },
      body: JSON.stringify({ query: GENERATE, variables: { input: { prompt: 'cross-site form' } } }),
    });
    expect(form.status).toBe(403);
    expect(await form.text()).not.toContain('"data"');
    expect(t.fake.creates).toHaveLength(4);
  });

  it('SSE: predictionUpdated gives NOT_FOUND, as for an unknown id, unless the caller may see it', async () => {
    const unknown = await subscribeAll(t.gw.url, tokens.alice, UPDATES, { id: UNKNOWN });
    expect(unknown).toHaveLength(1);
    expect(unknown[0]!.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    await checkMatrix(
      async (caller, id) => {
        const events = await subscribeAll<Updated>(t.gw.url, tokens[caller], UPDATES, { id });
        expect(events).toHaveLength(1);
        if (events[0]!.data) {
          expect(events[0]!.data.predictionUpdated).toMatchObject({ id, status: 'SUCCEEDED' });
          return true;
        }
        // The same answer as for an unknown id, but for the id in the message (and each request's own id).
        const requestId = (event: unknown) => JSON.stringify(event).match(/"requestId":"([^"]+)"/)?.[1] ?? 'none';
        const asUnknown = JSON.stringify(events[0])
          .replaceAll(id, UNKNOWN)
          .replace(requestId(events[0]), requestId(unknown[0]));
        expect(JSON.parse(asUnknown)).toEqual(unknown[0]);
        return false;
      },
      async (caller) =>
        (await post<List>(t.gw.url, tokens[caller], LIST)).body.data!.predictions.edges.map((edge) => edge.node.id),
    );
  });

  it('persisted-only mode: the manifest documents by hash, over POST and SSE, the same', async () => {
    await checkMatrix(
      async (caller, id) => {
        const one = await post<One>(persisted.url, tokens[caller], requestBody(PredictionDocument, { id }, true));
        expect(one.body.errors).toBeUndefined();
        const events = await subscribeAll<Updated>(
          persisted.url,
          tokens[caller],
          requestBody(PredictionUpdatedDocument, { id }, true),
        );
        expect(events).toHaveLength(1);
        const viaSse = events[0]!.data?.predictionUpdated.id === id;
        if (!viaSse) expect(events[0]!.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
        const viaPost = one.body.data?.prediction?.id === id;
        expect(viaSse).toBe(viaPost);
        return viaPost;
      },
      async (caller) => {
        const reply = await post<List>(
          persisted.url,
          tokens[caller],
          requestBody(PredictionsDocument, { first: 100 }, true),
        );
        expect(reply.body.errors).toBeUndefined();
        return reply.body.data!.predictions.edges.map((edge) => edge.node.id);
      },
    );
    // Still refused without a token, and for a document not in the manifest.
    const anonymous = await post(persisted.url, undefined, requestBody(PredictionDocument, { id: ids.A }, true));
    expect(anonymous.status).toBe(401);
    const adHoc = await post(persisted.url, tokens.globalAdmin, PREDICTION, { id: ids.A });
    expect(adHoc.body.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_ONLY');
  });

  // A caller is a subject within a tenant: the same subject in another tenant has keys of its own.
  it("an idempotency key used in one tenant never returns that tenant's prediction to the same subject in another", async () => {
    const input = { prompt: 'the acme launch video', idempotencyKey: 'launch-1' };
    const inAcme = await post<Generated>(t.gw.url, tokens.alice, GENERATE, { input });
    const acmeJob = inAcme.body.data!.generateVideo.prediction;
    expect(acmeJob.tenantId).toBe('acme');
    expect((await post<One>(t.gw.url, tokens.aliceAtGlobex, PREDICTION, { id: acmeJob.id })).body.data).toEqual({
      prediction: null,
    });

    const inGlobex = await post<Generated>(t.gw.url, tokens.aliceAtGlobex, GENERATE, { input });
    expect(JSON.stringify(inGlobex.body)).not.toContain(acmeJob.id);
    expect(inGlobex.body.data?.generateVideo.prediction).toMatchObject({ ownerId: 'alice', tenantId: 'globex' });
  });
});

const VIEWER =
  '{ viewer { id tenantId admin authenticatedBy limits { activeJobs jobsPerMinute dailySpendUsd } activity { activeJobs jobsLastMinute spentTodayUsd } } }';
const USAGE = `query U($from: DateTime!, $to: DateTime!, $everyone: Boolean) {
  usage(from: $from, to: $to, everyone: $everyone) { userId tenantId jobs byStatus { status jobs seconds } videoSeconds costUsd reservedUsd }
}`;

interface Usage {
  userId: string;
  tenantId: string | null;
  jobs: number;
  byStatus: { status: string; jobs: number; seconds: number }[];
  videoSeconds: number;
  costUsd: number;
  reservedUsd: number;
}

describe('viewer and usage, on Postgres', () => {
  const t = gatewayFixture('postgres', {
    ...JWT_ENV,
    PRICE_PER_SECOND_720P_USD: '0.02',
    PRICE_PER_SECOND_1080P_USD: '0.05',
    LIMIT_ACTIVE_JOBS: '5',
    LIMIT_JOBS_PER_MINUTE: '10',
    LIMIT_DAILY_SPEND_USD: '3',
  });
  const tokens = {} as Record<Caller, string>;
  let range: { from: string; to: string };

  /**
   * alice: 5 s at 720P, done ($0.10); 8 s at 1080P, refused upstream ($0.40 price, charged 0); 4 s at
   * 720P, still running ($0.08 reserved). bob: 3 s at 1080P, done ($0.15). carol (globex): 10 s at
   * 720P, done ($0.20).
   */
  beforeAll(async () => {
    for (const caller of Object.keys(CALLERS) as Caller[]) tokens[caller] = await sign(CALLERS[caller]);
    const started = Date.now();
    t.fake.newJob = (n) =>
      n === 2 ? { id: 'running', script: [wrapped({ id: 'running', status: 'processing' })] } : FakeAtlas.defaultJob(n);
    const submit = async (caller: Caller, input: Record<string, unknown>) =>
      (await post<Generated>(t.gw.url, tokens[caller], GENERATE, { input: { prompt: `${caller} job`, ...input } }))
        .body;
    const done: [Caller, string][] = [];
    done.push([
      'alice',
      (await submit('alice', { resolution: 'RES_720P', duration: 5 })).data!.generateVideo.prediction.id,
    ]);
    t.fake.createReplies.push(httpError(400, 'prompt refused'));
    expect((await submit('alice', { resolution: 'RES_1080P', duration: 8 })).errors?.[0]?.extensions?.code).toBe(
      'UPSTREAM_REJECTED',
    );
    expect((await submit('alice', { resolution: 'RES_720P', duration: 4 })).data!.generateVideo.prediction.status).toBe(
      'PROCESSING',
    );
    done.push([
      'bob',
      (await submit('bob', { resolution: 'RES_1080P', duration: 3 })).data!.generateVideo.prediction.id,
    ]);
    done.push([
      'carol',
      (await submit('carol', { resolution: 'RES_720P', duration: 10 })).data!.generateVideo.prediction.id,
    ]);
    for (const [caller, id] of done) {
      await eventually(
        () =>
          post<{ prediction: { status: string } }>(
            t.gw.url,
            tokens[caller],
            'query($id: ID!) { prediction(id: $id) { status } }',
            { id },
          ),
        (reply) => reply.body.data?.prediction?.status === 'SUCCEEDED',
      );
    }
    range = { from: new Date(started - 60_000).toISOString(), to: new Date(Date.now() + 60_000).toISOString() };
  });

  const usage = (caller: Caller, variables: Record<string, unknown> = {}) =>
    post<{ usage: Usage[] }>(t.gw.url, tokens[caller], USAGE, { ...range, ...variables });
  const sorted = (usage: Usage[]) =>
    usage
      .map((u) => ({ ...u, byStatus: [...u.byStatus].sort((a, b) => a.status.localeCompare(b.status)) }))
      .sort((a, b) => a.userId.localeCompare(b.userId));

  const ALICE: Usage = {
    userId: 'alice',
    tenantId: 'acme',
    jobs: 3,
    byStatus: [
      { status: 'FAILED', jobs: 1, seconds: 8 },
      { status: 'PROCESSING', jobs: 1, seconds: 4 },
      { status: 'SUCCEEDED', jobs: 1, seconds: 5 },
    ],
    videoSeconds: 5,
    costUsd: 0.1,
    reservedUsd: 0.08,
  };
  const BOB: Usage = {
    userId: 'bob',
    tenantId: 'acme',
    jobs: 1,
    byStatus: [{ status: 'SUCCEEDED', jobs: 1, seconds: 3 }],
    videoSeconds: 3,
    costUsd: 0.15,
    reservedUsd: 0,
  };
  const CAROL: Usage = {
    userId: 'carol',
    tenantId: 'globex',
    jobs: 1,
    byStatus: [{ status: 'SUCCEEDED', jobs: 1, seconds: 10 }],
    videoSeconds: 10,
    costUsd: 0.2,
    reservedUsd: 0,
  };
  const nothing = (userId: string, tenantId: string | null): Usage => ({
    userId,
    tenantId,
    jobs: 0,
    byStatus: [],
    videoSeconds: 0,
    costUsd: 0,
    reservedUsd: 0,
  });

  it('viewer: who the caller is, their limits, and what counts against them now', async () => {
    const alice = await post(t.gw.url, tokens.alice, VIEWER);
    expect(alice.body).toEqual({
      data: {
        viewer: {
          id: 'alice',
          tenantId: 'acme',
          admin: false,
          authenticatedBy: 'JWT',
          limits: { activeJobs: 5, jobsPerMinute: 10, dailySpendUsd: 3 },
          // One running; three submitted; $0.10 charged + $0.08 reserved (the refused job costs nothing).
          activity: { activeJobs: 1, jobsLastMinute: 3, spentTodayUsd: 0.18 },
        },
      },
    });
    expect((await post(t.gw.url, tokens.bob, VIEWER)).body.data).toMatchObject({
      viewer: { id: 'bob', activity: { activeJobs: 0, jobsLastMinute: 1, spentTodayUsd: 0.15 } },
    });
    expect((await post(t.gw.url, tokens.acmeAdmin, VIEWER)).body.data).toMatchObject({
      viewer: {
        id: 'ann',
        tenantId: 'acme',
        admin: true,
        activity: { activeJobs: 0, jobsLastMinute: 0, spentTodayUsd: 0 },
      },
    });
    expect((await post(t.gw.url, tokens.globalAdmin, VIEWER)).body.data).toMatchObject({
      viewer: { id: 'root', tenantId: null, admin: true },
    });
  });

  it("usage: the caller's own jobs, by status, with seconds, cost and reservation", async () => {
    expect(sorted((await usage('alice')).body.data!.usage)).toEqual([ALICE]);
    expect((await usage('bob')).body.data!.usage).toEqual([BOB]);
    expect((await usage('carol', { everyone: false })).body.data!.usage).toEqual([CAROL]);
    // An admin's own usage is only their own: zeros, as one entry.
    expect((await usage('acmeAdmin')).body.data!.usage).toEqual([nothing('ann', 'acme')]);
    // The same subject in another tenant is another caller.
    expect((await usage('aliceAtGlobex')).body.data!.usage).toEqual([nothing('alice', 'globex')]);
    // Only jobs created in [from, to).
    const before = { from: new Date(Date.parse(range.from) - 3_600_000).toISOString(), to: range.from };
    expect((await usage('alice', before)).body.data!.usage).toEqual([nothing('alice', 'acme')]);
  });

  it('usage(everyone: true): per user among what the admin may see; FORBIDDEN for everyone else', async () => {
    expect(sorted((await usage('acmeAdmin', { everyone: true })).body.data!.usage)).toEqual([ALICE, BOB]);
    expect(sorted((await usage('globexAdmin', { everyone: true })).body.data!.usage)).toEqual([CAROL]);
    expect(sorted((await usage('globalAdmin', { everyone: true })).body.data!.usage)).toEqual([ALICE, BOB, CAROL]);

    for (const caller of ['alice', 'carol', 'aliceWithoutTenant'] as const) {
      const refused = await usage(caller, { everyone: true });
      expect(refused.body.data).toBeNull();
      expect(refused.body.errors?.map((error) => error.extensions?.code)).toEqual(['FORBIDDEN']);
    }
  });

  it('usage refuses an empty or reversed range', async () => {
    const reversed: Reply = await usage('alice', { from: range.to, to: range.from });
    expect(reversed.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});
