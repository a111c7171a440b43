import type { ResultOf, TypedDocumentNode, VariablesOf } from '@graphql-typed-document-node/core';
import { type DocumentNode, type GraphQLFormattedError, Kind, type OperationTypeNode, print } from 'graphql';
import { createClient as createSseClient } from 'graphql-sse';
import {
  CancelPredictionDocument,
  CompleteUploadDocument,
  CreateUploadDocument,
  PredictionDocument,
  PredictionsDocument,
  PredictionUpdatedDocument,
  UploadDocument,
  ViewerDocument,
} from './documents.ts';
import { unreachableMessage, VideoClientError } from './errors.ts';
import type {
  GenerateVideoInput,
  PredictionFieldsFragment,
  PredictionsQuery,
  PredictionsQueryVariables,
  PredictionUpdatedSubscription,
  ViewerQuery,
} from './generated/graphql.ts';
import {
  type ImageToVideoInput,
  jobMutation,
  type ReferenceToVideoInput,
  type VideoEditInput,
  type VideoJobInput,
} from './modes.ts';
import { isFinished } from './status.ts';
import { abortedError, sendUpload, type Upload, type UploadMediaOptions, type UploadSource } from './upload.ts';

export type { ResultOf, TypedDocumentNode, VariablesOf } from '@graphql-typed-document-node/core';
export * from './documents.ts';
export { UploadRejectedError, VideoClientError } from './errors.ts';
export type {
  AspectRatio,
  AudioSetting,
  CreateUploadInput,
  EditVideoInput,
  GenerateVideoFromImageInput,
  GenerateVideoFromReferencesInput,
  GenerateVideoInput,
  MediaInput,
  MediaRole,
  Mode,
  PredictionStatus,
  PredictionsQuery,
  PredictionsQueryVariables,
  Resolution,
  UploadStatus,
  ViewerQuery,
} from './generated/graphql.ts';
export {
  type ImageToVideoInput,
  jobMutation,
  type MediaReference,
  type ReferenceToVideoInput,
  toMediaInput,
  type VideoEditInput,
  type VideoJobInput,
} from './modes.ts';
export {
  abortedError,
  describeUpload,
  sendUpload,
  type Upload,
  type UploadMediaOptions,
  type UploadProgress,
  type UploadSource,
  type UploadSteps,
} from './upload.ts';

export type Prediction = PredictionFieldsFragment;
export type Viewer = ViewerQuery['viewer'];
export type PredictionConnection = PredictionsQuery['predictions'];
type Headers = Record<string, string>;

export interface VideoClientOptions {
  /** The gateway's GraphQL endpoint, e.g. https://videos.example.com/graphql */
  url: string;
  /** Sent with every request; a function is called per request (for short-lived tokens). */
  headers?: Headers | (() => Headers | Promise<Headers>);
  /**
   * A bearer token for the gateway: a JWT from your identity provider or an API key (hhk_…). A
   * function is called per request, so a fresh token is always sent.
   */
  token?: Token;
  /** A fetch to use instead of the global one. */
  fetch?: typeof fetch;
  /** Send only the hash of each operation (for gateways with PERSISTED_OPERATIONS=only). */
  persisted?: boolean;
}

/** A bearer token, or a function that gives the current one (undefined: send none). */
export type Token = string | (() => string | undefined | Promise<string | undefined>);

export interface WatchOptions {
  signal?: AbortSignal;
  /** Also get the state again every few seconds while the job runs, so estimatedProgress moves. */
  progress?: boolean;
}

export interface GenerateAndWaitOptions extends WatchOptions {
  /** Called with the submitted prediction, then with every change. */
  onUpdate?: (prediction: Prediction) => void;
}

/**
 * Any typed GraphQL document: what graphql-codegen's client preset (or this package) generates, or
 * `parse(...)` cast to `TypedDocumentNode<Result, Variables>`. Result and variables are read from it.
 */
// `never` variables: every document's `(variables: V) => R` is assignable to it, whatever V is.
export type AnyTypedDocument = TypedDocumentNode<unknown, never>;

