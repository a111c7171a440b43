/**
 * Everything the gateway runs behind its HTTP server, built and started in order: the upstream (Atlas
 * Cloud, or the built-in simulator), the domain's services, and the background loops (poller, mirror,
 * webhook dispatcher) with the health /ready reads. No HTTP here: src/server.ts puts it in front.
 */
import { AtlasClient } from './atlas/client.ts';
import { AtlasWebhookKeys } from './atlas/webhooks/keys.ts';
import { atlasWebhookReceiver } from './atlas/webhooks/receiver.ts';
import { type Authenticate, createAuthenticator } from './auth/authenticate.ts';
import { CredentialWatch } from './auth/credentialWatch.ts';
import { KeyAdmin } from './auth/keyAdmin.ts';
import { LoopHealth } from './background/loopHealth.ts';
import type { Config } from './config.ts';
import { journalDir } from './dataDir.ts';
import type { Database } from './db/database.ts';
import { readGauges } from './db/queries/gaugeReadings.ts';
import { spendingSince } from './db/queries/spending.ts';
import type { Logger } from './log.ts';
import { type MirrorWorker, startMirrorWorker } from './mirror/worker.ts';
import { GatewayMetrics, type JobMetrics } from './observability/metrics.ts';
import { Readiness } from './observability/readiness.ts';
import { startTracing, type Tracing } from './observability/tracing.ts';
import { startOfUtcDay } from './predictions/admission.ts';
import { PredictionCache } from './predictions/cache.ts';
import { PredictionEvents } from './predictions/events.ts';
import { upstreamUploadUrl } from './predictions/mediaUrls.ts';
import { POLL_MAX_BACKOFF_MS, type Poller, startPoller } from './predictions/poller.ts';
import { wakesCopier, wakesPoller } from './predictions/pollSchedule.ts';
import { SubmissionRecorder } from './predictions/recorder.ts';
import { PredictionService } from './predictions/service.ts';
import { SubmissionJournal } from './predictions/submissionJournal.ts';
import { type AtlasSimulator, startAtlasSimulator } from './simulator/atlasSimulator.ts';
import { OutputLinks, openVideoStorage } from './storage/index.ts';
import type { VideoStorage } from './storage/storage.ts';
import { startUploads, type Uploads } from './uploads/index.ts';
import { type Dispatcher, startWebhookDispatcher } from './webhooks/outbound/dispatcher.ts';

export interface GatewayServices {
  database: Database;
  /** Set when no key was configured and the built-in simulator stands in for Atlas Cloud. */
  simulator: AtlasSimulator | undefined;
  atlas: AtlasClient;
  /** This gateway's metrics, in a registry of its own. */
  metrics: GatewayMetrics;
  events: PredictionEvents;
  /** Stores what was submitted upstream, through a journal on disk when the database is away. */
  recorder: SubmissionRecorder;
  /** What the GraphQL operations call. */
  predictions: PredictionService;
  /** Media callers upload for the models that start from it: the service, its PUT route and its sweeper. */
  uploads: Uploads;
  /** Every background loop reports its completed cycles here; /ready names one that stopped. */
  loops: LoopHealth;
  poller: Poller;
  mirror: MirrorWorker;
  /** Delivers callers' webhooks; undefined without WEBHOOK_SIGNING_SECRET. */
  dispatcher: Dispatcher | undefined;
  /** Where the outputs are copied; undefined when they are not. */
  storage: VideoStorage | undefined;
  links: OutputLinks;
  authenticate: Authenticate;
  /** API keys, managed by admins over GraphQL. */
  keys: KeyAdmin;
  /** Streams outlive the request that checked their credential: they end when it stops holding. */
  credentials: CredentialWatch;
  readiness: Readiness;
  /** Takes Atlas' signed deliveries; undefined without PUBLIC_URL. */
  receiveAtlasWebhook: ReturnType<typeof atlasWebhookReceiver> | undefined;
  /** Traces over OTLP; inert without OTEL_EXPORTER_OTLP_ENDPOINT. */
  tracing: Tracing;
}

