import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { ErrorCode } from '../errorCodes.ts';
import type { Logger } from '../log.ts';
import { REQUEST_ID_HEADER, requestIdFrom } from '../observability/requestId.ts';
import { requestPath } from './requestTarget.ts';

/** One request as a route sees it. */
export interface RouteRequest {
  req: IncomingMessage;
  res: ServerResponse;
  /** The path as sent, without the query; checked to be one every part reads the same (requestTarget.ts). */
  path: string;
  requestId: string;
  /** Writes the request id on every line; made on first use. */
  readonly log: Logger;
}

/**
 * Answers the request (or takes charge of answering it) and gives true, or gives false when the
 * request is not its own, for the next route to look at. A throw or a rejection is the guard's: 500.
 */
export type Route = (request: RouteRequest) => boolean | Promise<boolean>;

/** How long a client has to send a request's line and headers, and the whole request. */
export interface HttpTimeouts {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
}

/**
 * How often Node looks for requests past those timeouts. Its default (30 s) would let a stalled
 * request live up to that much longer than its timeout; a pass over the open connections is cheap.
 */
const TIMEOUT_CHECK_INTERVAL_MS = 1_000;

/**
 * The gateway's HTTP server: every request goes through `routes` in order behind one guard, so each
 * one is answered (a final 404 when no route takes it) and none can end the process: whatever a route
 * throws or rejects with is logged with the request's id and answered 500. A stalled client is cut by
 * the timeouts (408), as is a CONNECT (405), which Node would otherwise drop without a word.
 */
export function createHttpServer(
  routes: readonly Route[],
  { log, timeouts }: { log: Logger; timeouts: HttpTimeouts },
): Server {
  const server = createServer(
    {
      headersTimeout: timeouts.headersTimeoutMs,
      requestTimeout: timeouts.requestTimeoutMs,
      connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
    },
    (req, res) => void serve(req, res),
  );
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    socket.on('error', () => {}); // the client's side of a refusal; nothing to tell it
    rawReply(
      socket,
      405,
      'Method Not Allowed',
      { allow: 'GET, HEAD, POST, OPTIONS' },
      errorBody('CONNECT is not served here', ErrorCode.METHOD_NOT_ALLOWED),
    );
  });
  return server;

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = requestIdFrom(req.headers[REQUEST_ID_HEADER]);
    let requestLog: Logger | undefined;
    const logOfRequest = () => (requestLog ??= log.child({ requestId }));
    try {
      res.setHeader(REQUEST_ID_HEADER, requestId);
      const path = requestPath(req.url);
      if (path === undefined) {
        return answerError(
          res,
          400,
          ErrorCode.BAD_REQUEST,
          'The request target must be a plain path such as /graphql: no dot segments, absolute URLs or characters that need escaping',
          requestId,
        );
      }
      const request: RouteRequest = {
        req,
        res,
        path,
        requestId,
        get log() {
          return logOfRequest();
        },
      };
      for (const route of routes) if (await route(request)) return;
      answerError(res, 404, ErrorCode.NOT_FOUND, 'Nothing is served at this path', requestId);
    } catch (error) {
      failed(req, res, error, requestId, logOfRequest());
    }
  }
}

/** A route threw: 500 if the answer has not begun, else the connection is cut (a truncated answer must not look whole). */
function failed(req: IncomingMessage, res: ServerResponse, error: unknown, requestId: string, log: Logger): void {
  const request = { method: req.method, path: req.url?.split('?')[0] };
  if (res.headersSent) {
    log.error('request failed unexpectedly after its answer began; the connection is cut', { error, ...request });
    res.destroy();
    return;
  }
  log.error('request failed unexpectedly', { error, ...request });
  try {
    answerError(res, 500, ErrorCode.INTERNAL_SERVER_ERROR, 'Unexpected error.', requestId);
  } catch (writeError) {
    log.warn('the 500 answer could not be written', { error: writeError });
    res.destroy();
  }
}

/** The GraphQL error shape (`{"errors":[{message, extensions:{code, requestId}}]}`): one form for every answer the gateway writes itself. */
export function errorBody(message: string, code: string, requestId?: string): string {
  return JSON.stringify({ errors: [{ message, extensions: { code, ...(requestId ? { requestId } : {}) } }] });
}

export function answerError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  requestId: string,
): void {
  const body = errorBody(message, code, requestId);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(body);
}

/** A whole HTTP/1.1 answer written on a socket Node has handed over (CONNECT); the connection closes after it. */
function rawReply(socket: Duplex, status: number, reason: string, headers: Record<string, string>, body: string): void {
  const lines = Object.entries({
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    connection: 'close',
  })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.end(`HTTP/1.1 ${status} ${reason}\r\n${lines}\r\n${body}`);
}