export interface RequestOptions {
  signal?: AbortSignal;
  /**
   * Send again (after 250 ms, then 1 s) when no answer came or the gateway was briefly unable to
   * answer, as submissions are. On by default for queries; off for mutations, which could then run
   * twice: turn it on only for one that is safe to repeat (one with an idempotencyKey, say).
   */
  retry?: boolean;
}

export interface SubscribeOptions {
  /** Aborting ends the subscription quietly: the iteration ends, no error. */
  signal?: AbortSignal;
}

export interface SubscriptionHandlers<Result> extends SubscribeOptions {
  /** Each result, as typed by the document. */
  next(data: Result): void;
  /** A GraphQL error (NOT_FOUND …) or a stream that failed for good; nothing follows it. */
  error(error: VideoClientError): void;
  /** The gateway ended the subscription (predictionUpdated does after a terminal state). */
  complete?(): void;
}

export { isFinished, TERMINAL_STATUSES } from './status.ts';

export interface VideoClient {
  /**
   * Submit a job. Throws a VideoClientError with BAD_USER_INPUT, a limit's code or an upstream code if
   * it is refused. Each call sends a fresh idempotencyKey (unless the input has one) and retries a
   * lost answer with the same key, so one call never makes two paid jobs.
   */
  generateVideo(input: GenerateVideoInput): Promise<Prediction>;
  /**
   * Image to video: `image` is the first frame, as `{ uploadId }`, `{ url }` or the Upload uploadMedia
   * gave. Refused, as generateVideo is, with a field-level BAD_USER_INPUT (an image too small, say).
   */
  generateVideoFromImage(input: ImageToVideoInput): Promise<Prediction>;
  /** Reference images to video: 1 to 9 `images` in order, named character1, character2 … in the prompt. */
  generateVideoFromReferences(input: ReferenceToVideoInput): Promise<Prediction>;
  /** Edit a `video` (MP4 or MOV) as the prompt says, with up to 5 `referenceImages`. */
  editVideo(input: VideoEditInput): Promise<Prediction>;
  /** Any mode, told by `mode` (text-to-video without one): what the three methods above and generateVideo do. */
  generate(input: VideoJobInput): Promise<Prediction>;
  /** The stored state, or null for an unknown id. */
  prediction(id: string): Promise<Prediction | null>;
  /** Newest first. */
  predictions(args?: PredictionsQueryVariables): Promise<PredictionConnection>;
  /** Who the gateway takes the caller for, their limits and where they stand. */
  viewer(): Promise<Viewer>;
  /** End an unfinished job as CANCELED (Atlas may still run and bill it); a finished one comes back unchanged. */
  cancelPrediction(id: string): Promise<Prediction>;
  /** The current state, then every change, ending after SUCCEEDED, FAILED or CANCELED. */
  watchPrediction(id: string, options?: WatchOptions): AsyncIterable<Prediction>;
  /** Submit a job of any mode (see `generate`), then follow until done. Resolves with the SUCCEEDED prediction; throws with its errorCode otherwise. */
  generateAndWait(input: VideoJobInput, options?: GenerateAndWaitOptions): Promise<Prediction>;
  /**
   * Send a file for jobs to use: createUpload, one PUT of the bytes to its uploadUrl, completeUpload.
   * Resolves with the READY upload (pass its `id` to a job); throws an UploadRejectedError (code
   * UPLOAD_REJECTED, with `rejectionReason`) when the gateway refuses the bytes, BAD_USER_INPUT when
   * the content type cannot be inferred or a stream has no byteSize, ABORTED when the signal aborts.
   */
  uploadMedia(source: UploadSource, options?: UploadMediaOptions): Promise<Upload>;
  /** One of your uploads, or null for an unknown id (and for someone else's). */
  upload(id: string): Promise<Upload | null>;
  /**
   * Run any query or mutation: the result and variables are typed by the document. Sent like the
   * methods above (same fetch, token, headers; retried as `options.retry` says) and fails with the
   * same VideoClientError. With `persisted`, a document that carries a codegen hash (this package's
   * own) goes as its hash and any other as its text, which a PERSISTED_OPERATIONS=only gateway refuses
   * with PERSISTED_QUERY_ONLY: documents of your own need an `open` gateway.
   */
  request<Document extends AnyTypedDocument>(
    document: Document,
    variables: VariablesOf<Document>,
    options?: RequestOptions,
  ): Promise<ResultOf<Document>>;
  /**
   * Run any subscription over SSE, as watchPrediction does. Without handlers: an async iterable of
   * results that ends when the gateway completes the subscription or the signal aborts, and throws a
   * VideoClientError on a GraphQL error. With handlers: calls them, and returns a function that stops.
   * A first connect that gets no HTTP status (CORS, say) fails with NETWORK_ERROR after three tries,
   * as a query does; a stream that was connected and dropped reconnects for half a minute or more.
   */
  subscribe<Document extends AnyTypedDocument>(
    document: Document,
    variables: VariablesOf<Document>,
    options?: SubscribeOptions,
  ): AsyncIterableIterator<ResultOf<Document>>;
  subscribe<Document extends AnyTypedDocument>(
    document: Document,
    variables: VariablesOf<Document>,
    handlers: SubscriptionHandlers<ResultOf<Document>>,
  ): () => void;
  /** Close open streams. */
  dispose(): void;
}

