/**
 * The typed client's request() and subscribe() with documents of the caller's own, typed as
 * graphql-codegen types them, against a live gateway (JWT auth, the fake Atlas): results and variables
 * typed from the document, the token sent on both transports, GraphQL errors as VideoClientError,
 * retries only where repeating is safe, a subscription followed to its terminal state, the hint a
 * request with no HTTP status carries, and a dropped stream reconnecting (a subscription's first connect
 * with no status is in client-streams-browser.test.ts).
 */
import { type AddressInfo, createServer } from 'node:net';
import { parse } from 'graphql';
import { afterEach, beforeEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import {
  createVideoClient,
  type GenerateVideoInput,
  type PredictionStatus,
  PredictionsDocument,
  type TypedDocumentNode,
  type VideoClient,
  VideoClientError,
} from '../packages/client/src/client/index.ts';
import { hs256Token } from './support/auth.ts';
import { wrapped } from './support/fakeAtlas.ts';
import { gatewayFixture, ONE_BACKEND } from './support/gateway.ts';

const JWT_SECRET = 'client-documents-test-secret-0123456789abcdef';

/*
 * What graphql-codegen's client preset writes for these operations: the document's AST (no locations)
 * cast to TypedDocumentNode<Result, Variables>, with `Exact` variables and `__typename`-free results.
 */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };

type RecentJobsQuery = {
  predictions: { edges: Array<{ node: { id: string; prompt: string | null; status: PredictionStatus } }> };
};
type RecentJobsQueryVariables = Exact<{ first?: number | null; status?: PredictionStatus[] | null }>;
const RecentJobsDocument = parse(
  `query RecentJobs($first: Int, $status: [PredictionStatus!]) {
    predictions(first: $first, status: $status) { edges { node { id prompt status } } }
  }`,
  { noLocation: true },
) as TypedDocumentNode<RecentJobsQuery, RecentJobsQueryVariables>;

type SubmitMutation = {
  generateVideo: { prediction: { id: string; status: PredictionStatus; upstreamId: string | null } };
};
type SubmitMutationVariables = Exact<{ input: GenerateVideoInput }>;
const SubmitDocument = parse(
  `mutation Submit($input: GenerateVideoInput!) {
    generateVideo(input: $input) { prediction { id status upstreamId } }
  }`,
  { noLocation: true },
) as TypedDocumentNode<SubmitMutation, SubmitMutationVariables>;

type FollowSubscription = { predictionUpdated: { id: string; status: PredictionStatus; videoUrl: string | null } };
type FollowSubscriptionVariables = Exact<{ id: string }>;
const FollowDocument = parse(`subscription Follow($id: ID!) { predictionUpdated(id: $id) { id status videoUrl } }`, {
  noLocation: true,
}) as TypedDocumentNode<FollowSubscription, FollowSubscriptionVariables>;

/** Compile-time only (tsc checks it, with the repository): what request() and subscribe() give and take. */
function typeChecks(client: VideoClient) {
  expectTypeOf(client.request(RecentJobsDocument, { first: 5 })).resolves.toEqualTypeOf<RecentJobsQuery>();
  expectTypeOf(client.request(PredictionsDocument, { first: 1 })).resolves.toHaveProperty('predictions');
  expectTypeOf(client.subscribe(FollowDocument, { id: 'x' })).toEqualTypeOf<
    AsyncIterableIterator<FollowSubscription>
  >();
  client.subscribe(
    FollowDocument,
    { id: 'x' },
    { next: (data) => expectTypeOf(data).toEqualTypeOf<FollowSubscription>(), error: () => {} },
  );
  // @ts-expect-error first is a number
  void client.request(RecentJobsDocument, { first: '5' });
  // @ts-expect-error not a status
  void client.request(RecentJobsDocument, { status: ['DONE'] });
  // @ts-expect-error the input's prompt is misspelt
  void client.request(SubmitDocument, { input: { promt: 'a horse' } });
  // @ts-expect-error the subscription needs its id
  void client.subscribe(FollowDocument, {});
}

