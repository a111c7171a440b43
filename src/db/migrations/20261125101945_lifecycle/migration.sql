CREATE TABLE "atlas_webhook_deliveries" (
	"delivery_id" text PRIMARY KEY,
	"prediction_id" uuid NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "gateway_secrets" (
	"name" text PRIMARY KEY,
	"value" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "webhook_attempts" (
	"id" uuid PRIMARY KEY,
	"message_id" uuid NOT NULL,
	"prediction_id" uuid NOT NULL,
	"event" text NOT NULL,
	"attempted_at" timestamp with time zone NOT NULL,
	"http_status" integer,
	"error" text,
	"duration_ms" integer NOT NULL,
	"delivered" boolean NOT NULL,
	"next_attempt_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "webhook_outbox" (
	"id" uuid PRIMARY KEY,
	"prediction_id" uuid NOT NULL,
	"event" text NOT NULL,
	"url" text NOT NULL,
	"body" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"next_attempt_at" timestamp with time zone,
	"attempts" integer DEFAULT 0 NOT NULL,
	"delivered_at" timestamp with time zone,
	"gave_up_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "predictions" ADD COLUMN "atlas_webhook_token_hash" text;--> statement-breakpoint
ALTER TABLE "predictions" ADD COLUMN "mirror_outputs" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "predictions" ADD COLUMN "source_urls" jsonb DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE "predictions" ADD COLUMN "source_ready_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "predictions" ADD COLUMN "output_files" jsonb;--> statement-breakpoint
ALTER TABLE "predictions" ADD COLUMN "mirrored_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "predictions" ADD COLUMN "mirror_error" text;--> statement-breakpoint
ALTER TABLE "predictions" ADD COLUMN "mirror_next_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "predictions" ADD COLUMN "mirror_attempts" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "predictions" ADD COLUMN "webhook_url" text;--> statement-breakpoint
ALTER TABLE "predictions" ADD COLUMN "webhook_events" text[];--> statement-breakpoint
ALTER TABLE "predictions" ADD CONSTRAINT "predictions_atlas_webhook_token_hash_key" UNIQUE("atlas_webhook_token_hash");--> statement-breakpoint
CREATE INDEX "atlas_webhook_deliveries_received_idx" ON "atlas_webhook_deliveries" ("received_at");--> statement-breakpoint
CREATE INDEX "predictions_mirror_due_idx" ON "predictions" ("mirror_next_at") WHERE "mirror_next_at" is not null;--> statement-breakpoint
CREATE INDEX "webhook_attempts_prediction_idx" ON "webhook_attempts" ("prediction_id","attempted_at");--> statement-breakpoint
CREATE INDEX "webhook_outbox_due_idx" ON "webhook_outbox" ("next_attempt_at") WHERE "next_attempt_at" is not null;--> statement-breakpoint
CREATE INDEX "webhook_outbox_prediction_idx" ON "webhook_outbox" ("prediction_id","created_at");--> statement-breakpoint
ALTER TABLE "webhook_attempts" ADD CONSTRAINT "webhook_attempts_message_id_webhook_outbox_id_fkey" FOREIGN KEY ("message_id") REFERENCES "webhook_outbox"("id") ON DELETE CASCADE;--> statement-breakpoint
ALTER TABLE "webhook_outbox" ADD CONSTRAINT "webhook_outbox_prediction_id_predictions_id_fkey" FOREIGN KEY ("prediction_id") REFERENCES "predictions"("id") ON DELETE CASCADE;--> statement-breakpoint
-- Jobs from before mirroring: their links are Atlas' own.
UPDATE "predictions" SET "source_urls" = "outputs";
