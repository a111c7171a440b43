/**
 * The React hooks (packages/client/src/react) against a live gateway: in-process, on a real socket, ONE_BACKEND, and the
 * fake Atlas over real HTTP. Hooks are rendered with @testing-library/react into a happy-dom document.
 *
 * Why this file does not ask for Vitest's happy-dom environment (the per-file environment docblock;
 * its tag is not spelled out here because Vitest obeys it even inside this comment): that
 * environment cannot host an in-process gateway.
 * 1. It puts every module of the file through Vite's *client* pipeline, whose asset plugin
 *    (vite:asset-import-meta-url) rewrites `new URL('./migrations', import.meta.url)` in
 *    src/db/database.ts into a root-relative URL that resolves to http://localhost:3000/src/db/migrations,
 *    so merely importing the gateway throws "The URL must be of scheme file".
 * 2. It replaces fetch, Request, Response, Headers, FormData, AbortController, AbortSignal, URL,
 *    URLSearchParams, Event, EventTarget … on globalThis for the whole file. The gateway's upstream
 *    calls (src/atlas/client.ts: global fetch, AbortSignal.timeout/any) would then go through
 *    happy-dom's fetch, which enforces a browser's same-origin policy from http://localhost:3000.
 *    Node's own fetch cannot be grabbed beforehand: the environment is installed before this file
 *    runs, and no built-in module exports undici's fetch (node:url and node:buffer give back only
 *    URL, URLSearchParams and Blob).
 *
 * So this file runs in Node's environment and puts a happy-dom Window on globalThis itself, adding
 * only the names Node lacks (window, document, navigator, HTMLElement, MutationObserver …) and leaving
 * Node's fetch, streams, AbortController and URL alone: the gateway runs on Node's platform as in
 * production. The urql client gets Node's fetch explicitly (createGatewayClient({ fetch })); its
 * response bodies stream, so graphql-sse reads the SSE subscription event by event.
 * @testing-library/react (and with it react-dom, which checks for a DOM when it is imported) is
 * imported only after the DOM is in place.
 */

import { Window } from 'happy-dom';
import { createElement, type ReactNode } from 'react';
import type { Client } from 'urql';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  documentHash,
  GenerateVideoDocument,
  type Prediction,
  PredictionsDocument,
  PredictionUpdatedDocument,
  type Upload,
  UploadRejectedError,
  type VideoClientError,
} from '../packages/client/src/client/index.ts';
import {
  createGatewayClient,
  fieldErrors,
  useGenerateVideo,
  usePrediction,
  usePredictionUpdates,
  useRecentPredictions,
  useUpload,
  useVideoGeneration,
  VideoGatewayProvider,
} from '../packages/client/src/react/index.tsx';
import { FakeAtlas, httpError, wrapped } from './support/fakeAtlas.ts';
import {
  eventually,
  letTimePass,
  ONE_BACKEND,
  openTestDatabase,
  startGateway,
  type TestDatabase,
  type TestGateway,
} from './support/gateway.ts';
import { jpeg, png } from './support/images.ts';

const dom = new Window({ url: 'http://localhost:3000/' });
const installed: string[] = [];
for (const key of Object.getOwnPropertyNames(dom)) {
  if (key in globalThis || ['self', 'top', 'parent', 'frames'].includes(key)) continue;
  const value = (dom as unknown as Record<string, unknown>)[key];
  const bound =
    typeof value === 'function' && !/^[A-Z]/.test(key) ? (value as (...args: unknown[]) => unknown).bind(dom) : value;
  Object.defineProperty(globalThis, key, { configurable: true, writable: true, value: key === 'window' ? dom : bound });
  installed.push(key);
}
const nodeFetch = globalThis.fetch; // Node's own (undici): untouched above, since Node has it.

const { act, cleanup, configure, renderHook, waitFor } = await import('@testing-library/react');
// waitFor waits for an event (a reply, a stream's change), not to measure how soon: its default of
// 1 s failed under load (a first query took longer), so each waits up to 20 s and passes at once.
configure({ asyncUtilTimeout: 20_000 });

