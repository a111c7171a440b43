/**
 * GraphQL over WebSocket (graphql-ws) on /graphql: real gateway, real sockets, the fake Atlas over
 * HTTP. The same rules as HTTP and SSE: authentication (here from connectionParams), who sees what,
 * persisted-only mode, query limits, introspection, variable errors; and the socket's own guards.
 */
import { ApolloClient, ApolloLink, gql, InMemoryCache } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import type { ExecutionResult } from 'graphql';
import { type Client, createClient } from 'graphql-ws';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { GenerateVideoDocument, PredictionUpdatedDocument, requestBody } from '../packages/client/src/client/index.ts';
import { createApiKey } from '../src/auth/apiKeys.ts';
import { revokeApiKey } from '../src/db/queries/apiKeys.ts';
import { WS_MAX_OPERATIONS_PER_SOCKET, WS_MAX_PAYLOAD_BYTES } from '../src/websocket.ts';
import { countPredictions, post, sseRaw, subscribeAll } from './support/auth.ts';
import { FakeAtlas, wrapped } from './support/fakeAtlas.ts';
import {
  eventually,
  gatewayFixture,
  ONE_BACKEND,
  openTestDatabase,
  startGateway,
  type TestDatabase,
} from './support/gateway.ts';
import { metric } from './support/metrics.ts';

const SECRET = 'websocket-tests-hs256-secret-0123456789';
const sign = (sub: string, expiresIn = '1h') =>
  new SignJWT({ sub })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(new TextEncoder().encode(SECRET));

const GENERATE =
  'mutation G($input: GenerateVideoInput!) { generateVideo(input: $input) { prediction { id ownerId status } } }';
const UPDATES = 'subscription W($id: ID!) { predictionUpdated(id: $id) { id status videoUrl } }';

type Payload = {
  query: string;
  variables?: Record<string, unknown>;
  extensions?: Record<string, unknown>;
  operationName?: string;
};
type Generated = { generateVideo: { prediction: { id: string; ownerId: string; status: string } } };
type Updated = { predictionUpdated: { id: string; status: string; videoUrl: string | null } };
interface FormattedError {
  message: string;
  extensions?: { code?: string; [key: string]: unknown };
}

const wsUrl = (httpUrl: string) => httpUrl.replace(/^http/, 'ws');

/**
 * A graphql-ws client over `ws`, which does not retry (a refusal shows as it is). Lazy: it connects for
 * an operation and closes when none is left; not lazy, it keeps one socket open from the start.
 */
function wsClient(httpUrl: string, connectionParams?: Record<string, unknown>, lazy = true): Client {
  return createClient({ url: wsUrl(httpUrl), webSocketImpl: WebSocket, connectionParams, retryAttempts: 0, lazy });
}

/** Everything one operation gave: its results until complete, or what it failed with (error payload or close event). */
async function run<T = Record<string, unknown>>(
  client: Client,
  payload: Payload,
): Promise<{ results: ExecutionResult<T>[]; failure?: unknown }> {
  const results: ExecutionResult<T>[] = [];
  try {
    for await (const result of client.iterate(payload)) results.push(result as ExecutionResult<T>);
    return { results };
  } catch (failure) {
    return { results, failure };
  }
}

/** The code of the error an operation failed with (graphql-ws sends an `error` message for refusals before execution). */
const codeOf = (failure: unknown) =>
  Array.isArray(failure) ? (failure as FormattedError[])[0]?.extensions?.code : undefined;
const closeCodeOf = (failure: unknown) =>
  failure && typeof failure === 'object' && 'code' in failure ? failure.code : undefined;

/** A raw socket on the graphql-transport-ws subprotocol, for what the client library does not show. */
function rawSocket(httpUrl: string, headers: Record<string, string> = {}): WebSocket {
  return new WebSocket(wsUrl(httpUrl), 'graphql-transport-ws', { headers });
}
/** How a raw handshake ended: 'open', or the HTTP status the server refused it with. */
function handshake(socket: WebSocket): Promise<'open' | number> {
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve('open'));
    socket.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
    socket.once('error', reject);
  });
}
/**
 * New jobs stay PROCESSING upstream until `release` says they are done (with this video), so a test
 * sees a subscription live before the end. Restores the default job for later tests.
 */
