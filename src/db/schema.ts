import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  doublePrecision,
  index,
  integer,
  jsonb,
  numeric,
  pgEnum,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import {
  type AspectRatio,
  type AudioSetting,
  type KnownModel,
  type Mode,
  PREDICTION_STATUSES,
  type Resolution,
  type UploadContentType,
  type UploadStatus,
} from '../vocabulary.ts';

export const predictionStatus = pgEnum('prediction_status', PREDICTION_STATUSES);

const at = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });
/** Money in US dollars, exact to a millionth. */
const usd = (name: string) => numeric(name, { precision: 14, scale: 6, mode: 'number' });

/** One output as the gateway stored it: `key` within the storage (e.g. `<id>/0.mp4`). */
export interface StoredOutputFile {
  key: string;
  contentType: string;
  sizeBytes: number;
}

/** predictions.input: the parameters the model took and its media (src/models/descriptor.ts' ModelRequest, less the model). */
export interface StoredInput {
  prompt?: string | null;
  resolution?: Resolution;
  aspectRatio?: AspectRatio | null;
  duration?: number | null;
  seed?: number | null;
  audio?: AudioSetting | null;
  media: ({ role: string; uploadId: string } | { role: string; url: string })[];
}

/** The principal every row made before callers had identities belongs to. */
export const ANONYMOUS = 'anonymous';

export const predictions = pgTable(
  'predictions',
  {
    id: uuid('id').primaryKey(),
    status: predictionStatus('status').notNull(),
    /** Who submitted it: a JWT subject, `key:<api key id>`, or `anonymous`. */
    ownerId: text('owner_id').notNull().default(ANONYMOUS),
    tenantId: text('tenant_id'),
    /** The caller's key for this submission; unique per owner (a repeat returns this row). */
    idempotencyKey: text('idempotency_key'),
    /** Hash of the validated request, so a reused key with a different request is refused. */
    requestHash: text('request_hash'),
    /** What the job costs if it is charged, fixed at submission from the configured prices. */
    priceUsd: usd('price_usd').notNull().default(0),
    /** What it was charged once finished (priceUsd or 0); null while unfinished. */
    costUsd: usd('cost_usd'),
    /**
     * The request's parameters are also kept as columns, for the modes that have them (null where the
     * mode has none: image-to-video's prompt is optional, its aspect ratio follows the image; video
     * edit's length follows its source): processes of an older release read them. `input` is the whole.
     */
    prompt: text('prompt'),
    model: text('model').$type<KnownModel>().notNull(),
    /** What the job starts from (src/models/): rows from before modes are text-to-video. */
    mode: text('mode').$type<Mode>().notNull().default('TEXT_TO_VIDEO'),
    /**
     * The request as the model received it, in the gateway's spelling: its parameters and its media
     * as `{ role, uploadId }` or `{ role, url }`. Null only on rows an older release wrote after the
     * backfill (its columns then say it all).
     */
    input: jsonb('input').$type<StoredInput>(),
    /** Upstream spelling: "720P" | "1080P". */
    resolution: text('resolution').$type<Resolution>().notNull(),
    /** Upstream spelling: "16:9" and so on. */
    aspectRatio: text('aspect_ratio').$type<AspectRatio>(),
    duration: integer('duration'),
    seed: integer('seed'),
    upstreamId: text('upstream_id').unique(),
    /** The raw upstream status word, kept for support: our enum folds several words into one. */
    upstreamStatus: text('upstream_status'),
    /** X-Request-ID of the create call, for Atlas support tickets. */
    upstreamRequestId: text('upstream_request_id'),
    outputs: jsonb('outputs').$type<string[]>().notNull().default(sql`'[]'::jsonb`),
    error: text('error'),
    errorCode: text('error_code'),
    predictTime: doublePrecision('predict_time'),
    createdAt: at('created_at').notNull().defaultNow(),
    updatedAt: at('updated_at').notNull().defaultNow(),
    completedAt: at('completed_at'),
    /** When an unfinished job ends FAILED TIMED_OUT: its timeoutSeconds, or PREDICTION_TIMEOUT_MS; null on older rows. */
    deadlineAt: at('deadline_at'),
    /** When a poller may next claim this row; null once terminal. Claiming pushes it forward: that is the lease. */
    nextPollAt: at('next_poll_at'),
    /**
     * When a poller last claimed the row to poll it (claims take rows due within a second): how
     * overdue a job is (gateway_poll_overdue_seconds) even while a lease hides it from next_poll_at.
     */
    polledAt: at('polled_at'),
    /** Consecutive failed status calls, for backoff. */
    pollFailures: integer('poll_failures').notNull().default(0),
    /** Bumped on every visible change, so subscribers can drop stale or repeated events. */
    version: integer('version').notNull().default(1),
    /**
     * SHA-256 (hex) of the secret token in the webhook URL this job gave Atlas; null when it has none.
     * The token itself is never stored: it is 256 random bits, so a plain hash is enough.
     */
    atlasWebhookTokenHash: text('atlas_webhook_token_hash').unique(),
    /** Copy the outputs into the gateway's storage before SUCCEEDED: fixed at submission from the gateway's STORAGE_URL. */
    mirrorOutputs: boolean('mirror_outputs').notNull().default(false),
    /** Atlas' output links as Atlas gave them (they expire there); `outputs` holds the same. */
    sourceUrls: jsonb('source_urls').$type<string[]>().notNull().default(sql`'[]'::jsonb`),
    /** When Atlas reported the outputs; a job waits for its copy from then (see MIRROR_HOLD_MS). */
    sourceReadyAt: at('source_ready_at'),
    /** The gateway's copies, in output order, once mirrored. */
    outputFiles: jsonb('output_files').$type<StoredOutputFile[]>(),
    mirroredAt: at('mirrored_at'),
    /** Why the last copy failed; cleared once a copy succeeds. */
    mirrorError: text('mirror_error'),
    /** When a mirror worker may next claim the copy; claiming pushes it forward (the lease). Null: nothing to copy. */
    mirrorNextAt: at('mirror_next_at'),
    mirrorAttempts: integer('mirror_attempts').notNull().default(0),
    /** The caller's backend to tell of changes (GenerateVideoInput.webhook), and which changes; null: none. */
    webhookUrl: text('webhook_url'),
    webhookEvents: text('webhook_events').$type<WebhookEventKind>().array(),
  },
  (t) => [
    index('predictions_due_idx').on(t.nextPollAt).where(sql`${t.nextPollAt} is not null`),
    index('predictions_mirror_due_idx').on(t.mirrorNextAt).where(sql`${t.mirrorNextAt} is not null`),
    index('predictions_newest_idx').on(t.createdAt.desc(), t.id.desc()),
    index('predictions_owner_newest_idx').on(t.ownerId, t.tenantId, t.createdAt.desc(), t.id.desc()),
    // predictions(mode:): a caller's jobs of one mode, newest first.
    index('predictions_owner_mode_newest_idx').on(t.ownerId, t.tenantId, t.mode, t.createdAt.desc(), t.id.desc()),
    // Per caller, and a caller is a subject within a tenant.
    uniqueIndex('predictions_idempotency_idx')
      .on(t.ownerId, sql`coalesce(${t.tenantId}, '')`, t.idempotencyKey)
      .where(sql`${t.idempotencyKey} is not null`),
  ],
);

