import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode } from '../errorCodes.ts';
import type { Logger } from '../log.ts';
import { type UpstreamRequest, upstreamBody } from '../models/index.ts';
import type { UpstreamCall } from '../observability/metrics.ts';
import { SecretRedactor } from '../redact.ts';
import { AtlasError, codeForHttpStatus } from './errors.ts';
import { parseErrorMessage, parsePredictionReply, parseUploadMediaReply, type UpstreamPrediction } from './replies.ts';
import { MAX_REPLY_BYTES } from './replyBody.ts';
import { Transport, TransportError } from './transport.ts';
import { requestIdFrom, sanitizeReply } from './untrusted.ts';

export interface AtlasClientOptions {
  baseUrl: string;
  apiKey: string;
  /** Per call, connect to last byte. */
  timeoutMs: number;
  /** Extra attempts for status calls; create calls are never retried. */
  retries: number;
  /** First backoff step for status retries; doubled each attempt, with full jitter. */
  backoffMs?: number;
  /** How long Atlas keeps the outputs (1 to 336 hours), sent with each create call; unset leaves Atlas' default. */
  outputExpirationHours?: number | undefined;
  log: Logger;
  /** Told of every call as it ends (metrics): which endpoint, its HTTP status or why none came, how long. */
  onCall?: (call: UpstreamCall) => void;
}

/** A file for uploadMedia: its bytes (opened when sent), exactly `byteSize` of them, and how to name them. */
export interface MediaFile {
  open(): Promise<Readable>;
  byteSize: number;
  contentType: string;
  /** Letters, digits, dot, dash and underscore only: it goes into a multipart header. */
  filename: string;
}

/** Reading the file to send failed: nothing about Atlas is known from it. */
export class MediaSourceError extends Error {
  override readonly name = 'MediaSourceError';
}

/** An upload may take UPSTREAM_TIMEOUT_MS plus this long per MiB sent (at least about 4 Mbit/s). */
const UPLOAD_MS_PER_MIB = 2_000;

export interface CreatedPrediction {
  prediction: UpstreamPrediction;
  requestId: string | undefined;
}

const MAX_BACKOFF_MS = 10_000;

/** Errors that mean the request never left this machine, so nothing can have been created upstream. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

interface Reply {
  status: number;
  requestId: string | undefined;
  /** Parsed JSON with every string sanitised (see untrusted.ts); undefined when not JSON or too large. */
  body: unknown;
  /** The body was over MAX_REPLY_BYTES and was not read. */
  tooLarge: boolean;
}

const TOO_LARGE = `a reply over ${MAX_REPLY_BYTES / 1024} KiB, which was not read`;

export class AtlasClient {
  readonly #options: AtlasClientOptions;
  readonly #redactor: SecretRedactor;
  readonly #transport: Transport;

  /** The upstream's base URL, without a trailing slash. */
  get baseUrl(): string {
    return this.#options.baseUrl;
  }

  /** What cleans the key out of upstream text; webhook deliveries pass through it too. */
  get redactor(): SecretRedactor {
    return this.#redactor;
  }

  constructor(options: AtlasClientOptions) {
    this.#options = options;
    this.#redactor = new SecretRedactor(options.apiKey);
    this.#transport = new Transport(options.baseUrl);
  }

  /** Closes the pooled connections (they would otherwise idle out on their own within seconds). */
  close(): void {
    this.#transport.close();
  }