/** The hash codegen embedded in a document, for persisted operations. */
export function documentHash(document: DocumentNode): string {
  const hash = (document as { __meta__?: { hash?: unknown } }).__meta__?.hash;
  if (typeof hash !== 'string') throw new Error('This document has no persisted hash; was it made by this package?');
  return hash;
}

/** The hash codegen embedded in a document, if it has one (this package's documents all do). */
function persistedHashOf(document: DocumentNode): string | undefined {
  const hash = (document as { __meta__?: { hash?: unknown } }).__meta__?.hash;
  return typeof hash === 'string' ? hash : undefined;
}

/** The kind of the document's operation (its first, as Yoga runs the only one or the one named). */
function operationOf(document: DocumentNode): { type: OperationTypeNode | undefined; name: string } {
  const operation = document.definitions.find((definition) => definition.kind === Kind.OPERATION_DEFINITION);
  return { type: operation?.operation, name: operation?.name?.value ?? 'An anonymous operation' };
}

/** The body of a GraphQL request: the document itself, or only its hash in persisted mode. */
export function requestBody(document: DocumentNode, variables: Record<string, unknown>, persisted: boolean) {
  return persisted
    ? { query: '', variables, extensions: { persistedQuery: { version: 1, sha256Hash: documentHash(document) } } }
    : { query: print(document), variables };
}

/** A random key for one submission (crypto.randomUUID needs a secure context; this does not). */
export function newIdempotencyKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** The Authorization header for a token, if there is one. */
export async function authorizationHeader(token: Token | undefined): Promise<Headers> {
  const value = typeof token === 'function' ? await token() : token;
  return value ? { authorization: `Bearer ${value}` } : {};
}

/**
 * A fetch for the SSE client: a refusal the gateway answers with a GraphQL result (401
 * UNAUTHENTICATED, say) comes through as that result, once, instead of as a network error that
 * graphql-sse would retry for half a minute. Real network failures and 5xx stay retryable.
 */
export function sseFetch(fetchFn: typeof fetch): typeof fetch {
  return async (input, init) => {
    const response = await fetchFn(input, init);
    if (response.ok || response.status >= 500) return response;
    const type = response.headers.get('content-type') ?? '';
    // Yoga sends the refusal as an event stream (next: { errors }, complete) with the 4xx status.
    if (type.includes('text/event-stream'))
      return new Response(response.body, { status: 200, headers: response.headers });
    if (!type.includes('json')) return response;
    const text = await response.text();
    let errors: unknown;
    try {
      errors = (JSON.parse(text) as { errors?: unknown }).errors;
    } catch {
      errors = undefined;
    }
    if (!Array.isArray(errors) || errors.length === 0)
      return new Response(text, { status: response.status, headers: response.headers });
    return new Response(`event: next\ndata: ${JSON.stringify({ errors })}\n\nevent: complete\ndata:\n\n`, {
      status: 200,
      headers: { 'content-type': 'text/event-stream' },
    });
  };
}

