import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { persistedExchange } from '@urql/exchange-persisted';
import { createClient as createSseClient } from 'graphql-sse';
import { type ReactNode, useCallback, useEffect, useMemo, useRef, useState } from 'react';
import {
  Client,
  type CombinedError,
  cacheExchange,
  fetchExchange,
  Provider,
  subscriptionExchange,
  useClient,
  useMutation,
  useQuery,
  useSubscription,
} from 'urql';
import { MyPredictionsUpdatedDocument } from '../client/documents.ts';
import {
  abortedError,
  authorizationHeader,
  CancelPredictionDocument,
  CompleteUploadDocument,
  CreateUploadDocument,
  documentHash,
  type GenerateVideoInput,
  isFinished,
  jobMutation,
  newIdempotencyKey,
  type Prediction,
  PredictionDocument,
  PredictionsDocument,
  PredictionUpdatedDocument,
  sendUpload,
  sseFetch,
  type Token,
  type Upload,
  type UploadMediaOptions,
  type UploadProgress,
  type UploadSource,
  VideoClientError,
  type VideoJobInput,
} from '../client/index.ts';

export type {
  GenerateVideoInput,
  ImageToVideoInput,
  MediaReference,
  Mode,
  Prediction,
  ReferenceToVideoInput,
  Token,
  Upload,
  UploadMediaOptions,
  UploadProgress,
  UploadSource,
  VideoEditInput,
  VideoJobInput,
} from '../client/index.ts';
export { UploadRejectedError, VideoClientError } from '../client/index.ts';

export interface GatewayClientOptions {
  /** The gateway's GraphQL endpoint. */
  url: string;
  headers?: Record<string, string> | (() => Record<string, string>);
  /** A bearer token (JWT or hhk_ API key), or a function giving the current one; called per request. */
  token?: Token;
  /** Send only operation hashes (for gateways with PERSISTED_OPERATIONS=only). */
  persisted?: boolean;
  fetch?: typeof fetch;
}

/** The gateway refuses GET requests (persisted queries use them) without this header: its CSRF guard. */
const CSRF_HEADERS = { 'x-graphql-csrf': '1' };

/**
 * An urql client for the gateway: queries and mutations over fetch, subscriptions over Yoga's SSE
 * through the graphql-sse client. urql was chosen because it takes any transport for subscriptions
 * through one small exchange, has persisted operations as a maintained exchange, and is light.
 */
export function createGatewayClient({
  url,
  headers,
  token,
  persisted = false,
  fetch: fetchFn,
}: GatewayClientOptions): Client {
  const headersOf = () => ({ ...CSRF_HEADERS, ...(typeof headers === 'function' ? headers() : (headers ?? {})) });
  const sse = createSseClient({
    url,
    singleConnection: false,
    headers: async () => ({ ...headersOf(), ...(await authorizationHeader(token)) }),
    fetchFn: sseFetch(fetchFn ?? ((input, init) => globalThis.fetch(input, init))),
  });
  // urql reads fetchOptions synchronously, so a token (which may come from a promise) goes in through fetch.
  const baseFetch = fetchFn ?? ((input: RequestInfo | URL, init?: RequestInit) => globalThis.fetch(input, init));
  const authorizedFetch: typeof fetch = async (input, init) => {
    const merged = new Headers(init?.headers);
    for (const [name, value] of Object.entries(await authorizationHeader(token))) merged.set(name, value);
    return baseFetch(input, { ...init, headers: merged });
  };
  return new Client({
    url,
    fetch: token === undefined ? fetchFn : authorizedFetch,
    fetchOptions: () => ({ headers: headersOf() }),
    exchanges: [
      cacheExchange,
      ...(persisted
        ? [
            persistedExchange({
              enforcePersistedQueries: true,
              enableForMutation: true,
              enableForSubscriptions: true,
              generateHash: async (_query, document) => documentHash(document),
            }),
          ]
        : []),
      fetchExchange,
      subscriptionExchange({
        enableAllOperations: false,
        forwardSubscription: (request) => ({
          subscribe: (sink) => ({
            unsubscribe: sse.subscribe({ ...request, query: request.query ?? '' }, sink),
          }),
        }),
      }),
    ],
  });
}

