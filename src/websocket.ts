import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  GraphQLError,
  type GraphQLFormattedError,
  getOperationAST,
  type execute as graphqlExecute,
  type subscribe as graphqlSubscribe,
} from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { isAsyncIterable, mapAsyncIterator, type YogaServerInstance } from 'graphql-yoga';
import { WebSocketServer } from 'ws';
import { z } from 'zod';
import type { Authenticate } from './auth/authenticate.ts';
import { Unauthenticated } from './auth/principal.ts';
import { ErrorCode } from './errorCodes.ts';
import { requestPath } from './http/requestTarget.ts';
import type { Logger } from './log.ts';
import type { GatewayMetrics } from './observability/metrics.ts';
import { REQUEST_ID_HEADER, type RequestServerContext } from './observability/requestId.ts';
import { persistedDocumentOf } from './persistedOperations.ts';
import { publicOrigin } from './publicOrigin.ts';
import type { GatewayContext } from './schema/builder.ts';
import { CredentialLapsed } from './schema/credentialLapse.ts';

/**
 * The largest message a client may send. A persisted request is a hash and variables, and the query
 * limits cap a document at 1000 tokens, so 64 KiB is ample; ws' own default is 100 MiB. A bigger
 * message closes the socket with 1009.
 */
export const WS_MAX_PAYLOAD_BYTES = 64 * 1024;
/** Operations one socket may run at once (subscriptions mostly); one more is refused, the others go on. */
export const WS_MAX_OPERATIONS_PER_SOCKET = 100;
/** How long shutdown waits for clients to answer the close before it cuts their sockets. */
const CLOSE_GRACE_MS = 1_000;

/**
 * `connectionParams` of `connection_init`: the credential, as `authorization: 'Bearer …'` (what an
 * HTTP client would send as a header) or as a bare `token`. Other fields are ignored.
 */
const connectionParams = z.looseObject({
  authorization: z.string().optional(),
  Authorization: z.string().optional(),
  token: z.string().min(1).optional(),
});

/** What `onConnect` learnt about the socket, for every operation on it. */
interface SocketState extends Record<PropertyKey, unknown> {
  /** The Authorization header value the socket's operations are run with; null: anonymous. */
  authorization: string | null;
  /** The operations under way, by graphql-ws message id. */
  operations: Map<string, Operation>;
}

interface Operation {
  /** Its own request id, as HTTP gives each request one. */
  requestId: string;
  startedAt: number;
  name: string | undefined;
  type: string | undefined;
  /** Counted in the metrics already (at its first result, as over HTTP). */
  answered: boolean;
}

/** Yoga's execute and subscribe for one operation, carried to graphql-ws' hooks in rootValue (as Yoga's docs do). */
interface Engine {
  execute: typeof graphqlExecute;
  subscribe: typeof graphqlSubscribe;
}
const engineOf = (args: ExecutionArgs): Engine => {
  const root: unknown = args.rootValue;
  if (typeof root === 'object' && root !== null && 'execute' in root && 'subscribe' in root) return root as Engine;
  throw new Error('graphql-ws operation without the Yoga engine onSubscribe set');
};

export interface GraphQLWebSocket {
  /** Refuse new sockets (the gateway is draining); open ones go on. */
  refuseNew(): void;
  /** Close every socket with 1001 Going Away (clients reconnect, to a successor), cutting laggards after a grace period. */
  close(): Promise<void>;
}

export interface GraphQLWebSocketOptions {
  server: Server;
  yoga: YogaServerInstance<RequestServerContext, GatewayContext>;
  authenticate: Authenticate;
  persistedOperations: 'open' | 'only';
  /** CORS_ORIGINS: cross-origin pages allowed to open a socket; same-origin pages always may. */
  corsOrigins: string[] | undefined;
  log: Logger;
  /** Where operations are counted and timed, as Yoga's hooks do for HTTP and SSE (which do not run here). */
  metrics?: Pick<GatewayMetrics, 'operationAnswered'>;
}

/**
 * GraphQL over WebSocket (the graphql-ws protocol, what Apollo Client and most IDEs speak) on Yoga's
 * endpoint, wired as Yoga's docs show: each operation runs through `yoga.getEnveloped`, so the same
 * envelop plugins hold (query limits, introspection switch, variable errors, error masking), and the
 * same context factory authenticates it. What `getEnveloped` does not run is done here: the
 * persisted-operations rule (a Yoga `onParams` hook) and the credential check at connection time.
 */
