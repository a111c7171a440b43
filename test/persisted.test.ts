import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import {
  createVideoClient,
  GenerateVideoDocument,
  PredictionsDocument,
  PredictionUpdatedDocument,
  requestBody,
  type TypedDocumentNode,
  VideoClientError,
} from '../packages/client/src/client/index.ts';
import { gatewayFixture, ONE_BACKEND } from './support/gateway.ts';

describe('PERSISTED_OPERATIONS=only', () => {
  const t = gatewayFixture(ONE_BACKEND, { PERSISTED_OPERATIONS: 'only' });

  const post = (body: unknown, accept = 'application/json') =>
    fetch(t.gw.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept },
      body: JSON.stringify(body),
    });

  it('runs manifest documents over HTTP and SSE through the typed client', async () => {
    const client = createVideoClient({ url: t.gw.url, persisted: true });
    const updates: string[] = [];
    const done = await client.generateAndWait(
      { prompt: 'persisted horse' },
      { onUpdate: (p) => updates.push(p.status) },
    );
    expect(done.status).toBe('SUCCEEDED');
    expect(updates.at(0)).toBe('PROCESSING');
    expect(updates.at(-1)).toBe('SUCCEEDED');
    expect((await client.prediction(done.id))?.videoUrl).toBe(done.videoUrl);
    expect((await client.predictions({ first: 5 })).edges).toHaveLength(1);
    client.dispose();
  });

  it('refuses an arbitrary document over HTTP POST, HTTP GET and SSE', async () => {
    const query = '{ predictions(first: 1) { edges { node { id prompt } } } }';
    const viaPost = await (await post({ query })).json();
    expect(viaPost.errors[0].extensions.code).toBe('PERSISTED_QUERY_ONLY');
    expect(viaPost.data).toBeUndefined();

    const viaGet = await (
      await fetch(`${t.gw.url}?query=${encodeURIComponent(query)}`, {
        headers: { accept: 'application/json', 'x-graphql-csrf': '1' },
      })
    ).json();
    expect(viaGet.errors[0].extensions.code).toBe('PERSISTED_QUERY_ONLY');

    // A subscription document written by hand, over SSE, is refused the same way.
    const sse = await post({ query: 'subscription { predictionUpdated(id: "x") { id prompt } }' }, 'text/event-stream');
    const text = await sse.text();
    expect(text).toContain('PERSISTED_QUERY_ONLY');
    expect(text).not.toContain('"data":{');
  });

  it('refuses a hash that is not in the manifest, and a full document sent alongside a known hash', async () => {
    const unknown = await (
      await post({ extensions: { persistedQuery: { version: 1, sha256Hash: 'sha256:00' } } })
    ).json();
    expect(unknown.errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');

    const smuggled = {
      ...requestBody(GenerateVideoDocument, { input: { prompt: 'x' } }, true),
      query: '{ predictions(first: 1) { edges { node { id } } } }',
    };
    const refused = await (await post(smuggled)).json();
    expect(refused.errors[0].extensions.code).toBe('PERSISTED_QUERY_ONLY');
    expect(t.fake.creates).toHaveLength(1); // only the job from the first test
  });

  it('runs the subscription document by hash over SSE', async () => {
    const client = createVideoClient({ url: t.gw.url, persisted: true });
    const done = await client.generateAndWait({ prompt: 'watched by hash' });
    client.dispose();
    const body = requestBody(PredictionUpdatedDocument, { id: done.id }, true);
    const text = await (await post(body, 'text/event-stream')).text();
    // The resolver ran: the finished job's state, not an error about the hash.
    const event = text.split('\n').find((line) => line.startsWith('data: {'));
    expect(JSON.parse(event!.slice('data: '.length))).toEqual({
      data: { predictionUpdated: expect.objectContaining({ id: done.id, status: 'SUCCEEDED' }) },
    });
  });

  it("request() and subscribe(): the package's documents by hash; one of your own refused, saying why", async () => {
    const client = createVideoClient({ url: t.gw.url, persisted: true });
    // The package's own documents carry their hash, so they run here through request() too.
    const page = await client.request(PredictionsDocument, { first: 5 });
    expect(page.predictions.edges.length).toBeGreaterThan(0);

    type Mine = { predictions: { edges: { node: { id: string } }[] } };
    const mine = parse('query Mine { predictions(first: 1) { edges { node { id } } } }') as TypedDocumentNode<Mine>;
    const refused = await client.request(mine, {}).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(VideoClientError);
    expect((refused as VideoClientError).code).toBe('PERSISTED_QUERY_ONLY');
    expect((refused as VideoClientError).message).toContain(
      "Mine is not one of this package's operations, and this gateway (PERSISTED_OPERATIONS=only) runs only those",
    );

    const watch = parse(
      'subscription Watch($id: ID!) { predictionUpdated(id: $id) { id status } }',
    ) as TypedDocumentNode<{ predictionUpdated: { id: string } }, { id: string }>;
    const streamRefused = await (async () => {
      for await (const _ of client.subscribe(watch, { id: page.predictions.edges[0]!.node.id })) return 'a result';
      return 'completed';
    })().catch((error: unknown) => error);
    expect(streamRefused).toMatchObject({
      code: 'PERSISTED_QUERY_ONLY',
      message: expect.stringContaining('Watch is not'),
    });
    client.dispose();

    // The package's document, from a client not told to send hashes: the fix is named.
    const plain = createVideoClient({ url: t.gw.url });
    const unhashed = await plain.request(PredictionsDocument, { first: 1 }).catch((error: unknown) => error);
    expect((unhashed as VideoClientError).code).toBe('PERSISTED_QUERY_ONLY');
    expect((unhashed as VideoClientError).message).toContain('create the client with `persisted: true`');
    plain.dispose();
  });
});