/**
 * Puts a gateway client in context for the hooks below; pass `url` (and a `token` if the gateway
 * wants one), or a `client` of your own. A token function is called per request, so it may change
 * without a new client.
 */
export function VideoGatewayProvider(
  props: { children: ReactNode } & ({ url: string; persisted?: boolean; token?: Token } | { client: Client }),
) {
  const url = 'url' in props ? props.url : undefined;
  const persisted = 'persisted' in props ? props.persisted : undefined;
  const token = 'token' in props ? props.token : undefined;
  const given = 'client' in props ? props.client : undefined;
  const client = useMemo(
    () => given ?? createGatewayClient({ url: url!, persisted, token }),
    [given, url, persisted, token],
  );
  return <Provider value={client}>{props.children}</Provider>;
}

/** urql's error as the package's typed error, with the GraphQL `extensions.code`. */
export function toVideoClientError(error: CombinedError): VideoClientError {
  if (error.graphQLErrors.length > 0) {
    return VideoClientError.fromGraphQL(
      error.graphQLErrors.map((e) => ({ message: e.message, extensions: e.extensions })),
    );
  }
  return new VideoClientError(error.message, { code: 'NETWORK_ERROR', cause: error.networkError });
}

/**
 * The message for each input field of a BAD_USER_INPUT, by its path without `input.`: `duration`,
 * `prompt`, and for media `image.uploadId`, `images.2.uploadId`, `images` …
 */
export type FieldErrors = Partial<Record<keyof GenerateVideoInput | (string & {}), string>>;

/** For BAD_USER_INPUT: the message for each input field by its path (see FieldErrors). */
export function fieldErrors(error: VideoClientError | undefined): FieldErrors {
  if (error?.code !== 'BAD_USER_INPUT') return {};
  const issues = (error.extensions.issues ?? []) as { field: string; message: string }[];
  return Object.fromEntries(issues.map((issue) => [issue.field.replace(/^input\./, ''), issue.message]));
}

// urql's document cache refreshes queries by the __typenames in results. An empty list holds no
// Prediction, and persisted documents (run from the manifest) carry no __typename at all, so both
// sides name the type: every generateVideo then refreshes the lists.
const PREDICTION_TYPES = { additionalTypenames: ['Prediction'] };

export interface GenerateVideoState {
  prediction: Prediction | undefined;
  error: VideoClientError | undefined;
  fetching: boolean;
}

/** Identical input submitted again this soon is taken as the same click (a double click), not a new job. */
export const SAME_SUBMISSION_MS = 1_000;

/**
 * Submit a job of any mode: a GenerateVideoInput (text to video) as it is, or `{ mode: 'IMAGE_TO_VIDEO',
 * image, … }`, `{ mode: 'REFERENCE_TO_VIDEO', images, prompt, … }`, `{ mode: 'VIDEO_EDIT', video,
 * prompt, … }`, media as `{ uploadId }`, `{ url }` or the Upload useUpload gave. `generate` resolves
 * with the new prediction, or with the error (also in state). Each submission carries an
 * idempotencyKey (unless the input has one): fresh for a new submission, the same for identical input
 * within SAME_SUBMISSION_MS, so a double click makes one paid job.
 */