function holdJobs(fake: FakeAtlas): (videoUrl: string) => void {
  fake.newJob = (n) => ({ id: `held_${n}`, script: [wrapped({ id: `held_${n}`, status: 'processing' })] });
  return (videoUrl) => {
    for (const id of fake.statusScripts.keys()) {
      if (id.startsWith('held_'))
        fake.statusScripts.set(id, [wrapped({ id, status: 'completed', outputs: [videoUrl] })]);
    }
    fake.newJob = FakeAtlas.defaultJob;
  };
}

const closed = (socket: WebSocket) =>
  new Promise<{ code: number; reason: string }>((resolve) =>
    socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );

describe('graphql-ws, callers by JWT', () => {
  const t = gatewayFixture(ONE_BACKEND, { AUTH_MODE: 'jwt,apikey', AUTH_JWT_SECRET: SECRET, INTROSPECTION: 'false' });
  const clients: Client[] = [];
  const as = async (sub: string, form: 'authorization' | 'token' = 'authorization') => {
    const token = await sign(sub);
    const client = wsClient(t.gw.url, form === 'authorization' ? { authorization: `Bearer ${token}` } : { token });
    clients.push(client);
    return client;
  };
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.dispose()));
  });

  it('submits over the socket and follows the job live to SUCCEEDED on the same socket', async () => {
    const release = holdJobs(t.fake);
    const alice = await as('alice');
    const submitted = await run<Generated>(alice, {
      query: GENERATE,
      variables: { input: { prompt: 'A horse over WebSocket', duration: 5 } },
    });
    expect(submitted.failure).toBeUndefined();
    const prediction = submitted.results[0]!.data!.generateVideo.prediction;
    expect(prediction.ownerId).toBe('alice');
    expect(t.fake.creates.at(-1)?.body).toMatchObject({ prompt: 'A horse over WebSocket', duration: 5 });

    const statuses: string[] = [];
    let videoUrl: string | null = null;
    const done = new Promise<void>((resolve, reject) => {
      alice.subscribe<Updated>(
        { query: UPDATES, variables: { id: prediction.id } },
        {
          next: (result) => {
            statuses.push(result.data!.predictionUpdated.status);
            videoUrl = result.data!.predictionUpdated.videoUrl;
          },
          error: reject,
          complete: resolve,
        },
      );
    });
    await eventually(
      () => statuses.length,
      (n) => n >= 1,
    );
    expect(statuses).toEqual(['PROCESSING']);
    release('https://cdn.example/over-ws.mp4');
    await done;
    expect(statuses.at(-1)).toBe('SUCCEEDED');
    expect(videoUrl).toBe('https://cdn.example/over-ws.mp4');
  });

  it("streams myPredictionsUpdated: each caller's own new jobs and their changes to the end, never another caller's", async () => {
    type Change = { id: string; status: string };
    const callers = { erin: await as('ws-mine-erin'), frank: await as('ws-mine-frank') };
    type Caller = keyof typeof callers;
    const generate = async (caller: Caller, prompt: string) => {
      const { results, failure } = await run<Generated>(callers[caller], {
        query: GENERATE,
        variables: { input: { prompt } },
      });
      expect(failure).toBeUndefined();
      return results[0]!.data!.generateVideo.prediction.id;
    };
    /** The caller's stream over the same socket, read as far as a test asks. */
    const streamOf = (caller: Caller) => {
      const events = callers[caller].iterate<{ myPredictionsUpdated: Change }>({
        query: 'subscription Mine { myPredictionsUpdated { id status } }',
      });
      const seen: Change[] = [];
      return {
        seen,
        events,
        async until(ok: (change: Change) => boolean): Promise<void> {
          for (;;) {
            const next = await events.next();
            if (next.done) throw new Error(`the stream ended; seen ${JSON.stringify(seen)}`);
            const change = next.value.data?.myPredictionsUpdated;
            if (!change) throw new Error(`stream error: ${JSON.stringify(next.value.errors)}`);
            seen.push(change);
            if (ok(change)) return;
          }
        },
      };
    };

    // Each caller first has a job that keeps running: a stream begins with it, which shows it is live.
    const release = holdJobs(t.fake);
    const running = { erin: await generate('erin', 'erin running'), frank: await generate('frank', 'frank running') };
    const stream = { erin: streamOf('erin'), frank: streamOf('frank') };
    try {
      await stream.erin.until((change) => change.id === running.erin);
      await stream.frank.until((change) => change.id === running.frank);
      // The running jobs end, and new jobs from here on run to SUCCEEDED.
      release('https://cdn.example/mine-over-ws.mp4');
      await stream.erin.until((change) => change.id === running.erin && change.status === 'SUCCEEDED');
      await stream.frank.until((change) => change.id === running.frank && change.status === 'SUCCEEDED');

      // One caller's job ends before the other's next begins, so by the time each stream shows its
      // own last job ended, every change of the other's earlier jobs would have reached it too.
      const erins = await generate('erin', 'erin finishes');
      await stream.erin.until((change) => change.id === erins && change.status === 'SUCCEEDED');
      const franks = await generate('frank', 'frank finishes');
      await stream.frank.until((change) => change.id === franks && change.status === 'SUCCEEDED');
      const erinsLast = await generate('erin', 'erin last');
      await stream.erin.until((change) => change.id === erinsLast && change.status === 'SUCCEEDED');

      // A new job, from its first state to its end.
      const statuses = stream.erin.seen.filter((change) => change.id === erins).map((change) => change.status);
      expect(statuses[0]).toMatch(/STARTING|PROCESSING/);
      expect(statuses.at(-1)).toBe('SUCCEEDED');
      const idsSeen = (caller: Caller) => [...new Set(stream[caller].seen.map((change) => change.id))].sort();
      expect(idsSeen('erin')).toEqual([running.erin, erins, erinsLast].sort());
      expect(idsSeen('frank')).toEqual([running.frank, franks].sort());
    } finally {
      await Promise.all([stream.erin.events.return?.(), stream.frank.events.return?.()]);
    }
  });

  it('takes the credential as { token } too; the caller is who the token says', async () => {
    const bob = await as('bob', 'token');
    const { results } = await run<{ viewer: { id: string; authenticatedBy: string } }>(bob, {
      query: '{ viewer { id authenticatedBy } }',
    });
    expect(results[0]!.data!.viewer).toEqual({ id: 'bob', authenticatedBy: 'JWT' });
  });

  it("answers NOT_FOUND for someone else's prediction, exactly as over SSE", async () => {
    const created = await post<Generated>(t.gw.url, await sign('carol'), GENERATE, {
      input: { prompt: "carol's horse" },
    });
    const id = created.body.data!.generateVideo.prediction.id;

    const overWs = await run(await as('dave'), { query: UPDATES, variables: { id } });
    const overSse = await subscribeAll(t.gw.url, await sign('dave'), UPDATES, { id });
    expect(overWs.results.every((result) => !result.data)).toBe(true);
    const wsErrors = overWs.results.flatMap((result) => result.errors ?? []);
    expect(wsErrors.map((error) => [error.message, error.extensions?.code])).toEqual(
      overSse.flatMap((result) => result.errors ?? []).map((error) => [error.message, error.extensions?.code]),
    );
    expect(wsErrors[0]?.extensions?.code).toBe('NOT_FOUND');

    // Carol herself sees it.
    const own = await run<Updated>(await as('carol'), { query: UPDATES, variables: { id } });
    expect(own.results.at(-1)!.data!.predictionUpdated.status).toBe('SUCCEEDED');
  });

  it('counts and times its operations in /metrics by name, type and outcome, as over HTTP', async () => {
    const registry = t.gw.gateway.metrics.registry;
    const count = async (name: string, labels: Record<string, string>) =>
      metric(await registry.metrics(), name, labels) ?? 0;
    const labelsOf = {
      ok: { operation: 'WsMe', type: 'query', outcome: 'ok' },
      notFound: { operation: 'W', type: 'subscription', outcome: 'NOT_FOUND' },
      refused: { operation: 'WsDeep', type: 'query', outcome: 'QUERY_TOO_COMPLEX' },
    };
    const before = Object.fromEntries(
      await Promise.all(
        Object.entries(labelsOf).map(
          async ([key, labels]) => [key, await count('gateway_graphql_operations_total', labels)] as const,
        ),
      ),
    );
    const erin = await as('erin');
    expect((await run(erin, { query: 'query WsMe { viewer { id } }' })).results[0]!.data).toEqual({
      viewer: { id: 'erin' },
    });
    expect(
      codeOf(
        (await run(erin, { query: UPDATES, variables: { id: '00000000-0000-4000-8000-000000000000' } })).results[0]
          ?.errors,
      ),
    ).toBe('NOT_FOUND');
    const aliased = `query WsDeep { ${Array.from({ length: 16 }, (_, i) => `p${i}: prediction(id: "x") { id }`).join(' ')} }`;
    expect(codeOf((await run(erin, { query: aliased })).failure)).toBe('QUERY_TOO_COMPLEX');

    for (const [key, labels] of Object.entries(labelsOf)) {
      expect(await count('gateway_graphql_operations_total', labels), key).toBe(before[key]! + 1);
      expect(await count('gateway_graphql_operation_duration_seconds_count', labels), key).toBe(before[key]! + 1);
    }
  });

  it('authenticates every operation again: an API key revoked while its socket is open stops at the next one', async () => {
    const { key, row } = await createApiKey(t.db.database.db, { name: 'ws-doomed' });
    let connections = 0;
    const client = wsClient(t.gw.url, { token: key }, false);
    client.on('connected', () => connections++);
    clients.push(client);
    const before = await run<{ viewer: { id: string } }>(client, { query: '{ viewer { id } }' });
    expect(before.results[0]!.data!.viewer.id).toBe(`key:${row.id}`);

    expect(await revokeApiKey(t.db.database.db, row.id, new Date())).toBe(true);
    const after = await run(client, { query: GENERATE, variables: { input: { prompt: 'after revocation' } } });
    expect(after.results).toEqual([]);
    expect(after.failure).toEqual([
      {
        message: 'Not authenticated: the API key is unknown or revoked',
        extensions: { code: 'UNAUTHENTICATED', requestId: expect.any(String) },
      },
    ]);
    expect(t.fake.creates.some((create) => JSON.stringify(create.body).includes('after revocation'))).toBe(false);
    expect(connections).toBe(1); // one socket throughout: refused at the operation, not at a reconnect
  });

  it('closes the socket with 4403 Forbidden before any operation when the credential does not hold', async () => {
    const before = { creates: t.fake.creates.length, rows: await countPredictions(t.db.database.db) };
    const refused: Record<string, unknown>[] = [
      {}, // none at all, and this gateway takes no anonymous callers
      { authorization: 'Bearer not-a-jwt' },
      { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` },
      { token: await sign('erin', '-1m') }, // expired
      { token: 'x'.repeat(10) },
      { authorization: 42 }, // not a string
    ];
    for (const params of refused) {
      const client = wsClient(t.gw.url, params);
      const { results, failure } = await run(client, {
        query: GENERATE,
        variables: { input: { prompt: 'must never run' } },
      });
      await client.dispose();
      expect(results, JSON.stringify(params)).toEqual([]);
      expect(closeCodeOf(failure), JSON.stringify(params)).toBe(4403);
    }
    expect(t.fake.creates.length).toBe(before.creates);
    expect(await countPredictions(t.db.database.db)).toBe(before.rows);
    expect(t.gw.logs.some((line) => line.includes('websocket refused: not authenticated'))).toBe(true);
  });

  it('holds the query limits, the introspection switch and variable errors as BAD_USER_INPUT', async () => {
    const frank = await as('frank');
    // One limit checked when parsing, one when validating: both are armor's, through Yoga's envelop.
    for (const [limit, query] of [
      ['tokens', `{ ${'__typename '.repeat(1001)}}`],
      ['aliases', `{ ${Array.from({ length: 16 }, (_, i) => `p${i}: prediction(id: "x") { id }`).join(' ')} }`],
    ] as const) {
      const tooMuch = await run(frank, { query });
      expect(tooMuch.results).toEqual([]);
      expect((tooMuch.failure as FormattedError[])[0]?.extensions).toEqual({
        code: 'QUERY_TOO_COMPLEX',
        limit,
        requestId: expect.any(String),
      });
    }

    const introspection = await run(frank, { query: '{ __schema { types { name } } }' });
    expect(codeOf(introspection.failure)).toBe('INTROSPECTION_DISABLED');

    const badVariable = await run(frank, { query: GENERATE, variables: { input: { prompt: 'x', duration: 2.5 } } });
    expect(badVariable.results[0]?.errors?.[0]).toMatchObject({
      extensions: { code: 'BAD_USER_INPUT', issues: [{ field: 'input.duration' }] },
    });

    const badRule = await run(frank, { query: GENERATE, variables: { input: { prompt: 'x', duration: 99 } } });
    expect(badRule.results[0]?.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');

    // A subscription's variables too, the same over the socket as over SSE.
    for (const variables of [{}, { id: { not: 'an id' } }]) {
      const overWs = await run(frank, { query: UPDATES, variables });
      const overSse = await sseRaw(t.gw.url, await sign('frank'), { query: UPDATES, variables });
      const sseEvent = overSse.text.split('\n').find((line) => line.startsWith('data: {'));
      // The same but for each request's own id.
      const requestIds = (
        results: ReadonlyArray<{ errors?: ReadonlyArray<{ extensions?: Record<string, unknown> }> }>,
      ) =>
        results
          .flatMap((result) => result.errors ?? [])
          .map((error) => {
            const id = error.extensions?.requestId;
            delete error.extensions?.requestId;
            return id;
          });
      const overSseResults = [JSON.parse(sseEvent!.slice('data: '.length))];
      expect(requestIds(overWs.results)).toEqual([expect.stringMatching(/^[0-9a-f-]{36}$/)]);
      expect(requestIds(overSseResults)).toEqual([expect.stringMatching(/^[0-9a-f-]{36}$/)]);
      expect(overWs.results).toEqual(overSseResults);
      expect(overWs.results[0]?.errors?.[0], JSON.stringify(variables)).toMatchObject({
        message: /^id /,
        extensions: { code: 'BAD_USER_INPUT', issues: [{ field: 'id' }] },
      });
    }

    const syntax = await run(frank, { query: '{ viewer { id ' });
    expect(Array.isArray(syntax.failure)).toBe(true);
    expect((syntax.failure as FormattedError[])[0]?.message).toMatch(/Syntax Error/);
  });

  it('serves Apollo Client through GraphQLWsLink with connectionParams, a subscription to its end', async () => {
    const token = await sign('gina');
    const wsLink = new GraphQLWsLink(
      createClient({
        url: wsUrl(t.gw.url),
        webSocketImpl: WebSocket,
        connectionParams: () => ({ authorization: `Bearer ${token}` }),
        retryAttempts: 0,
      }),
    );
    const apollo = new ApolloClient({ link: ApolloLink.from([wsLink]), cache: new InMemoryCache() });
    const release = holdJobs(t.fake);
    try {
      const generated = await apollo.mutate<Generated>({
        mutation: gql(GENERATE),
        variables: { input: { prompt: 'A horse for Apollo' } },
      });
      const id = generated.data!.generateVideo.prediction.id;
      expect(generated.data!.generateVideo.prediction.ownerId).toBe('gina');

      const statuses: string[] = [];
      const done = new Promise<void>((resolve, reject) => {
        apollo.subscribe<Updated>({ query: gql(UPDATES), variables: { id } }).subscribe({
          next: (result) => {
            if (result.error) reject(result.error);
            else if (result.data) statuses.push(result.data.predictionUpdated.status);
          },
          error: reject,
          complete: resolve,
        });
      });
      await eventually(
        () => statuses.length,
        (n) => n >= 1,
      );
      expect(statuses).toEqual(['PROCESSING']);
      release('https://cdn.example/apollo.mp4');
      await done;
      expect(statuses.at(-1)).toBe('SUCCEEDED');
    } finally {
      release('https://cdn.example/apollo.mp4');
      apollo.stop();
      await wsLink.client.dispose();
    }
  });

  it(`runs at most ${WS_MAX_OPERATIONS_PER_SOCKET} operations at once on one socket`, async () => {
    const release = holdJobs(t.fake);
    const token = await sign('hank');
    try {
      const created = await post<Generated>(t.gw.url, token, GENERATE, { input: { prompt: 'held' } });
      const id = created.body.data!.generateVideo.prediction.id;
      const hank = wsClient(t.gw.url, { token });
      clients.push(hank);
      const firsts: Promise<void>[] = [];
      const stops: (() => void)[] = [];
      for (let i = 0; i < WS_MAX_OPERATIONS_PER_SOCKET; i++) {
        firsts.push(
          new Promise<void>((resolve, reject) => {
            stops.push(
              hank.subscribe(
                { query: UPDATES, variables: { id } },
                { next: () => resolve(), error: reject, complete: () => {} },
              ),
            );
          }),
        );
      }
      await Promise.all(firsts); // all of them running
      const oneMore = await run(hank, { query: UPDATES, variables: { id } });
      expect(codeOf(oneMore.failure)).toBe('TOO_MANY_OPERATIONS');
      // The socket is still good: end one, and another runs.
      stops[0]!();
      await eventually(
        async () => codeOf((await run(hank, { query: '{ viewer { id } }' })).failure),
        (code) => code === undefined,
      );
      for (const stop of stops) stop();
    } finally {
      release('https://cdn.example/held.mp4');
    }
  });

  it('lets in the same origin and no origin, refuses other origins with 403', async () => {
    const host = new URL(t.gw.url).host;
    const sameOrigin = rawSocket(t.gw.url, { origin: `http://${host}` });
    expect(await handshake(sameOrigin)).toBe('open');
    sameOrigin.close();
    const noOrigin = rawSocket(t.gw.url);
    expect(await handshake(noOrigin)).toBe('open');
    noOrigin.close();
    expect(await handshake(rawSocket(t.gw.url, { origin: 'https://evil.example' }))).toBe(403);
    expect(
      await handshake(new WebSocket(wsUrl(t.gw.url).replace('/graphql', '/elsewhere'), 'graphql-transport-ws')),
    ).toBe(404);
  });

  it(`closes a socket that sends a message over ${WS_MAX_PAYLOAD_BYTES} bytes (1009), and one that never says connection_init (4408)`, async () => {
    const big = rawSocket(t.gw.url);
    expect(await handshake(big)).toBe('open');
    const bigClosed = closed(big);
    const stderr = vi.spyOn(console, 'error');
    try {
      big.send(JSON.stringify({ type: 'connection_init', payload: { token: 'x'.repeat(WS_MAX_PAYLOAD_BYTES) } }));
      expect((await bigClosed).code).toBe(1009);
      // Logged as the client's doing, in the gateway's log, not as an internal error on stderr.
      await eventually(() => t.gw.logs.some((line) => line.includes('Max payload size exceeded')), Boolean);
      expect(stderr).not.toHaveBeenCalled();
    } finally {
      stderr.mockRestore();
    }

    const silent = rawSocket(t.gw.url);
    expect(await handshake(silent)).toBe('open');
    const started = Date.now();
    expect((await closed(silent)).code).toBe(4408);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('graphql-ws with PERSISTED_OPERATIONS=only', () => {
  const t = gatewayFixture(ONE_BACKEND, { PERSISTED_OPERATIONS: 'only', CORS_ORIGINS: 'https://app.example' });
  let client: Client;
  beforeAll(() => {
    client = wsClient(t.gw.url);
  });
  afterAll(() => client.dispose());

  it('refuses any document that is not sent as a manifest hash, subscription, query and mutation alike', async () => {
    for (const query of [
      'subscription { predictionUpdated(id: "00000000-0000-4000-8000-000000000000") { id prompt } }',
      '{ predictions(first: 1) { edges { node { id prompt } } } }',
      'mutation { generateVideo(input: { prompt: "not persisted" }) { prediction { id } } }',
    ]) {
      const { results, failure } = await run(client, { query });
      expect(results, query).toEqual([]);
      expect(codeOf(failure), query).toBe('PERSISTED_QUERY_ONLY');
    }
    const unknown = await run(client, {
      query: '',
      extensions: { persistedQuery: { version: 1, sha256Hash: 'sha256:00' } },
    });
    expect(codeOf(unknown.failure)).toBe('PERSISTED_QUERY_NOT_FOUND');
    const noHash = await run(client, { query: '' });
    expect(codeOf(noHash.failure)).toBe('PERSISTED_QUERY_ONLY');
    // A known hash does not carry a document of the caller's choosing along.
    const smuggled = {
      ...requestBody(GenerateVideoDocument, { input: { prompt: 'x' } }, true),
      query: '{ predictions(first: 1) { edges { node { id } } } }',
    };
    expect(codeOf((await run(client, smuggled)).failure)).toBe('PERSISTED_QUERY_ONLY');
    expect(t.fake.creates).toHaveLength(0);
  });

  it('lets in a page from CORS_ORIGINS, and no other foreign page', async () => {
    const listed = rawSocket(t.gw.url, { origin: 'https://app.example' });
    expect(await handshake(listed)).toBe('open');
    listed.close();
    expect(await handshake(rawSocket(t.gw.url, { origin: 'https://app.example.evil.example' }))).toBe(403);
    expect(await handshake(rawSocket(t.gw.url, { origin: 'null' }))).toBe(403);
  });

  it('runs the manifest documents by hash: submit, then follow to SUCCEEDED', async () => {
    const submitted = await run<Generated>(
      client,
      requestBody(GenerateVideoDocument, { input: { prompt: 'persisted over ws' } }, true),
    );
    expect(submitted.failure).toBeUndefined();
    const id = submitted.results[0]!.data!.generateVideo.prediction.id;
    const { results, failure } = await run<Updated>(client, requestBody(PredictionUpdatedDocument, { id }, true));
    expect(failure).toBeUndefined();
    expect(results.at(-1)!.data!.predictionUpdated.status).toBe('SUCCEEDED');
    expect(t.fake.creates).toHaveLength(1);
  });
});

describe('graphql-ws on the Postgres server', () => {
  let fake: FakeAtlas;
  let db: TestDatabase;
  beforeAll(async () => {
    [fake, db] = await Promise.all([FakeAtlas.start(), openTestDatabase('postgres')]);
  });
  afterAll(async () => {
    await Promise.all([fake?.close(), db?.close()]);
  });

  it('follows a job to SUCCEEDED, across a gateway shutdown: the socket is closed with 1001 and the client resumes on the successor', async () => {
    // The job runs until the test lets it finish.
    const release = holdJobs(fake);
    const first = await startGateway({ databaseUrl: db.url!, atlasUrl: fake.url });
    let firstClosed = false;
    const second = await startGateway({ databaseUrl: db.url!, atlasUrl: fake.url });
    let current = first.url;
    const closes: number[] = [];
    const client = createClient({
      url: () => wsUrl(current),
      webSocketImpl: WebSocket,
      retryAttempts: 5,
      retryWait: () => new Promise((resolve) => setTimeout(resolve, 50)),
      on: { closed: (event) => closes.push((event as { code: number }).code) },
    });
    try {
      const submitted = await run<Generated>(client, {
        query: GENERATE,
        variables: { input: { prompt: 'A horse across a deploy' } },
      });
      const id = submitted.results[0]!.data!.generateVideo.prediction.id;
      const statuses: string[] = [];
      const done = new Promise<void>((resolve, reject) => {
        client.subscribe<Updated>(
          { query: UPDATES, variables: { id } },
          { next: (result) => statuses.push(result.data!.predictionUpdated.status), error: reject, complete: resolve },
        );
      });
      await eventually(
        () => statuses.length,
        (n) => n >= 1,
      );

      current = second.url;
      const started = Date.now();
      await first.close();
      firstClosed = true;
      const shutdownMs = Date.now() - started;
      expect(closes).toContain(1001);
      // Resumed on the second gateway: it sends the current state first.
      await eventually(
        () => statuses.length,
        (n) => n >= 2,
      );

      release('https://cdn.example/deployed.mp4');
      await done;
      expect(statuses.slice(0, 2)).toEqual(['PROCESSING', 'PROCESSING']);
      expect(statuses.at(-1)).toBe('SUCCEEDED');
      // Nothing held the shutdown up (the SSE-era bound: the drain and a 1 s grace at most).
      expect(shutdownMs).toBeLessThan(3_000);
    } finally {
      release('https://cdn.example/deployed.mp4');
      await client.dispose();
      if (!firstClosed) await first.close();
      await second.close();
    }
  });
});
