import { EventEmitter } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import { pipeline, type Readable } from 'node:stream';
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { Pool } from 'undici';
import { childSpan, endSpan } from '../observability/tracing.ts';

/**
 * HTTP to Atlas. Status calls, thousands a second from the poller, share a keep-alive pool on
 * undici's own API (`Pool.request`): about half the CPU of Node's http client, which in turn cost
 * half that of `fetch` (WHATWG streams and headers). Create calls and uploads go out on Node's http
 * client, each on a connection of its own: a pooled socket the server closed a moment ago fails with a
 * reset that looks just like a reply lost after the request went out, and for a paid create that
 * would read as "maybe billed".
 */
export interface HttpReply {
  status: number;
  /** `x-request-id`, as sent. */
  requestId: string | null;
  /** The body as text, or undefined when it is longer than `maxBytes` (then it was not read). */
  text: string | undefined;
}

export interface HttpCall {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  /** Text, or a stream of exactly `length` bytes (sent as it is read, never held whole: uploadMedia). */
  body?: string | { stream: Readable; length: number };
  /** Connect to last byte. */
  timeoutMs: number;
  signal?: AbortSignal;
  maxBytes: number;
  /** Use the keep-alive pool: only for calls that are safe to repeat. */
  pooled: boolean;
}

/** Why a call got no reply: it timed out, the caller aborted it, or the network failed (`code`, e.g. ECONNREFUSED). */
export class TransportError extends Error {
  constructor(
    readonly kind: 'timeout' | 'aborted' | 'network',
    readonly code: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(
      kind === 'network' ? `network error${code ? ` (${code})` : ''}` : kind === 'timeout' ? 'timed out' : 'aborted',
      options,
    );
    this.name = 'TransportError';
  }
}

export class Transport {
  readonly #base: URL;
  readonly #client: typeof http | typeof https;
  readonly #pool: Pool;

  constructor(baseUrl: string) {
    this.#base = new URL(baseUrl);
    this.#client = this.#base.protocol === 'https:' ? https : http;
    // An idle socket is dropped before a typical server's 5 s keep-alive would drop it under us.
    this.#pool = new Pool(this.#base.origin, { keepAliveTimeout: 4_000, keepAliveMaxTimeout: 4_000 });
  }

  /**
   * One call. Made for a traced operation, it is a span of its own, and Atlas gets its `traceparent`
   * (observability/tracing.ts); otherwise both are skipped.
   */
  request(call: HttpCall): Promise<HttpReply> {
    const url = new URL(this.#base.pathname.replace(/\/+$/, '') + call.path, this.#base);
    const span = childSpan(
      `${call.method} ${call.path.replace(/\/prediction\/[^/?]+/, '/prediction/{id}')}`,
      SpanKind.CLIENT,
      {
        'http.request.method': call.method,
        'server.address': url.hostname,
        'server.port': Number(url.port) || (url.protocol === 'https:' ? 443 : 80),
        'url.full': url.href,
      },
    );
    if (!span) return this.#request(url, call, call.headers);
    const headers = { ...call.headers };
    propagation.inject(trace.setSpan(context.active(), span), headers);
    return this.#request(url, call, headers).then(
      (reply) => {
        span.setAttribute('http.response.status_code', reply.status);
        // A client span fails on any 4xx or 5xx (OpenTelemetry's HTTP conventions).
        if (reply.status >= 400) span.setAttribute('error.type', String(reply.status));
        endSpan(span, reply.status >= 400 ? new Error(`HTTP ${reply.status}`) : undefined);
        return reply;
      },
      (error: unknown) => {
        if (error instanceof TransportError) span.setAttribute('error.type', error.code ?? error.kind);
        endSpan(span, error);
        throw error;
      },
    );
  }