/** Answers worth sending the same submission again for: it was not admitted, or its answer was lost. */
const RETRYABLE = new Set([
  'NETWORK_ERROR',
  'SHUTTING_DOWN',
  'DATABASE_UNAVAILABLE',
  'HTTP_502',
  'HTTP_503',
  'HTTP_504',
]);
const SUBMIT_RETRY_DELAYS_MS = [250, 1_000];

/** graphql-sse's own wait before connecting a dropped stream again: 1 s, doubling, plus 0.3 to 3 s. */
async function reconnectBackoff(retries: number): Promise<void> {
  const delay = 1_000 * 2 ** retries + 300 + Math.floor(Math.random() * 2_700);
  await new Promise((resolve) => setTimeout(resolve, delay));
}

export function createVideoClient(options: VideoClientOptions): VideoClient {
  const fetchFn = options.fetch ?? globalThis.fetch;
  const persisted = options.persisted ?? false;
  const headers = async (): Promise<Headers> => ({
    ...(typeof options.headers === 'function' ? await options.headers() : (options.headers ?? {})),
    ...(await authorizationHeader(options.token)),
  });
  const streamFetch = sseFetch(fetchFn);
  /** The graphql-sse clients of open subscriptions, for dispose(). */
  const streams = new Set<{ dispose(): void }>();

  /** Hash-only when asked and the document has a hash; any other document goes as its text. */
  const bodyOf = (document: DocumentNode, variables: Record<string, unknown>) =>
    requestBody(document, variables, persisted && persistedHashOf(document) !== undefined);

  /** The GraphQL errors as a VideoClientError; a persisted-only refusal says what to do about it. */
  function graphQLError(errors: readonly GraphQLFormattedError[], document: DocumentNode): VideoClientError {
    const error = VideoClientError.fromGraphQL(errors);
    if (error.code !== 'PERSISTED_QUERY_ONLY' && error.code !== 'PERSISTED_QUERY_NOT_FOUND') return error;
    const hint =
      persistedHashOf(document) === undefined || persisted
        ? `${operationOf(document).name} is not one of this package's operations, and this gateway ` +
          '(PERSISTED_OPERATIONS=only) runs only those: run documents of your own against a gateway with ' +
          'PERSISTED_OPERATIONS=open'
        : 'this gateway runs only persisted operations: create the client with `persisted: true`';
    return new VideoClientError(`${error.message} (${hint})`, { code: error.code, errors });
  }

  async function execute<Result, Variables extends Record<string, unknown>>(
    document: TypedDocumentNode<Result, Variables>,
    variables: Variables,
    signal?: AbortSignal,
  ): Promise<Result> {
    let response: Response;
    try {
      response = await fetchFn(options.url, {
        ...(signal ? { signal } : {}),
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json, application/json',
          ...(await headers()),
        },
        body: JSON.stringify(bodyOf(document, variables)),
      });
    } catch (cause) {
      if (signal?.aborted) throw abortedError(signal);
      throw new VideoClientError(unreachableMessage('The request to', options.url, cause), {
        code: 'NETWORK_ERROR',
        cause,
      });
    }
    let result: { data?: Result | null; errors?: GraphQLFormattedError[] };
    try {
      result = await response.json();
    } catch (cause) {
      throw new VideoClientError(`The gateway answered HTTP ${response.status} without a GraphQL result`, {
        code: `HTTP_${response.status}`,
        cause,
      });
    }
    if (result.errors?.length) throw graphQLError(result.errors, document);
    if (!result.data)
      throw new VideoClientError(`The gateway answered HTTP ${response.status} without data`, {
        code: `HTTP_${response.status}`,
      });
    return result.data;
  }

  /** Every result of a subscription over SSE, until the gateway completes it or the signal aborts. */
  async function* iterate<Result>(
    document: DocumentNode,
    variables: Record<string, unknown>,
    signal?: AbortSignal,
  ): AsyncGenerator<Result> {
    if (signal?.aborted) return;
    // A first connect that gets no HTTP status is most likely CORS (or a wrong URL): it is tried as a
    // query is (three times in about a second), then fails with the hint, instead of graphql-sse's five
    // backed-off retries (half a minute or more). A stream that did connect and then dropped keeps
    // graphql-sse's retries: the gateway is there, and a restart or deploy brings it back. This state is
    // per subscription, so each gets its own graphql-sse client (one connection each either way).
    let connected = false;
    let unanswered: { error: unknown } | undefined;
    const sse = createSseClient({
      url: options.url,
      singleConnection: false,
      headers,
      fetchFn: async (input: RequestInfo | URL, init?: RequestInit) => {
        try {
          const response = await streamFetch(input, init);
          unanswered = undefined;
          return response;
        } catch (error) {
          unanswered = { error };
          throw error;
        }
      },
      retry: async (retries) => {
        const delay = SUBMIT_RETRY_DELAYS_MS[retries];
        if (connected || !unanswered) return reconnectBackoff(retries);
        // Not a graphql-sse NetworkError, so it ends the subscription at once with this error.
        if (delay === undefined)
          throw new VideoClientError(unreachableMessage('The update stream to', options.url, unanswered.error), {
            code: 'NETWORK_ERROR',
            cause: unanswered.error,
          });
        await new Promise((resolve) => setTimeout(resolve, delay));
      },
    });
    streams.add(sse);
    const events = sse.iterate<Result>(bodyOf(document, variables), {
      connected: () => {
        connected = true;
      },
    });
    const stop = () => void events.return?.(undefined);
    signal?.addEventListener('abort', stop, { once: true });
    try {
      for await (const event of events) {
        if (event.errors?.length) throw graphQLError(event.errors as unknown as GraphQLFormattedError[], document);
        if (event.data) yield event.data;
      }
    } catch (error) {
      if (signal?.aborted) return;
      if (error instanceof VideoClientError) throw error;
      // graphql-sse's NetworkError: with `response` the gateway answered (a status); without, fetch threw.
      const answered = (error as { response?: { status?: unknown } }).response?.status !== undefined;
      throw new VideoClientError(
        answered
          ? `The update stream failed: ${(error as Error).message}`
          : unreachableMessage('The update stream to', options.url, error),
        { code: 'NETWORK_ERROR', cause: error },
      );
    } finally {
      signal?.removeEventListener('abort', stop);
      stop();
      streams.delete(sse);
      sse.dispose();
    }
  }

  async function* watchPrediction(
    id: string,
    { signal, progress = false }: WatchOptions = {},
  ): AsyncGenerator<Prediction> {
    for await (const { predictionUpdated: prediction } of iterate<PredictionUpdatedSubscription>(
      PredictionUpdatedDocument,
      { id, progress },
      signal,
    )) {
      if (!prediction) continue;
      yield prediction;
      if (isFinished(prediction)) return;
    }
  }

  /** Runs `attempt` again after each delay while it fails with an answer that was lost or not admitted. */
  async function withRetries<T>(attempt: () => Promise<T>): Promise<T> {
    for (let attempts = 0; ; attempts++) {
      try {
        return await attempt();
      } catch (error) {
        const delay = SUBMIT_RETRY_DELAYS_MS[attempts];
        if (!(error instanceof VideoClientError) || !RETRYABLE.has(error.code) || delay === undefined) throw error;
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  /** With the same idempotency key on every attempt, a retry returns the job the first attempt made. */
  async function generate(job: VideoJobInput): Promise<Prediction> {
    const { document, field, input } = jobMutation(job);
    const keyed = { ...input, idempotencyKey: input.idempotencyKey ?? newIdempotencyKey() };
    return withRetries(async () => (await execute(document, { input: keyed }))[field]!.prediction);
  }

  function request<Document extends AnyTypedDocument>(
    document: Document,
    variables: VariablesOf<Document>,
    { signal, retry }: RequestOptions = {},
  ): Promise<ResultOf<Document>> {
    const { type, name } = operationOf(document);
    if (type === 'subscription')
      return Promise.reject(
        new VideoClientError(`${name} is a subscription: run it with subscribe()`, { code: 'BAD_USER_INPUT' }),
      );
    // The document's own types were checked at the call; from here it is sent as any document is.
    const typed = document as DocumentNode as TypedDocumentNode<ResultOf<Document>, Record<string, unknown>>;
    const once = () => execute(typed, (variables ?? {}) as Record<string, unknown>, signal);
    return (retry ?? type === 'query') ? withRetries(once) : once();
  }

  function subscribe<Document extends AnyTypedDocument>(
    document: Document,
    variables: VariablesOf<Document>,
    handlers: SubscribeOptions | SubscriptionHandlers<ResultOf<Document>> = {},
  ): AsyncIterableIterator<ResultOf<Document>> | (() => void) {
    const results = (signal?: AbortSignal) =>
      iterate<ResultOf<Document>>(document, (variables ?? {}) as Record<string, unknown>, signal);
    if (!('next' in handlers)) return results(handlers.signal);
    // Handlers: the same iteration, stopped by the returned function (or the caller's signal).
    const stop = new AbortController();
    const signal = handlers.signal ? AbortSignal.any([handlers.signal, stop.signal]) : stop.signal;
    void (async () => {
      try {
        for await (const data of results(signal)) handlers.next(data);
        if (!signal.aborted) handlers.complete?.();
      } catch (error) {
        handlers.error(error as VideoClientError);
      }
    })();
    return () => stop.abort();
  }

  const client: VideoClient = {
    generate,
    generateVideo: (input) => generate({ ...input, mode: 'TEXT_TO_VIDEO' }),
    generateVideoFromImage: (input) => generate({ ...input, mode: 'IMAGE_TO_VIDEO' }),
    generateVideoFromReferences: (input) => generate({ ...input, mode: 'REFERENCE_TO_VIDEO' }),
    editVideo: (input) => generate({ ...input, mode: 'VIDEO_EDIT' }),
    prediction: async (id) => (await execute(PredictionDocument, { id })).prediction,
    predictions: async (args = {}) => (await execute(PredictionsDocument, args)).predictions,
    viewer: async () => (await execute(ViewerDocument, {})).viewer,
    cancelPrediction: async (id) => (await execute(CancelPredictionDocument, { id })).cancelPrediction,
    watchPrediction,
    request,
    subscribe: subscribe as VideoClient['subscribe'],
    async generateAndWait(input, { onUpdate, signal } = {}) {
      let latest = await client.generate(input);
      onUpdate?.(latest);
      for await (const prediction of watchPrediction(latest.id, { signal })) {
        if (prediction.updatedAt === latest.updatedAt && prediction.status === latest.status) continue;
        latest = prediction;
        onUpdate?.(prediction);
      }
      if (signal?.aborted)
        throw new VideoClientError('Stopped waiting: the signal was aborted', {
          code: 'ABORTED',
          cause: signal.reason,
        });
      if (latest.status !== 'SUCCEEDED') {
        throw new VideoClientError(latest.error ?? `The prediction ended ${latest.status}`, {
          code: latest.errorCode ?? latest.status,
          prediction: latest,
        });
      }
      return latest;
    },
    uploadMedia: (source, uploadOptions) =>
      sendUpload(
        {
          createUpload: async (input, signal) =>
            (await execute(CreateUploadDocument, { input }, signal)).createUpload.upload,
          completeUpload: async (id, signal) => (await execute(CompleteUploadDocument, { id }, signal)).completeUpload,
          fetch: fetchFn,
        },
        source,
        uploadOptions,
      ),
    upload: async (id) => (await execute(UploadDocument, { id })).upload,
    dispose: () => {
      for (const stream of streams) stream.dispose();
      streams.clear();
    },
  };
  return client;
}
