import { randomUUID } from 'node:crypto';
import type { AtlasClient, CreatedPrediction } from '../atlas/client.ts';
import { AtlasError } from '../atlas/errors.ts';
import { newAtlasWebhookToken } from '../atlas/webhooks/token.ts';
import type { Principal } from '../auth/principal.ts';
import type { Db } from '../db/database.ts';
import type { PredictionRow, StoredInput, UploadRow, WebhookEventKind } from '../db/schema.ts';
import { ErrorCode } from '../errorCodes.ts';
import type { Logger } from '../log.ts';
import { type ModelRequest, modelOf, type UpstreamRequest } from '../models/index.ts';
import type { JobMetrics } from '../observability/metrics.ts';
import { DEFAULT_WEBHOOK_EVENTS } from '../webhooks/outbound/event.ts';
import { webhookUrlProblem } from '../webhooks/outbound/url.ts';
import { admit } from './admission.ts';
import { type Prices, priceOf } from './pricing.ts';
import type { SubmissionRecorder } from './recorder.ts';
import { applyChange } from './transitions.ts';

export interface GenerateDeps {
  db: Db;
  atlas: AtlasClient;
  log: Logger;
  pollIntervalMs: number;
  /** Longest a create call can take; a STARTING row much older than this was abandoned by a crash. */
  upstreamTimeoutMs: number;
  prices: Prices;
  recorder: SubmissionRecorder;
  /** PREDICTION_TIMEOUT_MS: how long a job may run when the caller set no timeoutSeconds. */
  predictionTimeoutMs: number;
  /** LIMIT_DAILY_SPEND_USD_TOTAL: the gateway-wide budget; undefined means none. */
  dailySpendUsdTotal: number | undefined;
  /** Jobs stored and ended here, for metrics. */
  metrics?: JobMetrics;
  /** Set with PUBLIC_URL: each job asks Atlas for a signed webhook, and is polled only every `pollIntervalMs`. */
  atlasWebhooks?: { publicUrl: string; pollIntervalMs: number } | undefined;
  /** Copy each job's outputs into the gateway's storage before it is SUCCEEDED (STORAGE_URL is not none). */
  mirrorOutputs?: boolean;
  /** The URL Atlas fetches an upload's bytes from (the upload hand-off; see predictions/mediaUrls.ts). */
  uploadUrl?: ((upload: UploadRow, log: Logger) => Promise<string>) | undefined;
  webhooks: {
    /** A WEBHOOK_SIGNING_SECRET is set: without one, callers may not ask for webhooks. */
    enabled: boolean;
    /** Outside production: plain http to a loopback host. */
    allowLoopback: boolean;
  };
}

/** Where the caller's backend is told of this job's changes, and of which ones (default: COMPLETED). */
export interface WebhookRequest {
  url: string;
  events?: readonly WebhookEventKind[] | null | undefined;
}

/** A webhook the gateway will not take; `field` is the input path. Nothing was stored. */
export class WebhookRefused extends Error {
  constructor(
    readonly field: string,
    readonly rule: string,
  ) {
    super(`${field} ${rule}`);
  }
}

/**
 * Input the chosen model refuses (media not the caller's, not READY, not fit for it; a parameter past
 * its rules): each issue names its input field. Nothing was stored.
 */
export class FieldsRefused extends Error {
  constructor(readonly issues: { field: string; message: string }[]) {
    super(issues.map((issue) => `${issue.field} ${issue.message}`).join('; '));
  }
}

export interface Submission {
  /** Checked against its model's rules, defaults filled in; media as the caller named it. */
  request: ModelRequest;
  /** The uploads its media names, the caller's and usable (UploadService.use): their bytes go upstream. */
  uploads?: ReadonlyMap<string, UploadRow> | undefined;
  /** The caller's key for this submission: a repeat within 24 hours returns the same prediction. */
  idempotencyKey?: string | null | undefined;
  /** End the job FAILED TIMED_OUT if it has not finished after this long, instead of PREDICTION_TIMEOUT_MS. */
  timeoutSeconds?: number | null | undefined;
  webhook?: WebhookRequest | null | undefined;
}

/** Room beyond the create call's timeout for the database writes around it (and clock skew between hosts). */
const submitMarginMs = (timeoutMs: number) => Math.min(timeoutMs, 30_000);

