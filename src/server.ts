import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import { GraphQLError } from 'graphql';
import { createYoga, maskError, type YogaServerInstance } from 'graphql-yoga';
import { AtlasClient } from './atlas/client.ts';
import { AtlasWebhookKeys } from './atlas/webhooks/keys.ts';
import { atlasWebhookReceiver } from './atlas/webhooks/receiver.ts';
import { createAuthenticator } from './auth/authenticate.ts';
import { CredentialWatch } from './auth/credentialWatch.ts';
import { LoopHealth } from './background/loopHealth.ts';
import { ATLAS_WEBHOOK_PATH, type Config } from './config.ts';
import { journalDir } from './dataDir.ts';
import { type Database, openDatabase } from './db/database.ts';
import { readGauges } from './db/queries/gaugeReadings.ts';
import { isDatabaseUnavailable } from './db/unavailable.ts';
import { demoPage } from './demo/page.ts';
import { ERROR_CODES, ErrorCode } from './errorCodes.ts';
import { isGraphQLJsonPost, MAX_GRAPHQL_BODY_BYTES, readGraphQLJsonBody, withoutParserDetails } from './graphqlBody.ts';
import { createHttpServer, type Route } from './http/routes.ts';
import type { Logger } from './log.ts';
import { type MirrorWorker, startMirrorWorker } from './mirror/worker.ts';
import { GatewayMetrics, type JobMetrics, metricsRoute } from './observability/metrics.ts';
import { Readiness } from './observability/readiness.ts';
import { RequestScopes, type RequestServerContext } from './observability/requestId.ts';
import { persistedOperations } from './persistedOperations.ts';
import { PredictionCache } from './predictions/cache.ts';
import { PredictionEvents } from './predictions/events.ts';
import { POLL_MAX_BACKOFF_MS, type Poller, startPoller } from './predictions/poller.ts';
import { SubmissionRecorder } from './predictions/recorder.ts';
import { PredictionService } from './predictions/service.ts';
import { SubmissionJournal } from './predictions/submissionJournal.ts';
import { publicOrigin } from './publicOrigin.ts';
import { disableIntrospection, queryLimits } from './queryLimits.ts';
import type { GatewayContext } from './schema/builder.ts';
import { endStreamsWhenCredentialsLapse } from './schema/credentialLapse.ts';
import { expectedGraphQLError } from './schema/errors.ts';
import { schema } from './schema/index.ts';
import { useVariableErrorsAsBadInput } from './schema/variableErrors.ts';
import { type AtlasSimulator, startAtlasSimulator } from './simulator/atlasSimulator.ts';
import { FileStorage } from './storage/fileStorage.ts';
import { OutputLinks, openVideoStorage } from './storage/index.ts';
import { startUploads } from './uploads/index.ts';
import { type Dispatcher, startWebhookDispatcher } from './webhooks/outbound/dispatcher.ts';
import { serveGraphQLOverWebSocket } from './websocket.ts';

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

/** Signed deliveries from Atlas at each job's end (PUBLIC_URL set): the keys, and the route that takes them. */
function startAtlasWebhooks(
  settings: NonNullable<Config['atlasWebhooks']>,
  atlas: AtlasClient,
  database: Database,
  log: Logger,
  metrics: JobMetrics,
) {
  // By default the keys come from the upstream itself (the simulator's own, when it stands in).
  const jwksUrl = settings.jwksUrl ?? `${atlas.baseUrl}/api/v1/webhooks/jwks.json`;
  const keys = new AtlasWebhookKeys(jwksUrl, { cooldownMs: settings.jwksCooldownMs });
  log.info('atlas webhooks on: jobs ask Atlas to call back, and are polled as a safety net', {
    publicUrl: settings.publicUrl,
    jwksUrl,
    webhookPollIntervalMs: settings.pollIntervalMs,
  });
  return atlasWebhookReceiver({ db: database.db, log, keys, redactor: atlas.redactor, metrics });
}

/** The header browsers cannot send cross-site without a CORS preflight; required on non-JSON requests. */
export const CSRF_HEADER = 'x-graphql-csrf';

export interface Gateway {
  yoga: YogaServerInstance<RequestServerContext, GatewayContext>;
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
  close(): Promise<void>;
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
  let upstream = config.atlas;
  let simulator: AtlasSimulator | undefined;
  if (!upstream) {
    simulator = await startAtlasSimulator({ jobMs: config.simulatorJobMs });
    // Any key will do; one that appears in no reply text, as the client redacts the key from replies.
    upstream = { baseUrl: simulator.url, apiKey: 'no-key-simulated' };
    log.warn(
      'SIMULATING Atlas Cloud: ATLASCLOUD_API_KEY is not set, so jobs go to the built-in simulator and nothing is billed',
      {
        simulator: simulator.url,
      },
    );
  }
  const metrics = new GatewayMetrics();
  const atlas = new AtlasClient({
    ...upstream,
    timeoutMs: config.upstreamTimeoutMs,
    retries: config.upstreamRetries,
    outputExpirationHours: config.outputExpirationHours,
    log,
    onCall: (call) => metrics.upstreamCall(call),
  });

