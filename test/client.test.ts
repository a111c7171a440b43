import { beforeEach, describe, expect, it } from 'vitest';
import { createVideoClient, type Prediction, VideoClientError } from '../packages/client/src/client/index.ts';
import { bare, wrapped } from './support/fakeAtlas.ts';
import { eventually, gatewayFixture } from './support/gateway.ts';

describe('the typed client against a live gateway', () => {
  const t = gatewayFixture('pglite');
  beforeEach(() => t.fake.reset());

  it('stops watching when its signal aborts, and closes the stream', async () => {
    t.fake.newJob = (n) => ({ id: `slow_${n}`, script: [wrapped({ id: `slow_${n}`, status: 'processing' })] });
    const client = createVideoClient({ url: t.gw.url });
    const job = await client.generateVideo({ prompt: 'watch, then give up' });
    const controller = new AbortController();
    const seen: Prediction[] = [];
    expect(t.gw.gateway.events.openStreams).toBe(0);
    const watching = (async () => {
      for await (const update of client.watchPrediction(job.id, { signal: controller.signal })) {
        seen.push(update);
        expect(t.gw.gateway.events.openStreams).toBe(1);
        controller.abort();
      }
    })();
    await expect(watching).resolves.toBeUndefined();
    expect(seen.map((p) => p.status)).toEqual(['PROCESSING']);
    // The client closed the SSE request, so the gateway ended that subscription.
    await eventually(
      () => t.gw.gateway.events.openStreams,
      (open) => open === 0,
      3_000,
    );
    client.dispose();
  });

  it('generateAndWait throws the failure code and carries the failed prediction', async () => {
    t.fake.newJob = (n) => ({
      id: `bad_${n}`,
      script: [bare({ id: `bad_${n}`, status: 'failed', error: 'flagged', error_code: 1039 })],
    });
    const client = createVideoClient({ url: t.gw.url });
    const updates: string[] = [];
    const error = await client
      .generateAndWait({ prompt: 'not allowed' }, { onUpdate: (p) => updates.push(p.status) })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VideoClientError);
    expect((error as VideoClientError).code).toBe('CONTENT_POLICY');
    expect((error as VideoClientError).prediction).toMatchObject({
      status: 'FAILED',
      errorCode: 'CONTENT_POLICY',
      error: 'flagged',
    });
    expect(updates).toEqual(['PROCESSING', 'FAILED']);
  });

  it('reports bad input as BAD_USER_INPUT with the issues, and sends custom headers', async () => {
    const seenHeaders: string[] = [];
    const client = createVideoClient({
      url: t.gw.url,
      headers: () => ({ 'x-app-token': 'abc' }),
      fetch: (input, init) => {
        seenHeaders.push(new Headers(init?.headers).get('x-app-token') ?? '');
        return fetch(input, init);
      },
    });
    const error = await client.generateVideo({ prompt: 'x', duration: 20 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VideoClientError);
    expect((error as VideoClientError).code).toBe('BAD_USER_INPUT');
    expect((error as VideoClientError).extensions.issues).toEqual([
      { field: 'input.duration', message: 'must be from 3 to 15 seconds' },
    ]);
    expect(seenHeaders).toEqual(['abc']);
    expect(t.fake.creates).toHaveLength(0);
  });

  it('sends a fresh idempotency key with each submission, and the same one when it retries a lost answer', async () => {
    const keys: string[] = [];
    let dropNextAnswer = true;
    const client = createVideoClient({
      url: t.gw.url,
      fetch: async (input, init) => {
        const key = (JSON.parse(String(init?.body)) as { variables: { input?: { idempotencyKey: string } } }).variables
          .input?.idempotencyKey;
        if (key === undefined) return fetch(input, init);
        keys.push(key);
        const response = await fetch(input, init);
        // The gateway made the job, but its answer is lost on the way back.
        if (dropNextAnswer) {
          dropNextAnswer = false;
          throw new TypeError('fetch failed: socket hang up');
        }
        return response;
      },
    });
    const first = await client.generateVideo({ prompt: 'answer lost once' });
    expect(keys).toHaveLength(2);
    expect(keys[1]).toBe(keys[0]);
    expect(t.fake.creates).toHaveLength(1);
    expect(
      (await client.predictions({ first: 100 })).edges.filter((edge) => edge.node.prompt === 'answer lost once'),
    ).toHaveLength(1);
    expect(first.prompt).toBe('answer lost once');

    await client.generateVideo({ prompt: 'answer lost once' });
    expect(keys).toHaveLength(3);
    expect(keys[2]).not.toBe(keys[0]);
    expect(t.fake.creates).toHaveLength(2);
  });

  it('reports an unreachable gateway as NETWORK_ERROR', async () => {
    const client = createVideoClient({ url: 'http://127.0.0.1:9/graphql' });
    const error = await client.prediction('00000000-0000-4000-8000-000000000000').catch((e: unknown) => e);
    expect((error as VideoClientError).code).toBe('NETWORK_ERROR');
  });
});
