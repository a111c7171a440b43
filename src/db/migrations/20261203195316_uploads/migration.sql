CREATE TABLE "uploads" (
	"id" uuid PRIMARY KEY,
	"owner_id" text NOT NULL,
	"tenant_id" text,
	"content_type" text NOT NULL,
	"byte_size" bigint NOT NULL,
	"filename" text,
	"status" text DEFAULT 'PENDING' NOT NULL,
	"rejection_reason" text,
	"width" integer,
	"height" integer,
	"storage_key" text NOT NULL,
	"receiving_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"used_at" timestamp with time zone,
	"atlas_download_url" text
);
--> statement-breakpoint
CREATE INDEX "uploads_owner_created_idx" ON "uploads" ("owner_id","tenant_id","created_at");--> statement-breakpoint
CREATE INDEX "uploads_expiry_idx" ON "uploads" ("expires_at") WHERE "used_at" is null;