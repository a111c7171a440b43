CREATE TABLE "api_keys" (
	"id" uuid PRIMARY KEY,
	"name" text NOT NULL,
	"key_hash" text NOT NULL UNIQUE,
	"prefix" text NOT NULL,
	"tenant_id" text,
	"admin" boolean DEFAULT false NOT NULL,
	"limit_active_jobs" integer,
	"limit_jobs_per_minute" integer,
	"limit_daily_spend_usd" numeric(14,6),
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_used_at" timestamp with time zone,
	"revoked_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "predictions" ADD COLUMN "owner_id" text DEFAULT 'anonymous' NOT NULL;--> statement-breakpoint
ALTER TABLE "predictions" ADD COLUMN "tenant_id" text;--> statement-breakpoint
ALTER TABLE "predictions" ADD COLUMN "idempotency_key" text;--> statement-breakpoint
ALTER TABLE "predictions" ADD COLUMN "request_hash" text;--> statement-breakpoint
ALTER TABLE "predictions" ADD COLUMN "price_usd" numeric(14,6) DEFAULT '0' NOT NULL;--> statement-breakpoint
ALTER TABLE "predictions" ADD COLUMN "cost_usd" numeric(14,6);--> statement-breakpoint
ALTER TABLE "predictions" ADD COLUMN "deadline_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "predictions_owner_newest_idx" ON "predictions" ("owner_id","tenant_id","created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE UNIQUE INDEX "predictions_idempotency_idx" ON "predictions" ("owner_id",coalesce("tenant_id", ''),"idempotency_key") WHERE "idempotency_key" is not null;--> statement-breakpoint
-- Rows from before prices were recorded: finished ones were charged nothing the gateway knows of.
UPDATE "predictions" SET "cost_usd" = 0 WHERE "status" IN ('SUCCEEDED', 'FAILED', 'CANCELED');