/** Keys for server-to-server callers. Only a hash of each key is stored; the key is shown once. */
export const apiKeys = pgTable('api_keys', {
  id: uuid('id').primaryKey(),
  name: text('name').notNull(),
  /** SHA-256 of the whole key, hex. Keys are 256 random bits, so no salt or slow hash is needed. */
  keyHash: text('key_hash').notNull().unique(),
  /** The first characters of the key, to tell keys apart in lists. */
  prefix: text('prefix').notNull(),
  tenantId: text('tenant_id'),
  admin: boolean('admin').notNull().default(false),
  /** Per-key limits; null falls back to the gateway's configuration. */
  limitActiveJobs: integer('limit_active_jobs'),
  limitJobsPerMinute: integer('limit_jobs_per_minute'),
  limitDailySpendUsd: usd('limit_daily_spend_usd'),
  createdAt: at('created_at').notNull().defaultNow(),
  lastUsedAt: at('last_used_at'),
  revokedAt: at('revoked_at'),
});

/**
 * Every verified Atlas webhook delivery, by its X-AtlasCloud-Webhook-Id and by the hash of its body
 * per job: a repeat of either is ignored, by any gateway process (the unique indexes decide). The
 * delivery id is not signed, so a replayed body under a new id is caught by the second. Rows older
 * than the replay window are pruned (a repeat that old is refused for its timestamp anyway).
 */
export const atlasWebhookDeliveries = pgTable(
  'atlas_webhook_deliveries',
  {
    deliveryId: text('delivery_id').primaryKey(),
    predictionId: uuid('prediction_id').notNull(),
    receivedAt: at('received_at').notNull().defaultNow(),
    /** SHA-256 (hex) of the signed raw body; null on rows noted before it was kept. */
    bodySha256: text('body_sha256'),
  },
  (t) => [
    index('atlas_webhook_deliveries_received_idx').on(t.receivedAt),
    uniqueIndex('atlas_webhook_deliveries_body_idx').on(t.predictionId, t.bodySha256),
  ],
);

/** Secrets every gateway process shares, made once by whichever starts first (e.g. the video URL signing key). */
export const gatewaySecrets = pgTable('gateway_secrets', {
  name: text('name').primaryKey(),
  value: text('value').notNull(),
  createdAt: at('created_at').notNull().defaultNow(),
});

/** What a caller's webhook may be told of; COMPLETED is any final state. */
export const WEBHOOK_EVENT_KINDS = ['STARTED', 'UPDATED', 'COMPLETED'] as const;
export type WebhookEventKind = (typeof WEBHOOK_EVENT_KINDS)[number];

