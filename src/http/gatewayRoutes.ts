/**
 * Which route serves what, in the order they are tried (routes.ts runs them behind its guard):
 *
 *   /graphql            GraphQL over HTTP and SSE (Yoga); graphql-ws shares the path (websocket.ts)
 *   /webhooks/atlas/    Atlas' signed deliveries, with PUBLIC_URL
 *   /videos/            the gateway's copies of the outputs, with file storage
 *   /health, /ready     readiness.ts
 *   /metrics            metrics.ts
 *   /, /demo.js         the demo page
 */
import { context, propagation } from '@opentelemetry/api';
import { ATLAS_WEBHOOK_PATH, type Config } from '../config.ts';
import { demoPage } from '../demo/page.ts';
import { isGraphQLJsonPost, readGraphQLJsonBody } from '../graphqlBody.ts';
import type { GraphQLServer } from '../graphqlServer.ts';
import type { Logger } from '../log.ts';
import { metricsRoute } from '../observability/metrics.ts';
import type { RequestServerContext } from '../observability/requestId.ts';
import { publicOrigin } from '../publicOrigin.ts';
import type { GatewayServices } from '../services.ts';
import { FileStorage } from '../storage/fileStorage.ts';
import type { Route } from './routes.ts';

export function gatewayRoutes(
  config: Config,
  log: Logger,
  yoga: GraphQLServer,
  { receiveAtlasWebhook, storage, uploads, readiness, metrics }: GatewayServices,
): Route[] {
  const demo = demoPage({ persisted: config.persistedOperations === 'only', log });
  const serveMetrics = metricsRoute(metrics, config.metricsToken, log);
  return [
    // GraphQL first: the hot path does not wait on the other routes.
    graphQLRoute(yoga),
    async ({ req, res, path }) => {
      if (!receiveAtlasWebhook || !path.startsWith(ATLAS_WEBHOOK_PATH)) return false;
      await receiveAtlasWebhook(req, res);
      return true;
    },
    ({ req, res, path }) => path.startsWith('/videos/') && storage instanceof FileStorage && storage.serve(req, res),
    uploads.route,
    ({ req, res, log }) => readiness.serve(req, res, log),
    ({ req, res, log }) => serveMetrics(req, res, log),
    ({ req, res }) => demo(req, res),
  ];
}

/** The GraphQL endpoint and below; a JSON POST's body is read here, up to its cap (graphqlBody.ts). */
function graphQLRoute(yoga: GraphQLServer): Route {
  // Read once: the server adapter is a Proxy, and each property read goes through its trap.
  const endpoint = yoga.graphqlEndpoint;
  const below = `${endpoint}/`;
  return async ({ req, res, path, requestId }) => {
    if (path !== endpoint && !path.startsWith(below)) return false;
    const serverContext: RequestServerContext = { requestId, origin: publicOrigin(req) };
    if (isGraphQLJsonPost(req)) {
      try {
        if (!(await readGraphQLJsonBody(req, res, requestId))) return true; // refused (413), answered there
      } catch (error) {
        if (req.destroyed) return true; // the client went away mid-body: nobody to answer
        throw error;
      }
    }
    // A caller's `traceparent` becomes the parent of the operation's span (observability/tracing.ts);
    // without tracing, the API's propagator is a no-op and this context is the current one.
    await context.with(propagation.extract(context.active(), req.headers), () => yoga(req, res, serverContext));
    return true;
  };
}