/** The submission failed; the prediction is stored as FAILED and `cause` says why. */
export class SubmissionFailed extends Error {
  constructor(
    readonly prediction: PredictionRow,
    override readonly cause: AtlasError,
  ) {
    super(cause.message);
  }
}

/**
 * Admit the job (idempotency key, the caller's limits) and store it, then submit it upstream exactly
 * once. A repeated idempotency key returns the earlier prediction without submitting anything. If
 * this process dies between storing and submitting, the row's first poll comes due after the create
 * call could have finished, and the poller ends it as SUBMISSION_UNKNOWN rather than submitting again
 * (with an Atlas webhook, only at its deadline: Atlas' delivery may name its id first, see orphans.ts).
 */
export async function generateVideo(
  deps: GenerateDeps,
  principal: Principal,
  { request, uploads, idempotencyKey, timeoutSeconds, webhook: asked }: Submission,
): Promise<PredictionRow> {
  const webhook = asked ? checkWebhook(deps, asked) : undefined;
  const model = modelOf(request.model);
  const now = new Date();
  // Where Atlas is to call back (with PUBLIC_URL); not the caller's own webhook above.
  const atlasCallback = deps.atlasWebhooks ? newAtlasWebhookToken(deps.atlasWebhooks.publicUrl) : undefined;
  // Before anything is stored: handing an upload over may take a while (uploadMedia), and must not eat
  // into the time the stored row gives the create call before a poller takes it for abandoned.
  const upstream = await upstreamRequest(deps, request, uploads);
  const admitted = await admit(deps, principal, {
    request: { ...request, timeoutSeconds, webhook },
    idempotencyKey,
    values: {
      id: randomUUID(),
      status: 'STARTING',
      model: model.id,
      mode: model.mode,
      input: storedInput(request),
      // Kept as columns too, where the mode has them: older processes read these (see schema.ts).
      prompt: request.prompt ?? null,
      resolution: request.resolution,
      aspectRatio: request.aspectRatio ?? null,
      duration: request.duration ?? null,
      seed: request.seed ?? null,
      priceUsd: priceOf(model, request, deps.prices),
      mirrorOutputs: deps.mirrorOutputs ?? false,
      // Set here, not by Postgres: millisecond precision, so list cursors (which carry milliseconds) match exactly.
      createdAt: now,
      updatedAt: now,
      nextPollAt: new Date(now.getTime() + deps.upstreamTimeoutMs + submitMarginMs(deps.upstreamTimeoutMs)),
      deadlineAt: new Date(now.getTime() + (timeoutSeconds ? timeoutSeconds * 1000 : deps.predictionTimeoutMs)),
      atlasWebhookTokenHash: atlasCallback?.hash ?? null,
      webhookUrl: webhook?.url ?? null,
      webhookEvents: webhook?.events ?? null,
    },
  });
  if (admitted.repeated) return admitted.row;
  const stored = admitted.row;
  deps.metrics?.submitted();
  // While this runs, this process' poller must not take the row for abandoned, however slow it is.
  const done = deps.recorder.submitting(stored.id);
  try {
    return await submit(deps, stored, upstream, atlasCallback?.url);
  } finally {
    done();
  }
}

/** The webhook as it will be stored (events deduplicated, in a fixed order), or WebhookRefused. */
function checkWebhook(
  deps: GenerateDeps,
  { url, events }: WebhookRequest,
): { url: string; events: WebhookEventKind[] } {
  if (!deps.webhooks.enabled) {
    throw new WebhookRefused(
      'input.webhook',
      'cannot be used here: this gateway has no WEBHOOK_SIGNING_SECRET to sign deliveries with',
    );
  }
  const problem = webhookUrlProblem(url, { allowLoopback: deps.webhooks.allowLoopback });
  if (problem) throw new WebhookRefused('input.webhook.url', problem);
  const asked = events ?? DEFAULT_WEBHOOK_EVENTS;
  return { url, events: (['STARTED', 'UPDATED', 'COMPLETED'] as const).filter((kind) => asked.includes(kind)) };
}