  #request(url: URL, call: HttpCall, headers: Record<string, string>): Promise<HttpReply> {
    return call.pooled && call.body === undefined
      ? this.#pooledRequest(url, call, headers)
      : this.#ownConnectionRequest(url, call, headers);
  }

  /** A call without a body on the keep-alive pool (undici): a status call. */
  async #pooledRequest(url: URL, call: HttpCall, headers: Record<string, string>): Promise<HttpReply> {
    // One timer and one listener per call, both gone when it settles. undici takes an EventEmitter
    // for a signal: at thousands of calls a second, an AbortController each cost more than the call's parsing.
    let why: 'timeout' | 'aborted' | undefined;
    const abort = new EventEmitter();
    const stop = (reason: 'timeout' | 'aborted') => {
      why ??= reason;
      abort.emit('abort');
    };
    const timer = setTimeout(() => stop('timeout'), call.timeoutMs);
    const onAbort = () => stop('aborted');
    call.signal?.addEventListener('abort', onAbort, { once: true });
    if (call.signal?.aborted) stop('aborted');
    try {
      if (why) throw new Error('aborted before it was sent');
      const response = await this.#pool.request({
        method: call.method,
        path: url.pathname + url.search,
        headers,
        signal: abort,
      });
      const requestId = single(response.headers['x-request-id']);
      const reply = (text: string | undefined) => ({ status: response.statusCode, requestId, text });
      const declared = Number(response.headers['content-length'] ?? Number.NaN);
      if (declared > call.maxBytes) {
        // Not read: closing the socket keeps the rest from crossing the network.
        response.body.destroy();
        return reply(undefined);
      }
      // As fetch's text() does: UTF-8, a byte-order mark dropped, bad bytes as U+FFFD.
      if (declared >= 0) return reply(await response.body.text());
      return reply(await textUpTo(response.body, call.maxBytes));
    } catch (error) {
      throw new TransportError(why ?? 'network', why ? undefined : errorCode(error), { cause: error });
    } finally {
      clearTimeout(timer);
      call.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** A call on a connection of its own (Node's http client), closed after it. */
  #ownConnectionRequest(url: URL, call: HttpCall, callHeaders: Record<string, string>): Promise<HttpReply> {
    return new Promise<HttpReply>((resolve, reject) => {
      // One timer and one listener per call, both gone when it settles: cheaper than
      // AbortSignal.timeout + AbortSignal.any, which pile up on a long-lived signal under load.
      let why: 'timeout' | 'aborted' | undefined;
      const stop = (reason: 'timeout' | 'aborted') => {
        why ??= reason;
        request.destroy();
      };
      const timer = setTimeout(() => stop('timeout'), call.timeoutMs);
      const onAbort = () => stop('aborted');
      call.signal?.addEventListener('abort', onAbort, { once: true });
      const settled = () => {
        clearTimeout(timer);
        call.signal?.removeEventListener('abort', onAbort);
      };
      // A body stream that fails is why the request failed, whatever the socket says after it.
      let sourceError: unknown;
      const fail = (error: unknown) => {
        settled();
        const cause = sourceError ?? error;
        reject(new TransportError(why ?? 'network', why ? undefined : errorCode(cause), { cause }));
      };
      const { body } = call;
      const length = body === undefined ? undefined : typeof body === 'string' ? Buffer.byteLength(body) : body.length;
      const headers = length === undefined ? callHeaders : { ...callHeaders, 'content-length': String(length) };
      const request = this.#client.request(url, { method: call.method, headers, agent: false }, (response) => {
        const reply = (text: string | undefined) => {
          settled();
          resolve({ status: response.statusCode ?? 0, requestId: single(response.headers['x-request-id']), text });
        };
        const declared = Number(response.headers['content-length'] ?? Number.NaN);
        if (declared > call.maxBytes) {
          // Not read: closing the socket keeps the rest from crossing the network. Settled first, as
          // destroying emits 'aborted' at once.
          reply(undefined);
          return void response.destroy();
        }
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.byteLength;
          if (size > call.maxBytes) {
            reply(undefined);
            response.destroy();
          } else chunks.push(chunk);
        });
        response.on('error', fail);
        response.on('aborted', () => fail(new Error('the reply was cut off')));
        // As fetch's text() would: UTF-8, a byte-order mark dropped, bad bytes as U+FFFD.
        response.on('end', () => reply(new TextDecoder().decode(Buffer.concat(chunks, size))));
      });
      request.on('error', fail);
      if (call.signal?.aborted) stop('aborted');
      if (body === undefined || typeof body === 'string') request.end(body);
      // A source that fails (or a request that fails) ends both: the request's 'error' reports it.
      else {
        body.stream.once('error', (error) => {
          sourceError ??= error;
        });
        pipeline(body.stream, request, (error) => error && request.destroy(error));
      }
    });
  }

  close(): void {
    // Ends the pool's sockets now; calls still in flight fail, as they did when the agent was destroyed.
    this.#pool.destroy().catch(() => {});
  }
}

/** A body of unknown length as text (as fetch's text() reads it), or undefined once it passes `maxBytes` (then it is not read on). */
function textUpTo(body: Readable, maxBytes: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    body.on('data', (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size <= maxBytes) return void chunks.push(chunk);
      resolve(undefined);
      body.destroy();
    });
    body.on('error', reject);
    body.on('end', () => resolve(new TextDecoder().decode(Buffer.concat(chunks, size))));
  });
}

function single(header: string | string[] | undefined): string | null {
  return (Array.isArray(header) ? header[0] : header) ?? null;
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}