export function serveGraphQLOverWebSocket({
  server,
  yoga,
  authenticate,
  persistedOperations,
  corsOrigins,
  log,
  metrics,
}: GraphQLWebSocketOptions): GraphQLWebSocket {
  const wss = new WebSocketServer({ noServer: true, maxPayload: WS_MAX_PAYLOAD_BYTES });
  let refusing = false;

  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    // Node hands the socket over without its own error listener: a client that resets it (before or
    // while it is refused) would otherwise end the process. ws adds its own once it takes the socket.
    socket.on('error', () => {});
    try {
      upgrade(request, socket, head);
    } catch (error) {
      log.error('websocket upgrade failed unexpectedly', { error });
      refuseUpgrade(socket, 500, 'Internal Server Error');
    }
  });

  function upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    // No URL parsing that can throw (`//` did, and ended the process).
    const path = requestPath(request.url);
    if (path === undefined) {
      refuseUpgrade(socket, 400, 'Bad Request');
      return;
    }
    if (path !== yoga.graphqlEndpoint) {
      refuseUpgrade(socket, 404, 'Not Found');
      return;
    }
    if (refusing) {
      refuseUpgrade(socket, 503, 'Service Unavailable');
      return;
    }
    if (!originAllowed(request, corsOrigins)) {
      log.info('websocket refused: origin not allowed', { origin: request.headers.origin });
      refuseUpgrade(socket, 403, 'Forbidden');
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      wss.emit('connection', ws, request);
      // graphql-ws (just now, in 'connection') reports a socket's errors on stderr as bugs of ours. They
      // are the peer's (a message over maxPayload, a malformed frame) and ws has already closed the
      // socket for them (1009, 1002): log them as that. An 'error' with no listener would end the process.
      ws.removeAllListeners('error');
      ws.on('error', (error) => log.info('websocket closed: the client broke the protocol', { reason: error.message }));
    });
  }

  const unexpected = (error: unknown): GraphQLError[] => {
    log.error('websocket operation failed unexpectedly', { error });
    return [new GraphQLError('Unexpected error.', { extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } })];
  };

  /** Counts an operation at its first result: a subscription's first event, or its errors. */
  const answered = (operation: Operation | undefined, errors: ReadonlyArray<GraphQLError> | undefined) => {
    if (!operation || operation.answered) return;
    operation.answered = true;
    const seconds = (performance.now() - operation.startedAt) / 1000;
    metrics?.operationAnswered({ name: operation.name, type: operation.type, errors, seconds });
  };

  const graphqlWs = useServer<Record<string, unknown>, SocketState>(
    {
      // Close reasons never carry an error's text (which could name internals).
      isProd: true,
      execute: (args) => engineOf(args).execute(args),
      subscribe: async (args) => {
        const result = await engineOf(args).subscribe(args);
        return isAsyncIterable(result) ? mapAsyncIterator(result, endAtLapse) : result;
      },
      // Yoga turns `extensions.http` into the HTTP status and headers and leaves it out of the body;
      // a socket has no status, so leave it out here too.
      // Errors carry the operation's request id, as they do over HTTP and SSE.
      onNext: (ctx, id, _payload, _args, result) => {
        const operation = ctx.extra.operations?.get(id);
        answered(operation, result.errors);
        return result.errors
          ? { ...result, errors: result.errors.map((error) => formatted(error, operation?.requestId)) }
          : undefined;
      },
      // An operation refused before it ran ends here, without onComplete.
      onError: (ctx, id, _payload, errors) => {
        const operation = ctx.extra.operations?.get(id);
        ctx.extra.operations?.delete(id);
        answered(operation, errors);
        return errors.map((error) => formatted(error, operation?.requestId));
      },
      onComplete: (ctx, id) => void ctx.extra.operations?.delete(id),

      // Before any operation: a credential that does not hold closes the socket with 4403 Forbidden.
      onConnect: async (ctx) => {
        const params = connectionParams.safeParse(ctx.connectionParams ?? {});
        if (!params.success) return false;
        const { authorization = params.data.Authorization, token } = params.data;
        const credential = authorization ?? (token === undefined ? null : `Bearer ${token}`);
        try {
          await authenticate(credential);
        } catch (error) {
          if (error instanceof Unauthenticated) {
            log.info('websocket refused: not authenticated', { reason: error.message });
            return false;
          }
          // Not the caller's fault (the database is away, say): 1013 Try Again Later, which clients retry.
          log.error('websocket connection could not be authenticated', { error });
          ctx.extra.socket.close(1013, 'Try again later');
          return false;
        }
        ctx.extra.authorization = credential;
        ctx.extra.operations = new Map();
        return true;
      },

      onSubscribe: async (ctx, id, payload) => {
        const requestId = randomUUID();
        const operation: Operation = {
          requestId,
          startedAt: performance.now(),
          name: payload.operationName ?? undefined,
          type: undefined,
          answered: false,
        };
        ctx.extra.operations?.set(id, operation);
        try {
          // ctx.subscriptions already holds this operation.
          if (Object.keys(ctx.subscriptions).length > WS_MAX_OPERATIONS_PER_SOCKET) {
            return [
              new GraphQLError(`At most ${WS_MAX_OPERATIONS_PER_SOCKET} operations may run at once on one WebSocket`, {
                extensions: { code: ErrorCode.TOO_MANY_OPERATIONS, limit: WS_MAX_OPERATIONS_PER_SOCKET },
              }),
            ];
          }
          const query = persistedDocumentOf(persistedOperations, payload);
          // The same context factory as HTTP, given the socket's credential as a request header: every
          // operation is authenticated again, so a key revoked since the socket opened stops working.
          const authorization = ctx.extra.authorization;
          // The handshake's origin, as HTTP and SSE take theirs: the links this operation signs point where the client connected.
          const origin = publicOrigin(ctx.extra.request);
          // POST: Yoga refuses mutations on a GET (a CSRF guard; here the Origin check does that job).
          const request = new Request(new URL(ctx.extra.request.url ?? yoga.graphqlEndpoint, origin), {
            method: 'POST',
            headers: { [REQUEST_ID_HEADER]: requestId, ...(authorization ? { authorization } : {}) },
          });
          const params = { ...payload, query };
          const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
            request,
            params,
            origin,
          });
          const document: DocumentNode = parse(query);
          const ast = getOperationAST(document, payload.operationName);
          operation.name = ast?.name?.value ?? operation.name;
          operation.type = ast?.operation;
          const errors = validate(schema, document);
          if (errors.length > 0) return [...errors];
          const args: ExecutionArgs = {
            schema,
            operationName: payload.operationName,
            document,
            variableValues: payload.variables,
            contextValue: await contextFactory(),
            rootValue: { execute, subscribe } satisfies Engine,
          };
          return args;
        } catch (error) {
          // A refused document, a syntax error, a limit, a credential no longer valid: the
          // operation's error, not the socket's (graphql-ws would close it with 4500).
          return error instanceof GraphQLError ? [error] : unexpected(error);
        }
      },
    },
    wss,
  );

  return {
    refuseNew() {
      refusing = true;
    },
    async close() {
      refusing = true;
      const disposed = graphqlWs.dispose();
      await Promise.race([disposed, sleep(CLOSE_GRACE_MS)]);
      // A client that does not answer the close handshake would hold ws' close for 30 s.
      for (const client of wss.clients) client.terminate();
      await disposed;
    },
  };
}

