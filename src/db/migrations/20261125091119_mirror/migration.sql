CREATE TABLE "gateway_secrets" (
	"name" text PRIMARY KEY,
	"value" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "predictions" ADD COLUMN "mirror_outputs" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "predictions" ADD COLUMN "source_urls" jsonb DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE "predictions" ADD COLUMN "source_ready_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "predictions" ADD COLUMN "output_files" jsonb;--> statement-breakpoint
ALTER TABLE "predictions" ADD COLUMN "mirrored_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "predictions" ADD COLUMN "mirror_error" text;--> statement-breakpoint
ALTER TABLE "predictions" ADD COLUMN "mirror_next_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "predictions" ADD COLUMN "mirror_attempts" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "predictions_mirror_due_idx" ON "predictions" ("mirror_next_at") WHERE "mirror_next_at" is not null;--> statement-breakpoint
-- Jobs from before mirroring: their links are Atlas' own.
UPDATE "predictions" SET "source_urls" = "outputs";