  const cache = new PredictionCache();
  const events = new PredictionEvents(database, log, cache, () => metrics.listenReconnected());
  await events.start();
  metrics.watch({
    openStreams: () => events.openStreams,
    poolSize: database.poolSize,
    readDatabase: async () => {
      const { unfinishedJobs, connectionsInUse, pollOverdueSeconds } = await readGauges(
        database.db,
        database.applicationName,
        {
          pollIntervalMs: config.pollIntervalMs,
          webhookPollIntervalMs: config.atlasWebhooks?.pollIntervalMs,
          maxBackoffMs: POLL_MAX_BACKOFF_MS,
        },
      );
      // PGlite is one connection, in use by the process all along.
      return { unfinishedJobs, pollOverdueSeconds, poolInUse: connectionsInUse ?? 1 };
    },
  });
  const recorder = new SubmissionRecorder({
    db: database.db,
    log,
    journal: new SubmissionJournal(journalDir(config.dataDir)),
    pollIntervalMs: config.pollIntervalMs,
    metrics,
  });
  recorder.resume();
  const deps = {
    db: database.db,
    atlas,
    log,
    pollIntervalMs: config.pollIntervalMs,
    upstreamTimeoutMs: config.upstreamTimeoutMs,
    prices: config.prices,
    dailySpendUsdTotal: config.limits.dailySpendUsdTotal,
    recorder,
    predictionTimeoutMs: config.predictionTimeoutMs,
    metrics,
    atlasWebhooks: config.atlasWebhooks,
    mirrorOutputs: config.mirror.storage.kind !== 'none',
    webhooks: { enabled: config.webhooks.signingSecret !== undefined, allowLoopback: config.webhooks.allowLoopback },
  };
  const receiveAtlasWebhook = config.atlasWebhooks
    ? startAtlasWebhooks(config.atlasWebhooks, atlas, database, log, metrics)
    : undefined;
  // Every background loop reports its completed cycles here; /ready names one that stopped.
  const loops = new LoopHealth();
  const poller = startPoller({
    ...deps,
    health: loops,
    webhookPollIntervalMs: config.atlasWebhooks?.pollIntervalMs,
    concurrency: config.pollConcurrency,
    predictionTimeoutMs: config.predictionTimeoutMs,
    // Outlasts a status call with all its retries, so a live poller never loses its lease.
    leaseMs: atlas.maxStatusCallMs + 5_000,
    // A row whose upstream id this process still holds is not abandoned, however long the database was away.
    isRecording: (id) => recorder.isRecording(id),
    onPoll: (poll) => metrics.pollStarted(poll),
  });
  const storage = await openVideoStorage(config, database.db);
  const mirror = startMirrorWorker({
    db: database.db,
    health: loops,
    storage,
    log,
    maxBytes: config.mirror.maxBytes,
    timeoutMs: config.mirror.timeoutMs,
    holdMs: config.mirror.holdMs,
    leaseMs: config.mirror.leaseMs,
    concurrency: config.mirror.concurrency,
    retryBaseMs: config.pollIntervalMs,
    metrics,
    // Often enough that a finished job waits little for its copy to start; without storage, only
    // jobs held by a gateway configured otherwise are released, so rarely.
    tickMs: storage ? Math.min(250, Math.max(50, config.pollIntervalMs / 4)) : 2_000,
  });
  const links = new OutputLinks(storage, config.videoUrls.ttlSeconds, config.videoUrls.baseUrl);
  const uploads = await startUploads({ config, db: database.db, videoStorage: storage, log, health: loops });

