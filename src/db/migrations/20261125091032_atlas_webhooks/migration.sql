CREATE TABLE "atlas_webhook_deliveries" (
	"delivery_id" text PRIMARY KEY,
	"prediction_id" uuid NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "predictions" ADD COLUMN "atlas_webhook_token_hash" text;--> statement-breakpoint
ALTER TABLE "predictions" ADD CONSTRAINT "predictions_atlas_webhook_token_hash_key" UNIQUE("atlas_webhook_token_hash");--> statement-breakpoint
CREATE INDEX "atlas_webhook_deliveries_received_idx" ON "atlas_webhook_deliveries" ("received_at");