const FIELDS = `id status prompt model resolution aspectRatio duration seed upstreamId outputs videoUrl
  error errorCode predictTime createdAt updatedAt completedAt`;
const GENERATE = `mutation Generate($input: GenerateVideoInput!) { generateVideo(input: $input) { prediction { ${FIELDS} } } }`;
const PREDICTION = `query One($id: ID!) { prediction(id: $id) { ${FIELDS} } }`;
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

interface StoredPrediction {
  id: string;
  status: string;
  videoUrl: string | null;
  errorCode: string | null;
  [field: string]: unknown;
}

const videoUrl = (upstreamId: string) => `https://cdn.example/hooks/${upstreamId}.mp4`;
/** Consecutive duplicates dropped: the sequence of distinct values a hook went through. */
const transitions = <T>(values: T[]) => values.filter((value, i) => i === 0 || value !== values[i - 1]);

function wrapperFor(client: Client) {
  return ({ children }: { children: ReactNode }) => createElement(VideoGatewayProvider, { client, children });
}

let fake: FakeAtlas;
let db: TestDatabase;
let gw: TestGateway;
/** A second gateway, with PERSISTED_OPERATIONS=only, on the same database (gateways share a database by design). */
let persistedGw: TestGateway;

/** New upstream jobs stay PROCESSING, poll after poll, until `finish` flips them. */
function holdJobs() {
  fake.newJob = (n) => ({ id: `job_${n}`, script: [wrapped({ id: `job_${n}`, status: 'processing' })] });
}
function finish(upstreamId: string) {
  fake.statusScripts.set(upstreamId, [
    wrapped({ id: upstreamId, status: 'completed', outputs: [videoUrl(upstreamId)], metrics: { predict_time: 1.5 } }),
  ]);
}

async function seed(prompt: string): Promise<StoredPrediction> {
  const result = await gw.request<{ generateVideo: { prediction: StoredPrediction } }>(GENERATE, { input: { prompt } });
  expect(result.errors).toBeUndefined();
  return result.data!.generateVideo.prediction;
}
async function stored(id: string): Promise<StoredPrediction | null> {
  const result = await gw.request<{ prediction: StoredPrediction | null }>(PREDICTION, { id });
  return result.data?.prediction ?? null;
}

beforeAll(async () => {
  [fake, db] = await Promise.all([FakeAtlas.start(), openTestDatabase(ONE_BACKEND)]);
  [gw, persistedGw] = await Promise.all([
    startGateway({ database: db.database, atlasUrl: fake.url }),
    startGateway({ database: db.database, atlasUrl: fake.url, env: { PERSISTED_OPERATIONS: 'only' } }),
  ]);
});
afterAll(async () => {
  cleanup();
  await Promise.all([gw?.close(), persistedGw?.close()]);
  await Promise.all([fake?.close(), db?.close()]);
  await dom.happyDOM.abort();
  dom.close();
  for (const key of installed) delete (globalThis as Record<string, unknown>)[key];
});
beforeEach(async () => {
  fake.reset();
  await db.truncate();
});
// Unmounting ends every query and closes every SSE stream the hooks opened.
afterEach(() => cleanup());