export function useGenerateVideo(): [
  GenerateVideoState,
  (input: VideoJobInput) => Promise<{ prediction?: Prediction; error?: VideoClientError }>,
] {
  const client = useClient();
  const [state, setState] = useState<GenerateVideoState>({ prediction: undefined, error: undefined, fetching: false });
  const last = useRef<{ input: string; key: string; at: number }>(undefined);
  // Only the latest submission writes state, as urql's useMutation does.
  const latest = useRef(0);
  const generate = useCallback(
    async (job: VideoJobInput) => {
      const { document, field, input } = jobMutation(job);
      const fingerprint = JSON.stringify([field, Object.entries(input).sort(([a], [b]) => (a < b ? -1 : 1))]);
      const now = Date.now();
      const again = last.current && last.current.input === fingerprint && now - last.current.at < SAME_SUBMISSION_MS;
      const key = input.idempotencyKey ?? (again ? last.current!.key : newIdempotencyKey());
      last.current = { input: fingerprint, key, at: now };
      const submission = ++latest.current;
      setState((previous) => ({ ...previous, fetching: true }));
      const result = await client
        .mutation(document, { input: { ...input, idempotencyKey: key } }, PREDICTION_TYPES)
        .toPromise();
      const outcome = result.error
        ? { error: toVideoClientError(result.error) }
        : { prediction: result.data?.[field]?.prediction };
      if (submission === latest.current)
        setState({ prediction: outcome.prediction, error: outcome.error, fetching: false });
      return outcome;
    },
    [client],
  );
  return [state, generate];
}

/** The stored state of one prediction (null for an unknown id). */
export function usePrediction(id: string | undefined) {
  const [result, reexecute] = useQuery({ query: PredictionDocument, variables: { id: id ?? '' }, pause: !id });
  const refetch = useCallback(() => reexecute({ requestPolicy: 'network-only' }), [reexecute]);
  return {
    prediction: result.data?.prediction ?? undefined,
    fetching: result.fetching,
    error: result.error ? toVideoClientError(result.error) : undefined,
    refetch,
  };
}

/**
 * Live updates of one prediction over SSE: its latest state, until it is done. With `progress`, the
 * state comes again every few seconds while the job runs, so `estimatedProgress` moves.
 */
export function usePredictionUpdates(id: string | undefined, { progress = false }: { progress?: boolean } = {}) {
  const [result] = useSubscription({
    query: PredictionUpdatedDocument,
    variables: { id: id ?? '', progress },
    pause: !id,
  });
  const prediction = result.data?.predictionUpdated;
  return {
    prediction,
    error: result.error ? toVideoClientError(result.error) : undefined,
    done: prediction ? isFinished(prediction) : false,
  };
}

/** Cancel a job: it ends CANCELED at once (Atlas has no cancel, so it may still run and be billed there). */
export function useCancelPrediction(): [
  { fetching: boolean; error: VideoClientError | undefined },
  (id: string) => Promise<Prediction | undefined>,
] {
  const [state, run] = useMutation(CancelPredictionDocument);
  const cancel = useCallback(async (id: string) => (await run({ id }, PREDICTION_TYPES)).data?.cancelPrediction, [run]);
  return [{ fetching: state.fetching, error: state.error ? toVideoClientError(state.error) : undefined }, cancel];
}

/**
 * Live changes of the caller's own predictions (every tab, client and gateway instance), as the latest
 * state of each by id. The gateway sends the caller's newest 50 at once (again on each reconnect),
 * then every change.
 */
export function useMyPredictionUpdates({ pause = false }: { pause?: boolean } = {}) {
  const [result] = useSubscription(
    { query: MyPredictionsUpdatedDocument, pause },
    (latest: ReadonlyMap<string, Prediction> | undefined, data) =>
      new Map(latest).set(data.myPredictionsUpdated.id, data.myPredictionsUpdated),
  );
  return {
    latest: result.data ?? (EMPTY as ReadonlyMap<string, Prediction>),
    error: result.error ? toVideoClientError(result.error) : undefined,
  };
}
const EMPTY: ReadonlyMap<string, Prediction> = new Map();

/** The fresher of two states of one prediction (updatedAt moves with every change). */
const fresher = (a: Prediction, b: Prediction) => (Date.parse(b.updatedAt) > Date.parse(a.updatedAt) ? b : a);
const newestFirst = (a: Prediction, b: Prediction) =>
  Date.parse(b.createdAt) - Date.parse(a.createdAt) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