/** predictions.input: the request less its model (a column of its own), media as the caller named it. */
function storedInput({ model: _model, media, ...params }: ModelRequest): StoredInput {
  const kept = Object.fromEntries(Object.entries(params).filter(([, value]) => value !== undefined && value !== null));
  return {
    ...kept,
    media: (media ?? []).map((ref) =>
      ref.uploadId ? { role: ref.role, uploadId: ref.uploadId } : { role: ref.role, url: ref.url! },
    ),
  };
}

/** An upload could not be handed to Atlas (its uploadMedia failed); nothing was stored or submitted. */
export class MediaHandoffFailed extends Error {
  constructor(override readonly cause: AtlasError) {
    super(cause.message);
  }
}

/**
 * The request as Atlas takes it: each upload's media as a URL Atlas can fetch (the upload hand-off).
 * Runs before the job is stored; a failure is MediaHandoffFailed, with an upstream code that is never
 * SUBMISSION_UNKNOWN: no job was submitted.
 */
async function upstreamRequest(
  deps: GenerateDeps,
  request: ModelRequest,
  uploads: ReadonlyMap<string, UploadRow> | undefined,
): Promise<UpstreamRequest> {
  if (!request.media?.length) return { ...request, media: undefined };
  try {
    const media = await Promise.all(
      request.media.map(async (ref) => {
        if (ref.url !== undefined) return { role: ref.role, url: ref.url };
        const upload = uploads?.get(ref.uploadId);
        if (!upload || !deps.uploadUrl) throw new Error(`upload ${ref.uploadId} has no URL for Atlas here`);
        return { role: ref.role, url: await deps.uploadUrl(upload, deps.log) };
      }),
    );
    return { ...request, media };
  } catch (error) {
    deps.log.warn('media could not be handed to Atlas', { error });
    throw new MediaHandoffFailed(
      error instanceof AtlasError && error.code !== ErrorCode.SUBMISSION_UNKNOWN
        ? error
        : new AtlasError(
            ErrorCode.UPSTREAM_UNAVAILABLE,
            'An upload could not be made available to Atlas Cloud; nothing was stored or submitted',
          ),
    );
  }
}

async function submit(
  deps: GenerateDeps,
  stored: PredictionRow,
  request: UpstreamRequest,
  webhookUrl: string | undefined,
): Promise<PredictionRow> {
  const { db, atlas, log } = deps;

  let created: CreatedPrediction;
  try {
    created = await atlas.createVideo(request, { log, webhookUrl });
  } catch (error) {
    const failure =
      error instanceof AtlasError
        ? error
        : new AtlasError(
            ErrorCode.SUBMISSION_UNKNOWN,
            'The submission failed in an unexpected way; the job may have been created and billed',
          );
    if (!(error instanceof AtlasError)) log.error('unexpected submission error', { predictionId: stored.id, error });
    const failed = await applyChange(
      db,
      { log, metrics: deps.metrics },
      stored.id,
      {
        status: 'FAILED',
        errorCode: failure.code,
        error: failure.message,
        upstreamRequestId: failure.details.requestId ?? null,
        completedAt: new Date(),
        nextPollAt: null,
      },
      { source: { via: 'submission' }, stored },
    );
    log.warn('prediction submission failed', {
      predictionId: stored.id,
      code: failure.code,
      upstreamRequestId: failure.details.requestId,
      // With its cause: a refused connection, a reset, a timeout, as the network said it.
      error: failure,
    });
    throw new SubmissionFailed(failed?.row ?? stored, failure);
  }

  const { prediction, requestId } = created;
  log.info('prediction submitted', {
    predictionId: stored.id,
    upstreamId: prediction.id,
    upstreamRequestId: requestId,
  });
  // The job exists and is paid for upstream: its id is stored now, or kept (on disk) until it can be.
  // With a webhook on its way, polling is only the safety net: the first poll (and each after) comes
  // much later, but never past the deadline (one millisecond after it, so that poll ends the job).
  const webhookPollMs = webhookUrl ? deps.atlasWebhooks?.pollIntervalMs : undefined;
  const nextPollAt =
    webhookPollMs === undefined
      ? undefined
      : new Date(Math.min(Date.now() + webhookPollMs, (stored.deadlineAt?.getTime() ?? Number.POSITIVE_INFINITY) + 1));
  return (await deps.recorder.record(stored.id, created, { nextPollAt, stored })) ?? stored;
}