describe('useVideoGeneration', () => {
  it('submits, follows the job live to SUCCEEDED, and ticks elapsedMs only while it runs', async () => {
    holdJobs();
    const client = createGatewayClient({ url: gw.url, fetch: nodeFetch });
    const seen: { status: string | undefined; running: boolean; done: boolean; elapsedMs: number }[] = [];
    const { result } = renderHook(
      () => {
        const generation = useVideoGeneration();
        seen.push({
          status: generation.status,
          running: generation.running,
          done: generation.done,
          elapsedMs: generation.elapsedMs,
        });
        return generation;
      },
      { wrapper: wrapperFor(client) },
    );
    expect(result.current).toMatchObject({ status: undefined, running: false, done: false, elapsedMs: 0 });

    let submitted: Awaited<ReturnType<typeof result.current.submit>> | undefined;
    await act(async () => {
      submitted = await result.current.submit({ prompt: 'a horse in the snow', duration: 3 });
    });
    expect(submitted?.error).toBeUndefined();
    const id = submitted?.prediction?.id;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(result.current.status).toBe('PROCESSING');
    expect(result.current.running).toBe(true);
    expect(result.current.prediction).toMatchObject({
      id,
      duration: 3,
      prompt: 'a horse in the snow',
      upstreamId: 'job_1',
    });
    expect(fake.creates).toHaveLength(1);
    expect(fake.creates[0]!.body).toMatchObject({ prompt: 'a horse in the snow', duration: 3 });

    // The clock ticks every 250 ms while the job runs: wait for at least two ticks, still PROCESSING.
    const firstElapsed = result.current.elapsedMs;
    await waitFor(() => expect(result.current.elapsedMs).toBeGreaterThanOrEqual(firstElapsed + 450));
    expect(result.current.status).toBe('PROCESSING');
    expect(result.current.running).toBe(true);
    expect(fake.statusCalls('job_1').length).toBeGreaterThanOrEqual(2);

    finish('job_1');
    await waitFor(() => expect(result.current.status).toBe('SUCCEEDED'));
    const done = result.current;
    expect(done.running).toBe(false);
    expect(done.done).toBe(true);
    expect(done.error).toBeUndefined();
    expect(done.prediction?.id).toBe(id);
    expect(done.prediction?.videoUrl).toBe(videoUrl('job_1'));
    // Once done, elapsed is the job's own span, and it no longer grows.
    const span = Date.parse(done.prediction!.completedAt!) - Date.parse(done.prediction!.createdAt);
    expect(done.elapsedMs).toBe(span);
    // Time is the subject: the hook's clock (it re-renders elapsedMs while running) must have stopped.
    await letTimePass(600);
    expect(result.current.elapsedMs).toBe(span);

    // Every render, in order: nothing, then PROCESSING (running), then SUCCEEDED (done) and nothing after.
    expect(transitions(seen.map((s) => s.status))).toEqual([undefined, 'PROCESSING', 'SUCCEEDED']);
    const processing = seen.filter((s) => s.status === 'PROCESSING');
    expect(processing.every((s) => s.running && !s.done)).toBe(true);
    expect(
      seen.filter((s) => s.status === 'SUCCEEDED').every((s) => !s.running && s.done && s.elapsedMs === span),
    ).toBe(true);
    const ticks = processing.map((s) => s.elapsedMs);
    expect(ticks).toEqual([...ticks].sort((a, b) => a - b));
  });

  it('maps bad input to its field and submits nothing', async () => {
    const client = createGatewayClient({ url: gw.url, fetch: nodeFetch });
    const { result } = renderHook(() => useVideoGeneration(), { wrapper: wrapperFor(client) });

    let submitted: Awaited<ReturnType<typeof result.current.submit>> | undefined;
    await act(async () => {
      submitted = await result.current.submit({ prompt: 'x', duration: 2 });
    });
    expect(submitted?.prediction).toBeUndefined();
    expect(submitted?.error?.code).toBe('BAD_USER_INPUT');
    expect(result.current.error?.code).toBe('BAD_USER_INPUT');
    expect(result.current.fieldErrors.duration).toContain('from 3 to 15 seconds');
    expect(result.current.fieldErrors.prompt).toBeUndefined();
    expect(result.current.prediction).toBeUndefined();
    expect(result.current.status).toBeUndefined();
    expect(result.current.running).toBe(false);
    expect(fake.creates).toHaveLength(0);
  });
});

