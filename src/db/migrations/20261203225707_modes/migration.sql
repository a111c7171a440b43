ALTER TABLE "predictions" ADD COLUMN "mode" text DEFAULT 'TEXT_TO_VIDEO' NOT NULL;--> statement-breakpoint
ALTER TABLE "predictions" ADD COLUMN "input" jsonb;--> statement-breakpoint
ALTER TABLE "predictions" ALTER COLUMN "prompt" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "predictions" ALTER COLUMN "aspect_ratio" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "predictions" ALTER COLUMN "duration" DROP NOT NULL;--> statement-breakpoint
CREATE INDEX "predictions_owner_mode_newest_idx" ON "predictions" ("owner_id","tenant_id","mode","created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
-- Every row so far is a text-to-video job (the mode's default says so): its request, as the model took it.
UPDATE "predictions" SET "input" = jsonb_strip_nulls(jsonb_build_object(
	'prompt', "prompt", 'resolution', "resolution", 'aspectRatio', "aspect_ratio", 'duration', "duration", 'seed', "seed"
)) || '{"media":[]}'::jsonb WHERE "input" IS NULL;
