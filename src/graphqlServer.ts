/**
 * The GraphQL server (Yoga) over the schema: each request's context, CORS, GraphiQL, which errors
 * clients see (masking), how Yoga's own log lines are written, and the plugins every operation goes
 * through. Transport-free: src/http/gatewayRoutes.ts serves it over HTTP, src/websocket.ts over graphql-ws.
 */
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import { GraphQLError } from 'graphql';
import { createYoga, maskError, type YogaServerInstance } from 'graphql-yoga';
import type { Config } from './config.ts';
import { isDatabaseUnavailable } from './db/unavailable.ts';
import { ERROR_CODES, ErrorCode } from './errorCodes.ts';
import { MAX_GRAPHQL_BODY_BYTES, withoutParserDetails } from './graphqlBody.ts';
import type { Logger } from './log.ts';
import { RequestScopes, type RequestServerContext } from './observability/requestId.ts';
import { persistedOperations } from './persistedOperations.ts';
import { disableIntrospection, queryLimits } from './queryLimits.ts';
import type { GatewayContext } from './schema/builder.ts';
import { endStreamsWhenCredentialsLapse } from './schema/credentialLapse.ts';
import { expectedGraphQLError } from './schema/errors.ts';
import { schema } from './schema/index.ts';
import { useVariableErrorsAsBadInput } from './schema/variableErrors.ts';
import type { GatewayServices } from './services.ts';

export type GraphQLServer = YogaServerInstance<RequestServerContext, GatewayContext>;

/** The header browsers cannot send cross-site without a CORS preflight; required on non-JSON requests. */
export const CSRF_HEADER = 'x-graphql-csrf';

/** What GraphiQL opens with: the whole flow, ready to run. */
const GRAPHIQL_START = `# Submit a job, then paste its id into the subscription and run that to follow it live.
mutation Generate {
  generateVideo(input: { prompt: "A white horse galloping along a beach at sunrise", duration: 5 }) {
    prediction { id status }
  }
}

subscription Follow {
  predictionUpdated(id: "paste-the-id-here") { status videoUrl error errorCode }
}

query Recent {
  predictions(first: 10) { edges { node { id prompt status videoUrl createdAt } } }
}
`;

export function createGraphQLServer(
  config: Config,
  log: Logger,
  { predictions, uploads, authenticate, links, credentials, metrics, tracing, keys }: GatewayServices,
): GraphQLServer {
  const scopes = new RequestScopes(log);
  const maskUnexpected = maskUnexpectedErrors(scopes);
  return createYoga<RequestServerContext, GatewayContext>({
    schema,
    // Every transport (POST, GET, SSE) builds its context here, before any operation runs.
    context: async ({ request, requestId, origin }) => {
      const scope = scopes.of(request, { requestId });
      // A credential that does not hold throws Unauthenticated: maskError makes it a 401 (schema/errors.ts).
      return {
        predictions,
        uploads: uploads.service,
        keys,
        principal: await authenticate(request.headers.get('authorization'), scope.log),
        ...scope,
        // The transports' own origin (publicOrigin.ts); yoga.fetch (tests) has only the URL.
        videos: { links, origin: origin ?? new URL(request.url).origin },
      };
    },
    // No CORS_ORIGINS: no CORS headers at all, so browsers allow the page's own origin only. An
    // origin not on the list gets none either (Yoga would name the one allowed origin to anyone).
    cors: (request) => {
      const origin = request.headers.get('origin');
      const allowed = config.corsOrigins;
      if (!allowed || !origin || !(allowed.includes('*') || allowed.includes(origin))) return false;
      return {
        origin: [origin],
        // Bearer tokens, not cookies, carry identity; `*` must not be combined with credentials.
        credentials: !allowed.includes('*'),
        allowedHeaders: ['authorization', 'content-type', 'accept', CSRF_HEADER],
        methods: ['GET', 'POST', 'OPTIONS'],
        maxAge: 600,
      };
    },
    graphiql: config.graphiql ? { title: 'HappyHorse gateway', defaultQuery: GRAPHIQL_START } : false,
    // GraphiQL from this package, not a CDN: it works offline and behind strict egress rules. Loaded
    // when first asked for: it is a quarter of the gateway's import time.
    renderGraphiQL: async (options) => (await import('@graphql-yoga/render-graphiql')).renderGraphiQL(options),
    landingPage: false,
    // The same cap as the Node server's own read of JSON bodies (graphqlBody.ts), for the other kinds.
    maxRequestBodySize: MAX_GRAPHQL_BODY_BYTES,
    // The domain's errors become the GraphQL errors they mean (schema/errors.ts). Details of unexpected
    // errors go to the log, never to clients; a database that cannot be reached is said plainly (and
    // logged), as it is worth a retry.
    maskedErrors: {
      isDev: false,
      maskError: (error, message, isDev) => expectedGraphQLError(error) ?? maskUnexpected(error, message, isDev),
    },
    // Yoga's debug lines ("Parsing request …", several per request) cannot say which request they
    // are about, so they are dropped: every line written while serving a request carries its id.
    logging: {
      debug: () => {},
      info: yogaLog(scopes, log, 'info'),
      warn: yogaLog(scopes, log, 'warn'),
      error: yogaLog(scopes, log, 'error'),
    },
    plugins: [
      // First: the operation's span is open while the other plugins and the resolvers run.
      ...tracing.yogaPlugins,
      // A GET or a form post (which browsers send cross-site without asking) must carry this header.
      useCSRFPrevention({ requestHeaders: [CSRF_HEADER] }),
      queryLimits(),
      ...(config.introspection ? [] : [disableIntrospection()]),
      persistedOperations(config.persistedOperations),
      useVariableErrorsAsBadInput(),
      endStreamsWhenCredentialsLapse(credentials),
      ...(config.nodeEnv === 'production' ? [withoutParserDetails()] : []),
      scopes.plugin(),
      ...metrics.yogaPlugins(),
    ],
  });
}

/**
 * An error no mapping expected: masked (logged with its request's id), or a database that cannot be
 * reached, said plainly as it is worth a retry.
 */
function maskUnexpectedErrors(scopes: RequestScopes) {
  return scopes.maskError((error, message, isDev) =>
    isDatabaseUnavailable(error instanceof GraphQLError ? (error.originalError ?? error) : error)
      ? new GraphQLError('The database cannot be reached right now; try again shortly', {
          extensions: {
            code: ErrorCode.DATABASE_UNAVAILABLE,
            http: { status: ERROR_CODES.DATABASE_UNAVAILABLE.httpStatus },
          },
        })
      : maskError(error, message, isDev),
  );
}

/**
 * Yoga logs an unexpected (masked) error as the error itself. Those of a request are logged by
 * RequestScopes with its id; any other is passed as a field, so the log has its stack and causes.
 */
function yogaLog(scopes: RequestScopes, log: Logger, level: 'info' | 'warn' | 'error') {
  return (...args: unknown[]) => {
    const [first, ...rest] = args;
    const details = rest.length > 0 ? { details: rest } : {};
    if (first instanceof Error) {
      // Yoga logs each error maskError replaced: the expected ones (a refusal, a 401) are not failures.
      if (!scopes.loggedWithRequest(first) && !expectedGraphQLError(first))
        log[level]('request failed unexpectedly', { error: first, ...details });
    } else log[level](String(first), details);
  };
}