describe('request() and subscribe() with your own documents, against a live gateway', () => {
  const t = gatewayFixture(ONE_BACKEND, { AUTH_MODE: 'jwt', AUTH_JWT_SECRET: JWT_SECRET });
  beforeEach(async () => {
    t.fake.reset();
    await t.db.truncate();
  });

  it('types results and variables from the document (checked by tsc, not run)', () => {
    expectTypeOf(typeChecks).toBeFunction();
  });

  /** A client with the caller's JWT, recording what each request (POST or SSE) sent. */
  function clientOf(sent: { body: string; authorization: string | null }[] = []) {
    return createVideoClient({
      url: t.gw.url,
      token: () => hs256Token(JWT_SECRET, 'alice'),
      fetch: (input, init) => {
        sent.push({ body: String(init?.body), authorization: new Headers(init?.headers).get('authorization') });
        return fetch(input, init);
      },
    });
  }

  it('runs a mutation and a query of your own, typed by their documents, with the token', async () => {
    const sent: { body: string; authorization: string | null }[] = [];
    const client = clientOf(sent);
    const submitted = await client.request(SubmitDocument, { input: { prompt: 'my own mutation', duration: 3 } });
    expect(submitted.generateVideo.prediction).toMatchObject({ status: 'PROCESSING', upstreamId: 'job_1' });

    const recent = await client.request(RecentJobsDocument, { first: 5 });
    expect(recent.predictions.edges.map((edge) => edge.node)).toEqual([
      { id: submitted.generateVideo.prediction.id, prompt: 'my own mutation', status: expect.any(String) },
    ]);
    // The package's own documents go through the same call.
    expect((await client.request(PredictionsDocument, { first: 5 })).predictions.edges).toHaveLength(1);
    // Sent as documents, with the caller's token each time.
    expect(sent.map((request) => JSON.parse(request.body).query.split('(')[0])).toEqual([
      'mutation Submit',
      'query RecentJobs',
      'query Predictions',
    ]);
    expect(sent.every((request) => request.authorization?.startsWith('Bearer ey'))).toBe(true);
    client.dispose();
  });

  it('surfaces GraphQL errors as VideoClientError: bad input with its issues, and a refused credential', async () => {
    const client = clientOf();
    const refused = await client
      .request(SubmitDocument, { input: { prompt: 'too long', duration: 20 } })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(VideoClientError);
    expect(refused).toMatchObject({
      code: 'BAD_USER_INPUT',
      extensions: { issues: [{ field: 'input.duration', message: 'must be from 3 to 15 seconds' }] },
    });

    const anonymous = createVideoClient({ url: t.gw.url });
    const unauthenticated = await anonymous.request(RecentJobsDocument, { first: 1 }).catch((error: unknown) => error);
    expect(unauthenticated).toBeInstanceOf(VideoClientError);
    expect((unauthenticated as VideoClientError).code).toBe('UNAUTHENTICATED');
    expect(t.fake.creates).toHaveLength(0);
    client.dispose();
    anonymous.dispose();
  });

  it('follows a subscription of your own over SSE to the terminal state, then ends', async () => {
    // Running until the test lets it finish, so the stream sees the change and not only the end state.
    t.fake.newJob = (n) => ({ id: `held_${n}`, script: [wrapped({ id: `held_${n}`, status: 'processing' })] });
    const sent: { body: string; authorization: string | null }[] = [];
    const client = clientOf(sent);
    const { prediction } = (await client.request(SubmitDocument, { input: { prompt: 'followed' } })).generateVideo;
    const statuses: PredictionStatus[] = [];
    for await (const { predictionUpdated } of client.subscribe(FollowDocument, { id: prediction.id })) {
      expect(predictionUpdated.id).toBe(prediction.id);
      statuses.push(predictionUpdated.status);
      if (statuses.length === 1)
        t.fake.statusScripts.set(prediction.upstreamId!, [
          wrapped({ id: prediction.upstreamId!, status: 'completed', outputs: ['https://cdn.example/followed.mp4'] }),
        ]);
    }
    // The loop ended because the gateway completed the subscription after SUCCEEDED.
    expect(statuses[0]).toBe('PROCESSING');
    expect(statuses.at(-1)).toBe('SUCCEEDED');
    const subscription = sent.find((request) => request.body.includes('subscription Follow'));
    expect(subscription?.authorization).toMatch(/^Bearer ey/);
    client.dispose();
  });

  it('calls handlers: next to the end and complete, or error with the GraphQL error', async () => {
    const client = clientOf();
    const { prediction } = (await client.request(SubmitDocument, { input: { prompt: 'handled' } })).generateVideo;
    const statuses: PredictionStatus[] = [];
    await new Promise<void>((resolve, reject) => {
      client.subscribe(
        FollowDocument,
        { id: prediction.id },
        { next: ({ predictionUpdated }) => statuses.push(predictionUpdated.status), error: reject, complete: resolve },
      );
    });
    expect(statuses.at(-1)).toBe('SUCCEEDED');

    const error = await new Promise<VideoClientError>((resolve, reject) => {
      client.subscribe(
        FollowDocument,
        { id: '00000000-0000-4000-8000-000000000000' },
        {
          next: () => reject(new Error('no result expected')),
          error: resolve,
          complete: () => reject(new Error('completed')),
        },
      );
    });
    expect(error).toBeInstanceOf(VideoClientError);
    expect(error.code).toBe('NOT_FOUND');
    client.dispose();
  });

  it('retries a query whose answer was lost, but a mutation only when told it is safe to repeat', async () => {
    let attempts = 0;
    const client = createVideoClient({
      url: t.gw.url,
      token: () => hs256Token(JWT_SECRET, 'alice'),
      fetch: async (input, init) => {
        attempts++;
        const response = await fetch(input, init);
        if (attempts === 1) throw new TypeError('fetch failed: socket hang up');
        return response;
      },
    });
    expect((await client.request(RecentJobsDocument, { first: 1 })).predictions.edges).toEqual([]);
    expect(attempts).toBe(2);

    attempts = 0;
    const lost = await client.request(SubmitDocument, { input: { prompt: 'not repeated' } }).catch((e: unknown) => e);
    expect((lost as VideoClientError).code).toBe('NETWORK_ERROR');
    expect(attempts).toBe(1);

    attempts = 0;
    const input = { prompt: 'repeated with its key', idempotencyKey: 'client-documents-1' };
    const repeated = await client.request(SubmitDocument, { input }, { retry: true });
    expect(attempts).toBe(2);
    // The second attempt got the job the first one made: one job upstream for the two submissions.
    expect(repeated.generateVideo.prediction.upstreamId).toBe('job_2');
    expect(t.fake.creates).toHaveLength(2);
    client.dispose();
  });

  it('refuses a subscription document in request(), before sending it', async () => {
    let sent = 0;
    const client = createVideoClient({
      url: t.gw.url,
      fetch: (input, init) => {
        sent++;
        return fetch(input, init);
      },
    });
    const error = await client.request(FollowDocument as never, { id: 'x' } as never).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'BAD_USER_INPUT',
      message: 'Follow is a subscription: run it with subscribe()',
    });
    expect(sent).toBe(0);
  });
});