  /**
   * Submit one job. Billable, so it is sent once: an unknown outcome is reported, never retried.
   * `log`: the caller's request logger, so these lines carry its request id.
   */
  async createVideo(
    request: UpstreamRequest,
    { log = this.#options.log, webhookUrl }: { log?: Logger; webhookUrl?: string } = {},
  ): Promise<CreatedPrediction> {
    let reply: Reply;
    try {
      const { outputExpirationHours: hours } = this.#options;
      const headers: Record<string, string> =
        hours === undefined ? {} : { 'x-atlascloud-object-expiration-hours': String(hours) };
      reply = await this.#send(
        'POST',
        '/api/v1/model/generateVideo',
        undefined,
        log,
        upstreamBody(request, webhookUrl),
        headers,
      );
    } catch (error) {
      if (error instanceof AtlasError) throw error;
      const code = networkErrorCode(error);
      if (code && NOT_SENT.has(code)) {
        throw new AtlasError(
          ErrorCode.UPSTREAM_UNAVAILABLE,
          `Atlas Cloud could not be reached (${code}); nothing was submitted`,
          {},
          { cause: error },
        );
      }
      throw new AtlasError(
        ErrorCode.SUBMISSION_UNKNOWN,
        `The submission to Atlas Cloud ${isTimeout(error) ? 'timed out' : 'was cut off'} after it was sent; the job may have been created and billed`,
        {},
        { cause: error },
      );
    }
    this.#ensureOk(reply, 'create', log);
    if (reply.tooLarge) {
      throw new AtlasError(
        ErrorCode.SUBMISSION_UNKNOWN,
        `Atlas Cloud answered the submission with ${TOO_LARGE}; the job may have been created and billed`,
        { httpStatus: reply.status, requestId: reply.requestId },
      );
    }
    const prediction = parsePredictionReply(reply.body);
    if (!prediction) {
      throw new AtlasError(
        ErrorCode.SUBMISSION_UNKNOWN,
        'Atlas Cloud accepted the submission but its reply could not be read; the job may have been created and billed',
        { httpStatus: reply.status, requestId: reply.requestId },
      );
    }
    return { prediction, requestId: reply.requestId };
  }