describe('useGenerateVideo', () => {
  it('resolves an upstream 402 as INSUFFICIENT_BALANCE with the stored predictionId', async () => {
    fake.createReplies.push(httpError(402, 'not enough credit'));
    const client = createGatewayClient({ url: gw.url, fetch: nodeFetch });
    const { result } = renderHook(() => useGenerateVideo(), { wrapper: wrapperFor(client) });

    let outcome: { prediction?: unknown; error?: VideoClientError } | undefined;
    await act(async () => {
      outcome = await result.current[1]({ prompt: 'an expensive horse' });
    });
    expect(outcome?.prediction).toBeUndefined();
    expect(outcome?.error?.code).toBe('INSUFFICIENT_BALANCE');
    const predictionId = outcome?.error?.extensions.predictionId;
    expect(predictionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(result.current[0].error?.code).toBe('INSUFFICIENT_BALANCE');
    expect(result.current[0].prediction).toBeUndefined();
    expect(result.current[0].fetching).toBe(false);
    expect(fake.creates).toHaveLength(1);
    // The id points at the job the gateway stored as FAILED.
    expect(await stored(predictionId as string)).toMatchObject({ status: 'FAILED', errorCode: 'INSUFFICIENT_BALANCE' });
  });
});

describe('useGenerateVideo in every mode', () => {
  it('submits image to video with the Upload useUpload gave, then references, then an edit, each to its mutation', async () => {
    const client = createGatewayClient({ url: gw.url, fetch: nodeFetch });
    const { result } = renderHook(() => ({ upload: useUpload(), generation: useGenerateVideo() }), {
      wrapper: wrapperFor(client),
    });
    let image: Upload | undefined;
    await act(async () => {
      image = (await result.current.upload.upload(png(640, 480), { filename: 'frame.png' })).upload;
    });
    expect(image?.status).toBe('READY');

    let outcome: { prediction?: Prediction; error?: VideoClientError } = {};
    await act(async () => {
      outcome = await result.current.generation[1]({ mode: 'IMAGE_TO_VIDEO', image: image!, duration: 3 });
    });
    expect(outcome.error).toBeUndefined();
    expect(outcome.prediction).toMatchObject({ mode: 'IMAGE_TO_VIDEO', duration: 3 });
    expect(outcome.prediction?.media).toEqual([expect.objectContaining({ role: 'IMAGE', uploadId: image!.id })]);
    expect(result.current.generation[0].prediction?.id).toBe(outcome.prediction?.id);
    expect(fake.creates.at(-1)!.body).toMatchObject({ image_url: expect.any(String), duration: 3 });

    await act(async () => {
      outcome = await result.current.generation[1]({
        mode: 'REFERENCE_TO_VIDEO',
        images: [{ url: 'https://cdn.example.com/rider.png' }, image!],
        prompt: 'character1 rides beside character2',
      });
    });
    expect(outcome.error).toBeUndefined();
    expect(outcome.prediction?.mode).toBe('REFERENCE_TO_VIDEO');
    expect(outcome.prediction?.media.map((media) => media.uploadId)).toEqual([null, image!.id]);

    await act(async () => {
      outcome = await result.current.generation[1]({
        mode: 'VIDEO_EDIT',
        video: { url: 'https://cdn.example.com/ride.mp4' },
        prompt: 'make it snow',
      });
    });
    expect(outcome.prediction?.mode).toBe('VIDEO_EDIT');
    expect(fake.creates).toHaveLength(3);

    // A refusal names the media field, and nothing is sent.
    await act(async () => {
      outcome = await result.current.generation[1]({
        mode: 'IMAGE_TO_VIDEO',
        image: { url: 'http://cdn.example.com/a.png' },
      });
    });
    expect(outcome.error?.code).toBe('BAD_USER_INPUT');
    expect(result.current.generation[0].error?.code).toBe('BAD_USER_INPUT');
    expect(Object.keys(fieldErrors(outcome.error))).toEqual(['image.url']);
    expect(fake.creates).toHaveLength(3);
  });
});

describe('useGenerateVideo and double clicks', () => {
  it('makes one job of a double click (identical input at once), and a new one for new input', async () => {
    holdJobs();
    const client = createGatewayClient({ url: gw.url, fetch: nodeFetch });
    const { result } = renderHook(() => useGenerateVideo(), { wrapper: wrapperFor(client) });

    let clicks: { prediction?: { id: string } }[] = [];
    await act(async () => {
      clicks = await Promise.all([
        result.current[1]({ prompt: 'one click' }),
        result.current[1]({ prompt: 'one click' }),
      ]);
    });
    expect(clicks[0]!.prediction?.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(clicks[1]!.prediction?.id).toBe(clicks[0]!.prediction?.id);
    expect(fake.creates).toHaveLength(1);

    let other: { prediction?: { id: string } } = {};
    await act(async () => {
      other = await result.current[1]({ prompt: 'another video' });
    });
    expect(other.prediction?.id).not.toBe(clicks[0]!.prediction?.id);
    expect(fake.creates).toHaveLength(2);
  });
});

describe('usePrediction', () => {
  it('returns the stored prediction', async () => {
    const { id } = await seed('a stored horse');
    const finished = await eventually(
      () => stored(id),
      (p) => p?.status === 'SUCCEEDED',
    );
    const client = createGatewayClient({ url: gw.url, fetch: nodeFetch });
    const { result } = renderHook(() => usePrediction(id), { wrapper: wrapperFor(client) });

    await waitFor(() => expect(result.current.prediction).toBeDefined());
    expect(result.current.prediction).toMatchObject(finished!);
    expect(result.current.prediction?.videoUrl).toBe('https://cdn.example/job_1.mp4');
    expect(result.current.error).toBeUndefined();
    expect(result.current.fetching).toBe(false);
  });

  it('returns no prediction and no error for an unknown id', async () => {
    const client = createGatewayClient({ url: gw.url, fetch: nodeFetch });
    const seen: { fetching: boolean; hasPrediction: boolean; hasError: boolean }[] = [];
    const { result } = renderHook(
      () => {
        const state = usePrediction(UNKNOWN_ID);
        seen.push({
          fetching: state.fetching,
          hasPrediction: state.prediction !== undefined,
          hasError: state.error !== undefined,
        });
        return state;
      },
      { wrapper: wrapperFor(client) },
    );

    // The query went out and came back (fetching true, then false) …
    await waitFor(() => {
      expect(seen.some((s) => s.fetching)).toBe(true);
      expect(result.current.fetching).toBe(false);
    });
    // … with prediction: null from the gateway, shown as undefined, and no error at any point.
    expect(result.current.prediction).toBeUndefined();
    expect(result.current.error).toBeUndefined();
    expect(seen.some((s) => s.hasPrediction || s.hasError)).toBe(false);
  });
});

describe('usePredictionUpdates', () => {
  it('follows an existing job to SUCCEEDED, then reports done', async () => {
    holdJobs();
    const { id } = await seed('a live horse');
    const client = createGatewayClient({ url: gw.url, fetch: nodeFetch });
    const seen: { status: string | undefined; done: boolean }[] = [];
    const { result } = renderHook(
      () => {
        const updates = usePredictionUpdates(id);
        seen.push({ status: updates.prediction?.status, done: updates.done });
        return updates;
      },
      { wrapper: wrapperFor(client) },
    );

    await waitFor(() => expect(result.current.prediction?.status).toBe('PROCESSING'));
    expect(result.current.done).toBe(false);
    expect(result.current.prediction?.id).toBe(id);

    finish('job_1');
    await waitFor(() => expect(result.current.done).toBe(true));
    expect(result.current.prediction).toMatchObject({ id, status: 'SUCCEEDED', videoUrl: videoUrl('job_1') });
    expect(result.current.error).toBeUndefined();
    expect(transitions(seen.map((s) => s.status))).toEqual([undefined, 'PROCESSING', 'SUCCEEDED']);
    expect(seen.filter((s) => s.status !== 'SUCCEEDED').every((s) => !s.done)).toBe(true);
  });

  it('reports NOT_FOUND for an unknown id', async () => {
    const client = createGatewayClient({ url: gw.url, fetch: nodeFetch });
    const { result } = renderHook(() => usePredictionUpdates(UNKNOWN_ID), { wrapper: wrapperFor(client) });

    await waitFor(() => expect(result.current.error?.code).toBe('NOT_FOUND'));
    expect(result.current.prediction).toBeUndefined();
    expect(result.current.done).toBe(false);
  });
});

describe('useRecentPredictions', () => {
  it('lists jobs newest first, and refreshes after each submission, from an empty list on', async () => {
    const client = createGatewayClient({ url: gw.url, fetch: nodeFetch });
    const { result } = renderHook(() => ({ recent: useRecentPredictions(5), generation: useGenerateVideo() }), {
      wrapper: wrapperFor(client),
    });
    const listed = () => result.current.recent.predictions.map((p) => p.id);
    const generate = async (prompt: string) => {
      let id: string | undefined;
      await act(async () => {
        id = (await result.current.generation[1]({ prompt })).prediction?.id;
      });
      expect(id).toBeDefined();
      return id!;
    };

    await waitFor(() => expect(result.current.recent.fetching).toBe(false));
    expect(listed()).toEqual([]);
    expect(result.current.recent.error).toBeUndefined();

    // An empty list holds no Prediction for urql to key on: it must still refresh after a submission.
    const first = await generate('horse number 1');
    await waitFor(() => expect(listed()).toEqual([first]));

    // Jobs made elsewhere show up on refetch: the newest five, newest first.
    const ids = [first];
    for (let i = 2; i <= 6; i++) ids.push((await seed(`horse number ${i}`)).id);
    act(() => result.current.recent.refetch());
    await waitFor(() => expect(listed()).toEqual([...ids].reverse().slice(0, 5)));
    expect(result.current.recent.predictions.map((p) => p.prompt)).toEqual(
      [6, 5, 4, 3, 2].map((n) => `horse number ${n}`),
    );

    const seventh = await generate('horse number 7');
    await waitFor(() => expect(listed()).toEqual([seventh, ...[...ids].reverse().slice(0, 4)]));
    expect(result.current.recent.error).toBeUndefined();
  });

  it('shows a job made by another client of the same caller, and each change of it to its end, with no refetch', async () => {
    const older = await seed('an older horse');
    const client = createGatewayClient({ url: gw.url, fetch: nodeFetch });
    const { result } = renderHook(() => useRecentPredictions(3), { wrapper: wrapperFor(client) });
    await waitFor(() => expect(result.current.predictions.map((p) => p.id)).toEqual([older.id]));
    const elsewhere = await seed('a horse from another tab');
    await waitFor(() =>
      expect(result.current.predictions.map((p) => [p.id, p.prompt, p.status])[0]).toEqual([
        elsewhere.id,
        'a horse from another tab',
        'SUCCEEDED',
      ]),
    );
    expect(result.current.predictions.map((p) => p.id)).toEqual([elsewhere.id, older.id]);
    expect(result.current.liveError).toBeUndefined();
  });
});

describe('with PERSISTED_OPERATIONS=only', () => {
  /** Node's fetch, noting what each request to the gateway carried and whether an SSE stream answered. */
  function recordingFetch() {
    const sent: { hash: string | undefined; query: string | undefined; sse: boolean }[] = [];
    const fetchFn: typeof fetch = async (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      const params =
        (init?.method ?? 'GET') === 'GET'
          ? { query: url.searchParams.get('query'), extensions: JSON.parse(url.searchParams.get('extensions') ?? '{}') }
          : JSON.parse(String(init?.body));
      const response = await nodeFetch(input, init);
      sent.push({
        hash: params.extensions?.persistedQuery?.sha256Hash,
        query: params.query || undefined,
        // urql's fetchExchange also *accepts* text/event-stream, so tell the transports apart by the answer.
        sse: (response.headers.get('content-type') ?? '').startsWith('text/event-stream'),
      });
      return response;
    };
    return { sent, fetchFn };
  }

  it('runs queries, the mutation and the SSE subscription by hash, to SUCCEEDED', async () => {
    const { sent, fetchFn } = recordingFetch();
    const client = createGatewayClient({ url: persistedGw.url, persisted: true, fetch: fetchFn });
    const { result } = renderHook(() => ({ generation: useVideoGeneration(), recent: useRecentPredictions(5) }), {
      wrapper: wrapperFor(client),
    });
    await waitFor(() => expect(result.current.recent.fetching).toBe(false));
    expect(result.current.recent.error).toBeUndefined();

    let submitted: Awaited<ReturnType<typeof result.current.generation.submit>> | undefined;
    await act(async () => {
      submitted = await result.current.generation.submit({ prompt: 'a persisted horse', duration: 3 });
    });
    expect(submitted?.error).toBeUndefined();
    await waitFor(() => expect(result.current.generation.status).toBe('SUCCEEDED'));
    expect(result.current.generation.error).toBeUndefined();
    expect(result.current.generation.prediction?.videoUrl).toBe('https://cdn.example/job_1.mp4');
    // A refetch by hash reads the job back.
    act(() => result.current.recent.refetch());
    await waitFor(() =>
      expect(result.current.recent.predictions.map((p) => [p.id, p.status])).toEqual([
        [submitted?.prediction?.id, 'SUCCEEDED'],
      ]),
    );

    // Every request named a manifest hash and carried no document; each kind of operation went out.
    expect(sent.length).toBeGreaterThanOrEqual(3);
    expect(sent.every((s) => s.hash !== undefined && s.query === undefined)).toBe(true);
    expect(sent.some((s) => s.hash === documentHash(PredictionsDocument) && !s.sse)).toBe(true);
    expect(sent.some((s) => s.hash === documentHash(GenerateVideoDocument) && !s.sse)).toBe(true);
    expect(sent.some((s) => s.hash === documentHash(PredictionUpdatedDocument) && s.sse)).toBe(true);
  });

  // urql refreshes the list when a result holds a Prediction, which it learns from `__typename`; the
  // manifest's documents have none, so this rests on the hooks naming the type themselves.
  it('refreshes the recent list after a submission, as in open mode', async () => {
    const client = createGatewayClient({ url: persistedGw.url, persisted: true, fetch: nodeFetch });
    const { result } = renderHook(() => ({ recent: useRecentPredictions(5), generation: useGenerateVideo() }), {
      wrapper: wrapperFor(client),
    });
    await waitFor(() => expect(result.current.recent.fetching).toBe(false));
    let newId: string | undefined;
    await act(async () => {
      newId = (await result.current.generation[1]({ prompt: 'a listed horse' })).prediction?.id;
    });
    expect(newId).toBeDefined();
    await waitFor(() => expect(result.current.recent.predictions.map((p) => p.id)).toEqual([newId]));
  });

  it('is refused with PERSISTED_QUERY_ONLY when the client sends documents', async () => {
    const client = createGatewayClient({ url: persistedGw.url, persisted: false, fetch: nodeFetch });
    const { result } = renderHook(() => useVideoGeneration(), { wrapper: wrapperFor(client) });

    let submitted: Awaited<ReturnType<typeof result.current.submit>> | undefined;
    await act(async () => {
      submitted = await result.current.submit({ prompt: 'an unlisted horse', duration: 3 });
    });
    expect(submitted?.prediction).toBeUndefined();
    expect(submitted?.error?.code).toBe('PERSISTED_QUERY_ONLY');
    expect(result.current.error?.code).toBe('PERSISTED_QUERY_ONLY');
    expect(result.current.prediction).toBeUndefined();
    expect(result.current.running).toBe(false);
    expect(fake.creates).toHaveLength(0);
  });
});

describe('useUpload', () => {
  it('uploads with progress to READY, then reports a file whose bytes disagree with its type as rejected', async () => {
    const client = createGatewayClient({ url: gw.url, fetch: nodeFetch });
    const { result } = renderHook(() => useUpload(), { wrapper: wrapperFor(client) });
    expect(result.current.status).toBe('idle');

    // The first 100 bytes, then the rest once the test has seen the upload under way.
    const bytes = jpeg(640, 360);
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let sentHead = false;
    const source = new ReadableStream<Uint8Array>({
      async pull(stream) {
        if (!sentHead) {
          sentHead = true;
          return stream.enqueue(new Uint8Array(bytes.subarray(0, 100)));
        }
        await held;
        stream.enqueue(new Uint8Array(bytes.subarray(100)));
        stream.close();
      },
    });
    let running: ReturnType<typeof result.current.upload> | undefined;
    act(() => {
      running = result.current.upload(source, { filename: 'horse.jpg', byteSize: bytes.length });
    });
    await waitFor(() => expect(result.current.progress).toEqual({ loaded: 100, total: bytes.length }));
    expect(result.current.status).toBe('uploading');
    expect(result.current.result).toBeUndefined();
    release();
    let outcome: Awaited<ReturnType<typeof result.current.upload>> | undefined;
    await act(async () => {
      outcome = await running;
    });
    expect(outcome?.error).toBeUndefined();
    expect(outcome?.upload).toMatchObject({ status: 'READY', width: 640, height: 360, filename: 'horse.jpg' });
    expect(result.current.status).toBe('ready');
    expect(result.current.result?.id).toBe(outcome?.upload?.id);
    expect(result.current.progress).toEqual({ loaded: bytes.length, total: bytes.length });

    await act(async () => {
      outcome = await result.current.upload(png(200, 200), { contentType: 'image/webp' });
    });
    expect(result.current.status).toBe('rejected');
    expect(result.current.result).toBeUndefined();
    expect(result.current.error).toBeInstanceOf(UploadRejectedError);
    expect((result.current.error as UploadRejectedError).rejectionReason).toBe(
      'contentType: declared image/webp, but the bytes are a PNG image (image/png)',
    );
  });

  it('abort() stops an upload mid-PUT: aborted, and not READY', async () => {
    const client = createGatewayClient({ url: gw.url, fetch: nodeFetch });
    const { result } = renderHook(() => useUpload(), { wrapper: wrapperFor(client) });
    const image = jpeg(640, 360);
    let given = false;
    const stalled = new ReadableStream<Uint8Array>({
      pull(stream) {
        if (!given) {
          given = true;
          stream.enqueue(new Uint8Array(image.subarray(0, 100)));
        }
        return new Promise(() => {});
      },
    });
    let outcome: Awaited<ReturnType<typeof result.current.upload>> | undefined;
    await act(async () => {
      outcome = await result.current.upload(stalled, {
        contentType: 'image/jpeg',
        byteSize: image.length,
        onProgress: ({ loaded }) => loaded > 0 && result.current.abort(),
      });
    });
    expect(outcome?.error?.code).toBe('ABORTED');
    expect(result.current.status).toBe('aborted');
    expect(result.current.progress).toEqual({ loaded: 100, total: image.length });
  });

  it('uploads by hash with PERSISTED_OPERATIONS=only (createUpload and completeUpload are in the manifest)', async () => {
    const client = createGatewayClient({ url: persistedGw.url, persisted: true, fetch: nodeFetch });
    const { result } = renderHook(() => useUpload(), { wrapper: wrapperFor(client) });
    await act(async () => {
      await result.current.upload(png(300, 200), { filename: 'persisted.png' });
    });
    expect(result.current.error).toBeUndefined();
    expect(result.current.result).toMatchObject({ status: 'READY', contentType: 'image/png', width: 300 });
  });
});