/**
 * The caller's recent predictions, newest first, kept current: the list is read once, then each
 * change of the caller's own jobs (myPredictionsUpdated: one started or finished in another tab, or
 * by another client) updates it in place, and a new job joins it, with no refetch. `live: false`
 * reads the list only (refresh with `refetch`). An admin's list holds what they may see; only their
 * own jobs move live.
 */
export function useRecentPredictions(first = 10, { live = true }: { live?: boolean } = {}) {
  const [result, reexecute] = useQuery({
    query: PredictionsDocument,
    variables: { first },
    requestPolicy: 'cache-and-network',
    context: PREDICTION_TYPES,
  });
  const refetch = useCallback(() => reexecute({ requestPolicy: 'network-only' }), [reexecute]);
  const updates = useMyPredictionUpdates({ pause: !live });
  const listed = result.data?.predictions.edges;
  const predictions = useMemo(() => {
    const byId = new Map<string, Prediction>();
    for (const { node } of listed ?? []) byId.set(node.id, node);
    // Before the list has come, changes alone would show a partial list: wait for it.
    if (listed) {
      for (const [id, change] of updates.latest) {
        const known = byId.get(id);
        byId.set(id, known ? fresher(known, change) : change);
      }
    }
    return [...byId.values()].sort(newestFirst).slice(0, first);
  }, [listed, updates.latest, first]);
  return {
    predictions,
    fetching: result.fetching,
    error: result.error ? toVideoClientError(result.error) : undefined,
    /** The live stream's error (an older gateway without myPredictionsUpdated); the list still works. */
    liveError: updates.error,
    refetch,
  };
}

/**
 * The common case in one hook: submit, then follow live until done.
 * `elapsedMs` ticks while the job runs; `fieldErrors` maps bad input to its field.
 * `attach(id)` (or `{ id }` at first render) follows a job made earlier instead, e.g. one whose id a
 * page kept in its URL across a reload: its live state, or its final state if it has ended.
 */
export function useVideoGeneration({ id: initialId }: { id?: string | undefined } = {}) {
  const [submission, generate] = useGenerateVideo();
  const [, cancelPrediction] = useCancelPrediction();
  const [id, setId] = useState<string | undefined>(initialId);
  const updates = usePredictionUpdates(id, { progress: true });
  // Until the stream speaks for the new id, show what the mutation answered.
  const live = updates.prediction?.id === id ? updates.prediction : undefined;
  const prediction = id ? (live ?? (submission.prediction?.id === id ? submission.prediction : undefined)) : undefined;
  const error = submission.error ?? updates.error;
  const running = Boolean(prediction && !isFinished(prediction)) || submission.fetching;
  const now = useNow(running);

  const submit = useCallback(
    async (input: VideoJobInput) => {
      setId(undefined);
      const result = await generate(input);
      if (result.prediction) setId(result.prediction.id);
      return result;
    },
    [generate],
  );

  const startedAt = prediction ? Date.parse(prediction.createdAt) : undefined;
  const endedAt = prediction?.completedAt ? Date.parse(prediction.completedAt) : undefined;
  return {
    submit,
    /** The job followed: the one submitted last, or attached. */
    id,
    attach: setId as (id: string | undefined) => void,
    prediction,
    status: prediction?.status,
    error,
    fieldErrors: fieldErrors(error),
    submitting: submission.fetching,
    running,
    done: prediction ? isFinished(prediction) : false,
    elapsedMs: startedAt === undefined ? 0 : Math.max(0, (endedAt ?? now) - startedAt),
    /** 0..1, the gateway's estimate from recent jobs like this one; undefined before a job or after a failure. */
    progress: prediction?.estimatedProgress ?? undefined,
    /** When the job is likely done (an estimate); undefined once finished. */
    estimatedCompletionAt: prediction?.estimatedCompletionAt ? new Date(prediction.estimatedCompletionAt) : undefined,
    /** End the running job as CANCELED. */
    cancel: () => (id ? cancelPrediction(id) : Promise.resolve(undefined)),
    reset: () => setId(undefined),
  };
}

/** Where useUpload stands: `rejected` is the gateway refusing the bytes (error.rejectionReason says why). */
export type UseUploadStatus = 'idle' | 'uploading' | 'ready' | 'rejected' | 'failed' | 'aborted';

