import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../log.ts';
import { SecretRedactor } from '../redact.ts';
import { AtlasError, codeForHttpStatus } from './errors.ts';
import { toUpstreamBody, type VideoRequest } from './happyhorse.ts';
import { MAX_REPLY_BYTES, readBody } from './replyBody.ts';
import { parseErrorMessage, parsePredictionReply, type UpstreamPrediction } from './replies.ts';
import { requestIdFrom, sanitizeReply } from './untrusted.ts';

export interface AtlasClientOptions {
  baseUrl: string;
  apiKey: string;
  /** Per call, connect to last byte. Node's fetch has no overall timeout of its own. */
  timeoutMs: number;
  /** Extra attempts for status calls; create calls are never retried. */
  retries: number;
  /** First backoff step for status retries; doubled each attempt, with full jitter. */
  backoffMs?: number;
  /** How long Atlas keeps the outputs (1 to 336 hours), sent with each create call; unset leaves Atlas' default. */
  outputExpirationHours?: number | undefined;
  log: Logger;
}

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

  constructor(options: AtlasClientOptions) {
    this.#options = { ...options, baseUrl: options.baseUrl.replace(/\/+$/, '') };
    this.#redactor = new SecretRedactor(options.apiKey);
  }

  /** Submit one job. Billable, so it is sent once: an unknown outcome is reported, never retried. */
  async createVideo(request: VideoRequest): Promise<CreatedPrediction> {
    let reply: Reply;
    try {
      const { outputExpirationHours: hours } = this.#options;
      const headers: Record<string, string> = hours === undefined ? {} : { 'x-atlascloud-object-expiration-hours': String(hours) };
      reply = await this.#send('POST', '/api/v1/model/generateVideo', undefined, toUpstreamBody(request), headers);
    } catch (error) {
      if (error instanceof AtlasError) throw error;
      const code = networkErrorCode(error);
      if (code && NOT_SENT.has(code)) {
        throw new AtlasError('UPSTREAM_UNAVAILABLE', `Atlas Cloud could not be reached (${code}); nothing was submitted`);
      }
      throw new AtlasError(
        'SUBMISSION_UNKNOWN',
        `The submission to Atlas Cloud ${isTimeout(error) ? 'timed out' : 'was cut off'} after it was sent; the job may have been created and billed`,
      );
    }
    this.#ensureOk(reply, 'create');
    if (reply.tooLarge) {
      throw new AtlasError(
        'SUBMISSION_UNKNOWN',
        `Atlas Cloud answered the submission with ${TOO_LARGE}; the job may have been created and billed`,
        { httpStatus: reply.status, requestId: reply.requestId },
      );
    }
    const prediction = parsePredictionReply(reply.body);
    if (!prediction) {
      throw new AtlasError(
        'SUBMISSION_UNKNOWN',
        'Atlas Cloud accepted the submission but its reply could not be read; the job may have been created and billed',
        { httpStatus: reply.status, requestId: reply.requestId },
      );
    }
    return { prediction, requestId: reply.requestId };
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
        log.debug('atlas status call failed, retrying', { upstreamId: id, attempt, code: error.code, delayMs: Math.round(delay) });
        await sleep(delay, undefined, { signal });
      }
    }
  }

  async #getOnce(id: string, signal?: AbortSignal): Promise<UpstreamPrediction> {
    let reply: Reply;
    try {
      reply = await this.#send('GET', `/api/v1/model/prediction/${encodeURIComponent(id)}`, signal);
    } catch (error) {
      if (signal?.aborted || error instanceof AtlasError) throw error;
      if (isTimeout(error)) throw new AtlasError('UPSTREAM_TIMEOUT', 'Atlas Cloud did not answer a status call in time');
      throw new AtlasError('UPSTREAM_UNAVAILABLE', `Atlas Cloud could not be reached (${networkErrorCode(error) ?? 'network error'})`);
    }
    this.#ensureOk(reply, 'status');
    const prediction = parsePredictionReply(reply.body);
    if (!prediction) {
      // Too large or unreadable: transient either way, so the call is retried and the job polled again.
      const what = reply.tooLarge ? TOO_LARGE : 'a reply that could not be read';
      throw new AtlasError('UPSTREAM_UNAVAILABLE', `Atlas Cloud answered a status call with ${what}`, {
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
    body?: unknown,
    extraHeaders: Record<string, string> = {},
  ): Promise<Reply> {
    const { baseUrl, apiKey, timeoutMs } = this.#options;
    const timeout = AbortSignal.timeout(timeoutMs);
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${apiKey}`,
        accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...extraHeaders,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      // A redirect would carry the bearer key to another place: refuse it instead.
      redirect: 'manual',
      signal: signal ? AbortSignal.any([timeout, signal]) : timeout,
    });
    // Everything below reads upstream bytes, so it is where they are bounded and cleaned, once.
    const header = response.headers.get('x-request-id');
    const requestId = requestIdFrom(header, this.#redactor);
    const text = await readBody(response, MAX_REPLY_BYTES);
    const { value: json, redacted } = sanitizeReply(parseJson(text), this.#redactor);
    const context = { method, httpStatus: response.status, requestId };
    if (text === undefined) this.#options.log.warn('atlas reply too large, not read', { ...context, limitBytes: MAX_REPLY_BYTES });
    const keyInHeader = header !== null && this.#redactor.exposes(header);
    if (redacted > 0 || keyInHeader) {
      // Atlas echoing our key back is worth an operator's attention (and maybe a new key).
      this.#options.log.warn('atlas reply carried the API key; redacted', { ...context, strings: redacted, requestIdDropped: keyInHeader });
    }
    return { status: response.status, requestId, body: json, tooLarge: text === undefined };
  }

  #ensureOk(reply: Reply, call: 'create' | 'status'): void {
    if (reply.status >= 200 && reply.status < 300) return;
    const said = parseErrorMessage(reply.body);
    const what = reply.status >= 300 && reply.status < 400 ? 'redirected the call (not followed)' : `answered HTTP ${reply.status}`;
    const code = codeForHttpStatus(reply.status, call);
    const billing = code === 'SUBMISSION_UNKNOWN' ? '; the job may have been created and billed' : '';
    const error = new AtlasError(
      code,
      `Atlas Cloud ${what} to the ${call} call${said ? `: ${said}` : ''}${billing}`,
      { httpStatus: reply.status, requestId: reply.requestId },
    );
    this.#options.log.warn('atlas call refused', { call, httpStatus: reply.status, requestId: reply.requestId, code: error.code });
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

function isTimeout(error: unknown): boolean {
  return error instanceof Error && error.name === 'TimeoutError';
}

function networkErrorCode(error: unknown): string | undefined {
  const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  return typeof cause?.code === 'string' ? cause.code : undefined;
}