/**
 * Browsers send cookies and no CORS preflight with a WebSocket handshake, so any page could open a
 * socket to a gateway that lets anonymous callers in (AUTH_MODE=none) and spend money. A browser
 * always sends Origin: allow the gateway's own origin (the demo page) and CORS_ORIGINS, as HTTP does.
 * Clients outside browsers send no Origin and are let through, to authenticate like any other.
 */
function originAllowed(request: IncomingMessage, corsOrigins: string[] | undefined): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  if (corsOrigins && (corsOrigins.includes('*') || corsOrigins.includes(origin))) return true;
  try {
    // Host, not scheme: behind a TLS proxy the page is https and the request here plain http.
    return new URL(origin).host.toLowerCase() === request.headers.host?.toLowerCase();
  } catch {
    return false;
  }
}

/**
 * A stream whose credential lapsed (SSE sends that as a last `next` with the error, then `complete`)
 * ends here with an `error` message instead, as an operation refused at its start does: thrown from
 * the stream, graphql-ws sends it through onError, formatted like every other error.
 */
function endAtLapse(result: ExecutionResult): ExecutionResult {
  const lapse = result.errors?.find((error) => error instanceof CredentialLapsed);
  if (lapse) throw lapse;
  return result;
}

/** The error as sent: with the operation's request id, without `extensions.http`. */
function formatted(error: GraphQLError, requestId: string | undefined): GraphQLFormattedError {
  const { extensions, ...rest } = error.toJSON();
  const { http: _http, ...kept }: Record<string, unknown> = { ...extensions, ...(requestId ? { requestId } : {}) };
  return Object.keys(kept).length > 0 ? { ...rest, extensions: kept } : rest;
}

function refuseUpgrade(socket: Duplex, status: number, reason: string) {
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