  /**
   * Send a file to Atlas' own temporary hosting (`POST /api/v1/model/uploadMedia`, multipart field
   * `file`, streamed) and return its `download_url`, which a job's media fields can name. Not billed,
   * but not repeated here either: the caller remembers the URL, so each file goes once.
   */
  async uploadMedia(file: MediaFile, { log = this.#options.log }: { log?: Logger } = {}): Promise<string> {
    if (!/^[\w.-]{1,100}$/.test(file.filename)) throw new Error(`uploadMedia: unsafe filename ${file.filename}`);
    const boundary = `----happyhorse-${randomBytes(16).toString('hex')}`;
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${file.filename}"\r\nContent-Type: ${file.contentType}\r\n\r\n`,
    );
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    let source: Readable;
    try {
      source = await file.open();
    } catch (error) {
      throw new MediaSourceError(`the file to upload could not be opened (${errorText(error)})`, { cause: error });
    }
    const { apiKey, timeoutMs } = this.#options;
    let reply: Reply;
    try {
      const { status, requestId, text } = await this.#transport.request({
        method: 'POST',
        path: '/api/v1/model/uploadMedia',
        headers: {
          authorization: `Bearer ${apiKey}`,
          accept: 'application/json',
          'content-type': `multipart/form-data; boundary=${boundary}`,
        },
        body: {
          stream: Readable.from(exactly(file.byteSize, head, source, tail)),
          length: head.length + file.byteSize + tail.length,
        },
        timeoutMs: timeoutMs + Math.ceil(file.byteSize / 1024 ** 2) * UPLOAD_MS_PER_MIB,
        maxBytes: MAX_REPLY_BYTES,
        // The body is a stream read once, and a fresh socket cannot have been closed under us.
        pooled: false,
      });
      reply = this.#read('POST', status, requestId, text, log);
    } catch (error) {
      source.destroy();
      if (error instanceof TransportError && error.cause instanceof MediaSourceError) throw error.cause;
      if (isTimeout(error))
        throw new AtlasError(
          ErrorCode.UPSTREAM_TIMEOUT,
          'Atlas Cloud did not answer the upload of a file in time',
          {},
          {
            cause: error,
          },
        );
      throw new AtlasError(
        ErrorCode.UPSTREAM_UNAVAILABLE,
        `Atlas Cloud could not be reached to upload a file (${networkErrorCode(error) ?? 'network error'})`,
        {},
        { cause: error },
      );
    }
    this.#ensureOk(reply, 'upload', log);
    const url = parseUploadMediaReply(reply.body);
    if (!url) {
      const what = reply.tooLarge ? TOO_LARGE : 'a reply without a download_url that could be read';
      throw new AtlasError(ErrorCode.UPSTREAM_UNAVAILABLE, `Atlas Cloud answered the upload of a file with ${what}`, {
        httpStatus: reply.status,
        requestId: reply.requestId,
      });
    }
    return url;
  }

  /** The longest a status call can take, all retries and backoff included: what a poll lease must outlast. */
  get maxStatusCallMs(): number {
    const { timeoutMs, retries, backoffMs = 250 } = this.#options;
    let backoff = 0;
    for (let attempt = 0; attempt < retries; attempt++) backoff += Math.min(MAX_BACKOFF_MS, backoffMs * 2 ** attempt);
    return timeoutMs * (retries + 1) + backoff;
  }

  /** Read a job's state. Safe to repeat, so transient failures are retried with backoff and jitter. */
  async getPrediction(id: string, signal?: AbortSignal): Promise<UpstreamPrediction> {
    const { retries, backoffMs = 250, log } = this.#options;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#getOnce(id, signal);
      } catch (error) {
        if (signal?.aborted || !(error instanceof AtlasError) || !error.transient || attempt >= retries) throw error;
        const delay = Math.random() * Math.min(MAX_BACKOFF_MS, backoffMs * 2 ** attempt);
        log.debug('atlas status call failed, retrying', {
          upstreamId: id,
          attempt,
          code: error.code,
          delayMs: Math.round(delay),
        });
        await sleep(delay, undefined, { signal });
      }
    }
  }

  async #getOnce(id: string, signal?: AbortSignal): Promise<UpstreamPrediction> {
    let reply: Reply;
    try {
      reply = await this.#send('GET', `/api/v1/model/prediction/${encodeURIComponent(id)}`, signal, this.#options.log);
    } catch (error) {
      if (signal?.aborted || error instanceof AtlasError) throw error;
      if (isTimeout(error))
        throw new AtlasError(
          ErrorCode.UPSTREAM_TIMEOUT,
          'Atlas Cloud did not answer a status call in time',
          {},
          {
            cause: error,
          },
        );
      throw new AtlasError(
        ErrorCode.UPSTREAM_UNAVAILABLE,
        `Atlas Cloud could not be reached (${networkErrorCode(error) ?? 'network error'})`,
        {},
        { cause: error },
      );
    }
    this.#ensureOk(reply, 'status', this.#options.log);
    const prediction = parsePredictionReply(reply.body);
    if (!prediction) {
      // Too large or unreadable: transient either way, so the call is retried and the job polled again.
      const what = reply.tooLarge ? TOO_LARGE : 'a reply that could not be read';
      throw new AtlasError(ErrorCode.UPSTREAM_UNAVAILABLE, `Atlas Cloud answered a status call with ${what}`, {
        httpStatus: reply.status,
        requestId: reply.requestId,
      });
    }
    return prediction;
  }

  async #send(
    method: 'GET' | 'POST',
    path: string,
    signal: AbortSignal | undefined,
    log: Logger,
    body?: unknown,
    extraHeaders: Record<string, string> = {},
  ): Promise<Reply> {
    const started = performance.now();
    const endpoint = method === 'POST' ? 'create' : 'status';
    const observe = (status: UpstreamCall['status']) =>
      this.#options.onCall?.({ endpoint, status, seconds: (performance.now() - started) / 1000 });
    try {
      const reply = await this.#exchange(method, path, signal, log, body, extraHeaders);
      observe(reply.status);
      return reply;
    } catch (error) {
      observe(signal?.aborted ? 'aborted' : isTimeout(error) ? 'timeout' : 'network_error');
      throw error;
    }
  }

  async #exchange(
    method: 'GET' | 'POST',
    path: string,
    signal: AbortSignal | undefined,
    log: Logger,
    body: unknown,
    extraHeaders: Record<string, string>,
  ): Promise<Reply> {
    const { apiKey, timeoutMs } = this.#options;
    const {
      status,
      requestId: header,
      text,
    } = await this.#transport.request({
      method,
      path,
      headers: {
        authorization: `Bearer ${apiKey}`,
        accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...extraHeaders,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      timeoutMs,
      signal,
      maxBytes: MAX_REPLY_BYTES,
      // A status call can be repeated, so it may go out on a pooled socket; a create may not.
      pooled: method === 'GET',
    });
    // Redirects are never followed (the bearer key would go with them): a 3xx is refused in #ensureOk.
    return this.#read(method, status, header, text, log);
  }

  /** Everything below reads upstream bytes, so it is where they are bounded and cleaned, once. */
  #read(method: 'GET' | 'POST', status: number, header: string | null, text: string | undefined, log: Logger): Reply {
    const requestId = requestIdFrom(header, this.#redactor);
    const { value: json, redacted } = sanitizeReply(parseJson(text), this.#redactor);
    // `upstreamRequestId`: Atlas' X-Request-ID; `requestId` on a line is the gateway's own (see requestId.ts).
    const context = { method, httpStatus: status, upstreamRequestId: requestId };
    if (text === undefined) log.warn('atlas reply too large, not read', { ...context, limitBytes: MAX_REPLY_BYTES });
    const keyInHeader = header !== null && this.#redactor.exposes(header);
    if (redacted > 0 || keyInHeader) {
      // Atlas echoing our key back is worth an operator's attention (and maybe a new key).
      log.warn('atlas reply carried the API key; redacted', {
        ...context,
        strings: redacted,
        upstreamRequestIdDropped: keyInHeader,
      });
    }
    return { status, requestId, body: json, tooLarge: text === undefined };
  }

  #ensureOk(reply: Reply, call: 'create' | 'status' | 'upload', log: Logger): void {
    if (reply.status >= 200 && reply.status < 300) return;
    const said = parseErrorMessage(reply.body);
    const what =
      reply.status >= 300 && reply.status < 400
        ? 'redirected the call (not followed)'
        : `answered HTTP ${reply.status}`;
    const code = codeForHttpStatus(reply.status, call);
    const billing = code === ErrorCode.SUBMISSION_UNKNOWN ? '; the job may have been created and billed' : '';
    const error = new AtlasError(code, `Atlas Cloud ${what} to the ${call} call${said ? `: ${said}` : ''}${billing}`, {
      httpStatus: reply.status,
      requestId: reply.requestId,
    });
    log.warn('atlas call refused', {
      call,
      httpStatus: reply.status,
      upstreamRequestId: reply.requestId,
      code: error.code,
    });
    throw error;
  }
}

function parseJson(text: string | undefined): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}

/** `head`, then exactly `byteSize` bytes of `source`, then `tail`: fewer or more fails the request rather than hang it. */
async function* exactly(byteSize: number, head: Buffer, source: Readable, tail: Buffer): AsyncGenerator<Buffer> {
  yield head;
  let sent = 0;
  try {
    for await (const chunk of source) {
      sent += (chunk as Buffer).length;
      if (sent > byteSize) throw new MediaSourceError(`the file to upload is longer than its ${byteSize} bytes`);
      yield chunk as Buffer;
    }
  } catch (error) {
    throw error instanceof MediaSourceError
      ? error
      : new MediaSourceError(`the file to upload could not be read (${errorText(error)})`, { cause: error });
  }
  if (sent < byteSize) throw new MediaSourceError(`the file to upload has ${sent} of its ${byteSize} bytes`);
  yield tail;
}

function errorText(error: unknown): string {
  return (error as { code?: string } | undefined)?.code ?? (error instanceof Error ? error.message : String(error));
}

function isTimeout(error: unknown): boolean {
  return error instanceof TransportError && error.kind === 'timeout';
}

function networkErrorCode(error: unknown): string | undefined {
  return error instanceof TransportError ? error.code : undefined;
}
