import { randomUUID } from 'node:crypto';
import { type ExecutionResult, GraphQLError } from 'graphql';
import { isAsyncIterable, mapAsyncIterator, type Plugin } from 'graphql-yoga';
import { type Logger, lazyChild } from '../log.ts';
import { withExtensions } from '../schema/copyError.ts';

export const REQUEST_ID_HEADER = 'x-request-id';

/** A caller's id is kept when it is a plain token: no spaces, newlines or quotes to forge log lines or headers with. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The caller's `x-request-id` when it is a sane token, else a new UUID. */
export function requestIdFrom(header: string | readonly string[] | null | undefined): string {
  const given = Array.isArray(header) ? header[0] : header;
  return typeof given === 'string' && SANE_REQUEST_ID.test(given) ? given : randomUUID();
}

/** What the node server hands Yoga with each request (absent for `yoga.fetch`, which tests use). */
export interface RequestServerContext {
  requestId?: string;
  /** The gateway's origin as the caller reached it (publicOrigin.ts), for its own video links. */
  origin?: string;
}

export interface RequestScope {
  requestId: string;
  /** Writes `requestId` on every line. */
  log: Logger;
}

/**
 * Gives every GraphQL request an id and a logger that writes it, puts the id in every error's
 * `extensions.requestId` and in the `x-request-id` response header, and logs each unexpected error
 * with the id of the request it failed (Yoga itself logs those without knowing the request).
 */
export class RequestScopes {
  readonly #scopes = new WeakMap<Request, RequestScope>();
  /** Masked error → what really went wrong: logged with the request, once its answer is known. */
  readonly #unexpected = new WeakMap<GraphQLError, unknown>();
  /**
   * Originals logged that way, which Yoga's own log line skips. Every masked error ends in a result
   * (Yoga turns failures of each phase, and of a stream, into one), so each is logged there once.
   */
  readonly #loggedWithRequest = new WeakSet<object>();

  constructor(private readonly log: Logger) {}

  /** The request's scope; made from its header on first use. */
  of(request: Request, serverContext?: RequestServerContext): RequestScope {
    let scope = this.#scopes.get(request);
    if (!scope) {
      const requestId = serverContext?.requestId ?? requestIdFrom(request.headers.get(REQUEST_ID_HEADER));
      scope = { requestId, log: lazyChild(this.log, { requestId }) };
      this.#scopes.set(request, scope);
    }
    return scope;
  }

  /**
   * Wraps Yoga's maskError: the masked error (what the client sees) is remembered with its original,
   * so the plugin below can log the original with the request's id.
   */
  maskError(mask: (error: unknown, message: string, isDev?: boolean) => Error) {
    return (error: unknown, message: string, isDev?: boolean): Error => {
      const masked = mask(error, message, isDev);
      if (masked !== error && masked instanceof GraphQLError) {
        this.#unexpected.set(masked, error);
        if (typeof error === 'object' && error !== null) this.#loggedWithRequest.add(error);
      }
      return masked;
    };
  }

  /** Whether Yoga's logger may skip this error: the request's logger writes it instead. */
  loggedWithRequest(error: unknown): boolean {
    return typeof error === 'object' && error !== null && this.#loggedWithRequest.has(error);
  }

  plugin(): Plugin<Record<string, unknown>, RequestServerContext> {
    return {
      onRequest: ({ request, serverContext }) => void this.of(request, serverContext),
      onResponse: ({ request, response, serverContext }) => {
        // From the Node server (http/routes.ts), the header is already on its response, which Node
        // merges with Yoga's. Not setting it here keeps Yoga's headers as it made them, which its
        // adapter then writes in one writeHead rather than header by header.
        if (serverContext?.requestId !== undefined) return;
        const scope = this.#scopes.get(request);
        if (scope) response.headers.set(REQUEST_ID_HEADER, scope.requestId);
      },
      onResultProcess: ({ request, result, setResult, serverContext }) => {
        const scope = this.of(request, serverContext);
        const stamp = (each: ExecutionResult) => this.#stamp(each, scope);
        if (Array.isArray(result)) setResult(result.map(stamp));
        else if (isAsyncIterable(result)) setResult(mapAsyncIterator(result, (each) => stamp(each as ExecutionResult)));
        else setResult(stamp(result as ExecutionResult));
      },
    };
  }

  /** The result with `requestId` in each error's extensions; unexpected errors logged in full. */
  #stamp(result: ExecutionResult, scope: RequestScope): ExecutionResult {
    if (!result.errors?.length) return result;
    const errors = result.errors.map((error) => {
      const original = this.#unexpected.get(error);
      if (original !== undefined) scope.log.error('request failed unexpectedly', { error: original });
      return withExtensions(error, { ...error.extensions, requestId: scope.requestId });
    });
    return { ...result, errors };
  }
}
