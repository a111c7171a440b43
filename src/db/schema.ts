import { sql } from 'drizzle-orm';
import type { AspectRatio, KnownModel, Resolution } from '../atlas/happyhorse.ts';
import {
  doublePrecision,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  text,
  timestamp,
  uuid,
} from 'drizzle-orm/pg-core';

export const predictionStatus = pgEnum('prediction_status', [
  'STARTING',
  'PROCESSING',
  'SUCCEEDED',
  'FAILED',
  'CANCELED',
]);

const at = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const predictions = pgTable(
  'predictions',
  {
    id: uuid('id').primaryKey(),
    status: predictionStatus('status').notNull(),
    prompt: text('prompt').notNull(),
    model: text('model').$type<KnownModel>().notNull(),
    /** Upstream spelling: "720P" | "1080P". */
    resolution: text('resolution').$type<Resolution>().notNull(),
    /** Upstream spelling: "16:9" and so on. */
    aspectRatio: text('aspect_ratio').$type<AspectRatio>().notNull(),
    duration: integer('duration').notNull(),
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
    /** When a poller may next claim this row; null once terminal. Claiming pushes it forward: that is the lease. */
    nextPollAt: at('next_poll_at'),
    /** Consecutive failed status calls, for backoff. */
    pollFailures: integer('poll_failures').notNull().default(0),
    /** Bumped on every visible change, so subscribers can drop stale or repeated events. */
    version: integer('version').notNull().default(1),
  },
  (t) => [
    index('predictions_due_idx').on(t.nextPollAt).where(sql`${t.nextPollAt} is not null`),
    index('predictions_newest_idx').on(t.createdAt.desc(), t.id.desc()),
  ],
);

export type PredictionRow = typeof predictions.$inferSelect;
export type NewPredictionRow = typeof predictions.$inferInsert;
export type PredictionStatus = (typeof predictionStatus.enumValues)[number];
