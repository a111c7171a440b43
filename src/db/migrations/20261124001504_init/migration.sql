CREATE TYPE "prediction_status" AS ENUM('STARTING', 'PROCESSING', 'SUCCEEDED', 'FAILED', 'CANCELED');--> statement-breakpoint
CREATE TABLE "predictions" (
	"id" uuid PRIMARY KEY,
	"status" "prediction_status" NOT NULL,
	"prompt" text NOT NULL,
	"model" text NOT NULL,
	"resolution" text NOT NULL,
	"aspect_ratio" text NOT NULL,
	"duration" integer NOT NULL,
	"seed" integer,
	"upstream_id" text UNIQUE,
	"upstream_status" text,
	"upstream_request_id" text,
	"outputs" jsonb DEFAULT '[]' NOT NULL,
	"error" text,
	"error_code" text,
	"predict_time" double precision,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"completed_at" timestamp with time zone,
	"next_poll_at" timestamp with time zone,
	"poll_failures" integer DEFAULT 0 NOT NULL,
	"version" integer DEFAULT 1 NOT NULL
);
--> statement-breakpoint
CREATE INDEX "predictions_due_idx" ON "predictions" ("next_poll_at") WHERE "next_poll_at" is not null;--> statement-breakpoint
CREATE INDEX "predictions_newest_idx" ON "predictions" ("created_at" DESC NULLS LAST,"id" DESC NULLS LAST);