export interface UploadState {
  status: UseUploadStatus;
  /** Bytes sent so far, while uploading and after. */
  progress: UploadProgress | undefined;
  /** The READY upload: pass its id to a job. */
  result: Upload | undefined;
  /** An UploadRejectedError when rejected; BAD_USER_INPUT, ABORTED, NETWORK_ERROR … otherwise. */
  error: VideoClientError | undefined;
}

const IDLE: UploadState = { status: 'idle', progress: undefined, result: undefined, error: undefined };

/**
 * Send one file for jobs to use, with progress: the typed client's uploadMedia through the
 * provider's client (its token, headers and persisted mode). `upload` resolves with the READY upload
 * or the error (also in state); a new `upload` aborts the one still running, and `abort` stops it.
 * In browsers the bytes go with XMLHttpRequest, whose upload events give the progress.
 */
export function useUpload() {
  const client = useClient();
  const [state, setState] = useState<UploadState>(IDLE);
  const running = useRef<AbortController>(undefined);
  useEffect(() => () => running.current?.abort(), []);

  const upload = useCallback(
    async (
      source: UploadSource,
      options: UploadMediaOptions = {},
    ): Promise<{ upload?: Upload; error?: VideoClientError }> => {
      running.current?.abort();
      const controller = new AbortController();
      running.current = controller;
      const signal = options.signal ? AbortSignal.any([options.signal, controller.signal]) : controller.signal;
      // Only the latest upload writes state: an aborted earlier one settles quietly.
      const update = (next: Partial<UploadState>) => {
        if (running.current === controller) setState((previous) => ({ ...previous, ...next }));
      };
      update({ ...IDLE, status: 'uploading' });
      const mutate = async <Result, Variables extends Record<string, unknown>>(
        document: TypedDocumentNode<Result, Variables>,
        variables: Variables,
        stepSignal: AbortSignal | undefined,
      ): Promise<Result> => {
        // urql's fetch takes no signal of ours, so an abort stops the wait rather than the request.
        const result = await untilAborted(client.mutation(document, variables).toPromise(), stepSignal);
        if (result.error) throw toVideoClientError(result.error);
        return result.data!;
      };
      try {
        const ready = await sendUpload(
          {
            createUpload: async (input, stepSignal) =>
              (await mutate(CreateUploadDocument, { input }, stepSignal)).createUpload.upload,
            completeUpload: async (id, stepSignal) =>
              (await mutate(CompleteUploadDocument, { id }, stepSignal)).completeUpload,
            fetch: (input, init) => globalThis.fetch(input, init),
          },
          source,
          {
            ...options,
            signal,
            onProgress: (progress) => {
              update({ progress });
              options.onProgress?.(progress);
            },
          },
        );
        update({ status: 'ready', result: ready });
        return { upload: ready };
      } catch (caught) {
        const error =
          caught instanceof VideoClientError
            ? caught
            : new VideoClientError((caught as Error).message, { code: 'NETWORK_ERROR', cause: caught });
        const status: UseUploadStatus =
          error.code === 'UPLOAD_REJECTED' ? 'rejected' : error.code === 'ABORTED' ? 'aborted' : 'failed';
        update({ status, error });
        return { error };
      } finally {
        if (running.current === controller) running.current = undefined;
      }
    },
    [client],
  );
  const abort = useCallback(() => running.current?.abort(), []);
  const reset = useCallback(() => {
    running.current?.abort();
    running.current = undefined;
    setState(IDLE);
  }, []);
  return { upload, abort, reset, ...state, uploading: state.status === 'uploading' };
}

function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(abortedError(signal));
  return new Promise<T>((resolve, reject) => {
    const stop = () => reject(abortedError(signal));
    signal.addEventListener('abort', stop, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', stop));
  });
}

function useNow(ticking: boolean, everyMs = 250): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    setNow(Date.now());
    if (!ticking) return;
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [ticking, everyMs]);
  return now;
}
