/**
 * The gateway, wired: its services (services.ts), the GraphQL server over them (graphqlServer.ts),
 * the HTTP routes in front (http/gatewayRoutes.ts) with graphql-ws on the same port (websocket.ts),
 * and the order it stops in (shutdown.ts). main.ts starts one; the tests start many.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LoopHealth } from './background/loopHealth.ts';
import type { Config } from './config.ts';
import { type Database, openDatabase } from './db/database.ts';
import { createGraphQLServer, type GraphQLServer } from './graphqlServer.ts';
import { gatewayRoutes } from './http/gatewayRoutes.ts';
import { createHttpServer } from './http/routes.ts';
import type { Logger } from './log.ts';
import type { MirrorWorker } from './mirror/worker.ts';
import type { GatewayMetrics } from './observability/metrics.ts';
import type { Readiness } from './observability/readiness.ts';
import type { PredictionEvents } from './predictions/events.ts';
import type { Poller } from './predictions/poller.ts';
import { startServices } from './services.ts';
import { shutDown } from './shutdown.ts';
import type { AtlasSimulator } from './simulator/atlasSimulator.ts';
import type { Dispatcher } from './webhooks/outbound/dispatcher.ts';
import { serveGraphQLOverWebSocket } from './websocket.ts';

export { CSRF_HEADER } from './graphqlServer.ts';

export interface Gateway {
  yoga: GraphQLServer;
  server: Server;
  database: Database;
  poller: Poller;
  mirror: MirrorWorker;
  /** Delivers callers' webhooks; undefined without WEBHOOK_SIGNING_SECRET. */
  dispatcher: Dispatcher | undefined;
  events: PredictionEvents;
  readiness: Readiness;
  /** The background loops' health: /ready reads it, and tests wait on their cycles. */
  loops: LoopHealth;
  /** This gateway's metrics, in a registry of its own; served at /metrics. */
  metrics: GatewayMetrics;
  /** Set when no key was configured and the built-in simulator stands in for Atlas Cloud. */
  simulator: AtlasSimulator | undefined;
  listen(port?: number, host?: string): Promise<string>;
  /** `reason`: what asked for it (a signal's name), for the log. */
  close(reason?: string): Promise<void>;
}

/** Everything the gateway runs, wired together; `close` takes it down in the right order. */
export async function createGateway(
  config: Config,
  log: Logger,
  /**
   * An open (or opening) database to use instead of the configured one. The caller keeps and closes
   * it, unless `owned`: then it is the gateway's, closed with it (main.ts opens it early, see there).
   */
  shared?: { database: Database | Promise<Database>; owned?: boolean },
): Promise<Gateway> {
  const database = (await shared?.database) ?? (await openDatabase(config.database));
  const ownsDatabase = !shared || shared.owned === true;
  const services = await startServices(config, log, database);
  const yoga = createGraphQLServer(config, log, services);
  const server = createHttpServer(gatewayRoutes(config, log, yoga, services), { log, timeouts: config.http });
  // graphql-ws on the same path and port, for Apollo Client and GraphQL IDEs; SSE stays the typed client's.
  const webSocket = serveGraphQLOverWebSocket({
    server,
    yoga,
    authenticate: services.authenticate,
    persistedOperations: config.persistedOperations,
    corsOrigins: config.corsOrigins,
    log,
    metrics: services.metrics,
  });
  const { poller, mirror, dispatcher, events, readiness, loops, metrics, simulator } = services;

  return {
    yoga,
    server,
    database,
    poller,
    mirror,
    dispatcher,
    events,
    readiness,
    loops,
    metrics,
    simulator,
    async listen(port = config.port, host = config.host) {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve());
      });
      const address = server.address() as AddressInfo;
      const url = `http://${host.includes(':') ? `[${address.address}]` : address.address}:${address.port}/graphql`;
      log.info('gateway listening', { url, database: database.kind, upstream: simulator ? 'simulator' : 'atlas' });
      return url;
    },
    close: (reason?: string) =>
      shutDown({
        reason,
        services,
        server,
        webSocket,
        drainMs: config.upstreamTimeoutMs + 5_000,
        ownsDatabase,
        log,
      }),
  };
}