  const scopes = new RequestScopes(log);
  // An error no mapping expected: masked (logged with its request's id), or a database that cannot
  // be reached, said plainly as it is worth a retry.
  const maskUnexpected = scopes.maskError((error, message, isDev) =>
    isDatabaseUnavailable(error instanceof GraphQLError ? (error.originalError ?? error) : error)
      ? new GraphQLError('The database cannot be reached right now; try again shortly', {
          extensions: {
            code: ErrorCode.DATABASE_UNAVAILABLE,
            http: { status: ERROR_CODES.DATABASE_UNAVAILABLE.httpStatus },
          },
        })
      : maskError(error, message, isDev),
  );
  // Yoga logs an unexpected (masked) error as the error itself. Those of a request are logged by
  // RequestScopes with its id; any other is passed as a field, so the log has its stack and causes.
  const yogaLog =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (...args: unknown[]) => {
      const [first, ...rest] = args;
      const details = rest.length > 0 ? { details: rest } : {};
      if (first instanceof Error) {
        // Yoga logs each error maskError replaced: the expected ones (a refusal, a 401) are not failures.
        if (!scopes.loggedWithRequest(first) && !expectedGraphQLError(first))
          log[level]('request failed unexpectedly', { error: first, ...details });
      } else log[level](String(first), details);
    };
  const predictions = new PredictionService({ ...deps, events, cache });
  // Without a signing secret no webhook is accepted, so there is nothing to deliver.
  const { signingSecret, ...webhookOptions } = config.webhooks;
  const dispatcher: Dispatcher | undefined = signingSecret
    ? await startWebhookDispatcher({ ...webhookOptions, signingSecret, database, log, health: loops })
    : undefined;
  const authenticate = createAuthenticator(config, database.db, log);
  // Streams outlive the request that checked their credential: they end when it stops holding.
  const credentials = new CredentialWatch({ db: database.db, log });
  if (config.auth.methods.includes('none')) {
    log.warn(
      `AUTH_MODE includes none: anyone who can reach ${config.host}:${config.port} can submit jobs and spend money${config.auth.explicit ? '' : ' (the development default; set AUTH_MODE)'}`,
    );
  }
  const yoga = createYoga<RequestServerContext, GatewayContext>({
    schema,
    // Every transport (POST, GET, SSE) builds its context here, before any operation runs.
    context: async ({ request, requestId, origin }) => {
      const scope = scopes.of(request, { requestId });
      // A credential that does not hold throws Unauthenticated: maskError makes it a 401 (schema/errors.ts).
      return {
        predictions,
        uploads: uploads.service,
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
    logging: { debug: () => {}, info: yogaLog('info'), warn: yogaLog('warn'), error: yogaLog('error') },
    plugins: [
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
  const demo = demoPage({ persisted: config.persistedOperations === 'only', log });
  const readiness = new Readiness(database, log, loops);
  readiness.watchDataDir(config.dataDir);
  await readiness.start();
  const serveMetrics = metricsRoute(metrics, config.metricsToken, log);
  // GraphQL first: the hot path does not wait on the other routes.
  const serveGraphQL: Route = async ({ req, res, path, requestId }) => {
    if (path !== yoga.graphqlEndpoint && !path.startsWith(`${yoga.graphqlEndpoint}/`)) return false;
    const context: RequestServerContext = { requestId, origin: publicOrigin(req) };
    if (isGraphQLJsonPost(req)) {
      try {
        if (!(await readGraphQLJsonBody(req, res, requestId))) return true; // refused (413), answered there
      } catch (error) {
        if (req.destroyed) return true; // the client went away mid-body: nobody to answer
        throw error;
      }
    }
    await yoga(req, res, context);
    return true;
  };
  const routes: Route[] = [
    serveGraphQL,
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
  const server = createHttpServer(routes, { log, timeouts: config.http });
  // graphql-ws on the same path and port, for Apollo Client and GraphQL IDEs; SSE stays the typed client's.
  const webSocket = serveGraphQLOverWebSocket({
    server,
    yoga,
    authenticate,
    persistedOperations: config.persistedOperations,
    corsOrigins: config.corsOrigins,
    log,
    metrics,
  });

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
    async close() {
      // First of all, tell the load balancer to send no more traffic here.
      readiness.drain();
      webSocket.refuseNew();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // Submissions under way finish and are recorded: a paid job is never left half-stored.
      await predictions.drain(config.upstreamTimeoutMs + 5_000);
      // Cut the SSE streams rather than complete them: a completed stream tells a client the
      // subscription is over, a cut one makes it reconnect (to this gateway's successor) and get
      // the current state first, so a deploy loses no client.
      server.closeAllConnections();
      // WebSockets the same way: 1001 Going Away, which graphql-ws clients answer by reconnecting.
      await webSocket.close();
      await events.stop();
      credentials.stop();
      await readiness.stop();
      await Promise.race([closed, sleep(1_000)]);
      await poller.stop();
      // Messages not yet delivered stay in the outbox for any other gateway, or the next one.
      await dispatcher?.stop();
      await mirror.stop();
      await uploads.stop();
      atlas.close();
      // What is still unrecorded stays in the journal on disk for the next process.
      recorder.stop();
      await simulator?.close();
      if (ownsDatabase) await database.close();
      log.info('gateway stopped');
    },
  };
}