/** A port that was just free: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('a request that gets no HTTP status', () => {
  it('says CORS_ORIGINS or a dev-server proxy is the likely cause, and keeps the fetch error', async () => {
    // A port nothing listens on any more: fetch throws with no status, as a browser's CORS refusal does.
    const url = `http://127.0.0.1:${await closedPort()}/graphql`;
    const client = createVideoClient({ url });
    const error = await client.request(SubmitDocument, { input: { prompt: 'x' } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VideoClientError);
    const { code, message, cause } = error as VideoClientError;
    expect(code).toBe('NETWORK_ERROR');
    expect(message).toContain(`The request to ${url} got no HTTP answer (fetch failed: ECONNREFUSED).`);
    expect(message).toContain("list the page's origin in the gateway's CORS_ORIGINS");
    expect(message).toContain('call the gateway through your dev server (a proxy for /graphql');
    expect(cause).toBeInstanceOf(TypeError);
    expect((cause as TypeError).message).toBe('fetch failed');
    // The fixed methods share the path.
    const viaMethod = await client.viewer().catch((e: unknown) => e);
    expect((viaMethod as VideoClientError).message).toContain('CORS_ORIGINS');
    client.dispose();
  });
});

/** An answer as the gateway's event stream, its events in order, then 'complete'. */
function eventStream(events: unknown[]): Response {
  const text = events.map((event) => `event: next\ndata: ${JSON.stringify(event)}\n\n`).join('');
  return new Response(`${text}event: complete\ndata:\n\n`, {
    status: 200,
    headers: { 'content-type': 'text/event-stream' },
  });
}

describe('a subscription whose stream dropped after it connected', () => {
  // graphql-sse waits seconds between tries (1 s, doubling, plus up to 3 s): fake timers skip them.
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('keeps trying past the three tries a first connect gets, while fetch fails with no status, and goes on', async () => {
    const first = { predictionUpdated: { id: 'p1', status: 'PROCESSING', videoUrl: null } };
    const last = { predictionUpdated: { id: 'p1', status: 'SUCCEEDED', videoUrl: 'https://cdn.example/p1.mp4' } };
    // Connected with one result, then dropped (the connection broke mid-stream).
    let drop = () => {};
    const connected = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(`event: next\ndata: ${JSON.stringify({ data: first })}\n\n`));
        drop = () => controller.error(new TypeError('network error'));
      },
    });
    // Then four tries get no HTTP answer (the gateway restarting, say); then it is back.
    const answers: (() => Response)[] = [
      () => new Response(connected, { status: 200, headers: { 'content-type': 'text/event-stream' } }),
      ...Array.from({ length: 4 }, () => () => {
        throw new TypeError('Failed to fetch');
      }),
      () => eventStream([{ data: last }]),
    ];
    let sent = 0;
    const client = createVideoClient({
      url: 'http://gateway.invalid/graphql',
      fetch: async () => {
        const answer = answers[sent++];
        if (!answer) throw new Error('no more answers');
        return answer();
      },
    });
    const results: unknown[] = [];
    const done = (async () => {
      for await (const result of client.subscribe(FollowDocument, { id: 'p1' })) {
        results.push(result);
        // Dropped while the client waits for the next result.
        if (results.length === 1) setImmediate(drop);
      }
    })();
    let settled = false;
    const settle = () => {
      settled = true;
    };
    done.then(settle, settle);
    while (!settled) await vi.advanceTimersByTimeAsync(1_000);
    await done;
    expect(results).toEqual([first, last]);
    expect(sent).toBe(6);
    client.dispose();
  });
});