/**
 * Outbound webhook messages, written in the same transaction as the prediction change they report, so
 * none is lost or sent for a change that was rolled back. Any gateway process delivers them: a claim
 * pushes next_attempt_at forward (the lease) and every later write is fenced by that value.
 */
export const webhookOutbox = pgTable(
  'webhook_outbox',
  {
    /** Also the message's `webhook-id`: the same on every retry, so receivers can drop repeats. */
    id: uuid('id').primaryKey(),
    predictionId: uuid('prediction_id')
      .notNull()
      .references(() => predictions.id, { onDelete: 'cascade' }),
    event: text('event').$type<WebhookEventKind>().notNull(),
    url: text('url').notNull(),
    /** The exact JSON body, fixed when the change happened; every attempt signs and sends these bytes. */
    body: text('body').notNull(),
    createdAt: at('created_at').notNull().defaultNow(),
    /** When a deliverer may next claim it; null once delivered or given up. */
    nextAttemptAt: at('next_attempt_at'),
    attempts: integer('attempts').notNull().default(0),
    deliveredAt: at('delivered_at'),
    /** Retries ran out (WEBHOOK_RETRY_FOR_MS after it was written). */
    gaveUpAt: at('gave_up_at'),
  },
  (t) => [
    index('webhook_outbox_due_idx').on(t.nextAttemptAt).where(sql`${t.nextAttemptAt} is not null`),
    index('webhook_outbox_prediction_idx').on(t.predictionId, t.createdAt),
  ],
);

/** One row per HTTP attempt at a webhook message: the audit trail callers read. */
export const webhookAttempts = pgTable(
  'webhook_attempts',
  {
    id: uuid('id').primaryKey(),
    messageId: uuid('message_id')
      .notNull()
      .references(() => webhookOutbox.id, { onDelete: 'cascade' }),
    predictionId: uuid('prediction_id').notNull(),
    event: text('event').$type<WebhookEventKind>().notNull(),
    attemptedAt: at('attempted_at').notNull(),
    /** The receiver's status code; null when no answer came (refused address, timeout, connection error). */
    httpStatus: integer('http_status'),
    error: text('error'),
    durationMs: integer('duration_ms').notNull(),
    delivered: boolean('delivered').notNull(),
    /** When the message is tried again after this attempt; null: delivered, or given up. */
    nextAttemptAt: at('next_attempt_at'),
  },
  (t) => [index('webhook_attempts_prediction_idx').on(t.predictionId, t.attemptedAt)],
);

/**
 * Media a caller sent through the gateway (createUpload, then one PUT of the bytes), for jobs to use.
 * Owned like predictions (owner within tenant); the bytes are in storage under `storageKey`. Swept
 * after `expiresAt` unless a job used it (`usedAt`).
 */
export const uploads = pgTable(
  'uploads',
  {
    id: uuid('id').primaryKey(),
    ownerId: text('owner_id').notNull(),
    tenantId: text('tenant_id'),
    /** As declared, and checked against the bytes: image/jpeg, image/png, image/webp, video/mp4, video/quicktime. */
    contentType: text('content_type').$type<UploadContentType>().notNull(),
    /** As declared; the bytes sent must be exactly this many. Counts against the caller's daily bytes. */
    byteSize: bigint('byte_size', { mode: 'number' }).notNull(),
    filename: text('filename'),
    status: text('status').$type<UploadStatus>().notNull().default('PENDING'),
    /** Why it was REJECTED, naming the rule. */
    rejectionReason: text('rejection_reason'),
    /** Pixels, from an image's header (as displayed: EXIF rotations swap them); null for videos. */
    width: integer('width'),
    height: integer('height'),
    storageKey: text('storage_key').notNull(),
    /** When a PUT of the bytes began: set once, so a second PUT is refused; cleared if the client went away mid-body. */
    receivingAt: at('receiving_at'),
    createdAt: at('created_at').notNull().defaultNow(),
    expiresAt: at('expires_at').notNull(),
    /** Set when a job uses it: from then on it is kept (the job's media) rather than swept. */
    usedAt: at('used_at'),
    /** The URL Atlas' uploadMedia gave for these bytes, once sent there, so they are sent once. */
    atlasDownloadUrl: text('atlas_download_url'),
  },
  (t) => [
    index('uploads_owner_created_idx').on(t.ownerId, t.tenantId, t.createdAt),
    index('uploads_expiry_idx').on(t.expiresAt).where(sql`${t.usedAt} is null`),
  ],
);

export type UploadRow = typeof uploads.$inferSelect;
export type NewUploadRow = typeof uploads.$inferInsert;

export type WebhookOutboxRow = typeof webhookOutbox.$inferSelect;
export type WebhookAttemptRow = typeof webhookAttempts.$inferSelect;

export type ApiKeyRow = typeof apiKeys.$inferSelect;

export type PredictionRow = typeof predictions.$inferSelect;
export type NewPredictionRow = typeof predictions.$inferInsert;