/** Builds and starts the gateway's services on an open database; src/shutdown.ts stops them. */
export async function startServices(config: Config, log: Logger, database: Database): Promise<GatewayServices> {
  // First, so the background loops' work started below can be traced.
  const tracing = await startTracing(config.tracing, log);
  const { simulator, atlas: upstream } = await upstreamOf(config, log);
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
  // Every background loop reports here; /ready and /metrics read it.
  const loops = new LoopHealth();
  const events = new PredictionEvents(database, log, cache, () => metrics.listenReconnected());
  await events.start();
  metrics.watch({
    openStreams: () => events.openStreams,
    poolSize: database.poolSize,
    readDatabase: async () => {
      // One after the other: the gauge counts this process' busy connections, and a second read in
      // flight beside it would count itself.
      const { unfinishedJobs, connectionsInUse, pollOverdueSeconds } = await readGauges(
        database.db,
        database.applicationName,
        {
          pollIntervalMs: config.pollIntervalMs,
          webhookPollIntervalMs: config.atlasWebhooks?.pollIntervalMs,
          maxBackoffMs: POLL_MAX_BACKOFF_MS,
        },
      );
      // The day admission counts a daily budget over (admission.ts).
      const { totalUsd, topCallerUsd } = await spendingSince(database.db, startOfUtcDay(new Date()));
      // PGlite is one connection, in use by the process all along.
      return {
        unfinishedJobs,
        pollOverdueSeconds,
        poolInUse: connectionsInUse ?? 1,
        spentTodayUsd: totalUsd,
        topCallerSpentTodayUsd: topCallerUsd,
      };
    },
    loops: () => loops.ages(),
    budgets: { totalUsd: config.limits.dailySpendUsdTotal, perCallerUsd: config.limits.dailySpendUsd },
  });
  const recorder = new SubmissionRecorder({
    db: database.db,
    log,
    journal: new SubmissionJournal(journalDir(config.dataDir)),
    pollIntervalMs: config.pollIntervalMs,
    metrics,
  });
  recorder.resume();
  // What the poller and the prediction service share.
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
  // A change (from this process or another) that makes a poll due soon, or holds a success for its
  // copy, ends the poller's or the copier's idle pace at once.
  events.onAnyChange(({ nextPollAt, mirrorNextAt }) => {
    const now = Date.now();
    if (wakesPoller(nextPollAt, now)) poller.wake();
    if (wakesCopier(mirrorNextAt, now)) mirror.wake();
  });
  const links = new OutputLinks(storage, config.videoUrls.ttlSeconds, config.videoUrls.baseUrl);
  const uploads = await startUploads({
    config,
    db: database.db,
    databaseKind: database.kind,
    atlas,
    videoStorage: storage,
    log,
    health: loops,
  });
  const predictions = new PredictionService({
    ...deps,
    events,
    cache,
    uploadUrl: (upload, log) => upstreamUploadUrl(uploads.service, upload, log),
    simulatedJobMs: simulator ? config.simulatorJobMs : undefined,
  });
  // Without a signing secret no webhook is accepted, so there is nothing to deliver.
  const { signingSecret, ...webhookOptions } = config.webhooks;
  const dispatcher: Dispatcher | undefined = signingSecret
    ? await startWebhookDispatcher({ ...webhookOptions, signingSecret, database, log, health: loops })
    : undefined;
  const authenticate = createAuthenticator(config, database.db, log);
  const credentials = new CredentialWatch({ db: database.db, log });
  if (config.auth.methods.includes('none')) {
    log.warn(
      `AUTH_MODE includes none: anyone who can reach ${config.host}:${config.port} can submit jobs and spend money${config.auth.explicit ? '' : ' (the development default; set AUTH_MODE)'}`,
    );
  }
  const readiness = new Readiness(database, log, loops);
  readiness.watchDataDir(config.dataDir);
  await readiness.start();

  return {
    database,
    simulator,
    atlas,
    metrics,
    events,
    recorder,
    predictions,
    uploads,
    loops,
    poller,
    mirror,
    dispatcher,
    storage,
    links,
    authenticate,
    keys: new KeyAdmin(database.db),
    credentials,
    readiness,
    receiveAtlasWebhook,
    tracing,
  };
}

/** Atlas Cloud as configured, or without a key the built-in simulator, started here. */
async function upstreamOf(
  config: Config,
  log: Logger,
): Promise<{ atlas: NonNullable<Config['atlas']>; simulator: AtlasSimulator | undefined }> {
  if (config.atlas) return { atlas: config.atlas, simulator: undefined };
  const simulator = await startAtlasSimulator({ jobMs: config.simulatorJobMs });
  log.warn(
    'SIMULATING Atlas Cloud: ATLASCLOUD_API_KEY is not set, so jobs go to the built-in simulator and nothing is billed',
    { simulator: simulator.url },
  );
  // Any key will do; one that appears in no reply text, as the client redacts the key from replies.
  return { atlas: { baseUrl: simulator.url, apiKey: 'no-key-simulated' }, simulator };
}

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
