/**
 * What each configuration variable means to the people who set it: the default as they see it and
 * the meaning, in markdown. docs/configuration.md's table is made from this (`npm run docs:config`);
 * the `satisfies` below makes a variable of the schema (src/config.ts) without an entry here, or an
 * entry for no variable, a type error.
 *
 * The table's rows follow the order of the entries. Variables read together share a row: the first
 * one's entry holds the row, the others name it with `inRowOf` (and follow it in the order written).
 * Error codes are written as ErrorCode constants, as everywhere in src/ (test/error-codes.test.ts).
 */
import type { ConfigVariable } from './config.ts';
import { ErrorCode } from './errorCodes.ts';

/** A row of the table, by the first variable in it. */
export interface ConfigRowDoc {
  /** The default as users read it: `4000`, unset, unlimited … */
  default: string;
  /** What it does, in markdown (links relative to docs/). */
  meaning: string;
  /** How the names read when others share the row: `A` / `B` unless said otherwise. */
  names?: 'A / B' | 'A + B' | 'A, B' | 'A (or B)';
}

/** A variable shown in another's row, after it. */
export interface SharedRowDoc {
  inRowOf: ConfigVariable;
}

export type ConfigVariableDoc = ConfigRowDoc | SharedRowDoc;

export const CONFIG_DOCS = {
  PORT: { default: '`4000`', meaning: 'HTTP port' },
  HOST: { default: '`127.0.0.1`', meaning: 'interface to bind (`0.0.0.0` in containers)' },
  HTTP_HEADERS_TIMEOUT_MS: {
    default: '`10000`',
    meaning: 'how long a client has to send its request line and headers; past it, 408 and the connection is closed',
  },
  HTTP_REQUEST_TIMEOUT_MS: {
    default: '`30000`',
    meaning:
      'the same for the whole request, body included (at least `HTTP_HEADERS_TIMEOUT_MS`); answers, SSE streams included, are not limited by it',
  },
  DATABASE_URL: {
    default: 'unset',
    meaning: 'a Postgres server, `postgres://user:pass@host:5432/db`; unset means embedded PGlite',
  },
  DATA_DIR: { default: '`.data`', meaning: 'where PGlite keeps its files when `DATABASE_URL` is unset' },
  ATLASCLOUD_API_KEY: {
    default: 'unset',
    meaning: 'the Atlas Cloud key; unset means the built-in simulator (refused when `NODE_ENV=production`)',
  },
  ATLASCLOUD_BASE_URL: {
    default: '`https://api.atlascloud.ai`',
    meaning: 'the upstream; https only (plain http only to localhost), as the key goes with every call',
  },
  POLL_INTERVAL_MS: { default: '`2000`', meaning: 'how often each unfinished job is polled upstream' },
  POLL_CONCURRENCY: {
    default: '`64`',
    meaning:
      'status calls in flight at once, per gateway process (5,000 jobs at 2 s need 2,500 calls/s; at 20 ms a call that takes about 50 slots)',
  },
  PREDICTION_TIMEOUT_MS: {
    default: '`1800000` (30 min)',
    meaning: `a job unfinished after this ends FAILED with \`${ErrorCode.TIMED_OUT}\``,
  },
  UPSTREAM_TIMEOUT_MS: { default: '`30000`', meaning: 'timeout of each upstream call' },
  UPSTREAM_RETRIES: { default: '`3`', meaning: 'extra attempts for status calls (create calls are never retried)' },
  SIMULATOR_JOB_MS: { default: '`6000`', meaning: 'how long a simulated job takes' },
  PERSISTED_OPERATIONS: {
    default: '`open`',
    meaning: '`only`: run nothing but the documents in the generated manifest (see below)',
  },
  GRAPHIQL: { default: 'on unless production or `only`', meaning: 'serve GraphiQL at `/graphql`' },
  INTROSPECTION: {
    default: 'on unless production',
    meaning: `answer \`__schema\` and \`__type\` (GraphiQL and codegen against a running gateway need it); off, they get \`${ErrorCode.INTROSPECTION_DISABLED}\`. The schema ships in the client package either way`,
  },
  LOG_LEVEL: {
    default: '`info`',
    meaning:
      '`debug`, `info`, `warn`, `error` or `silent`; logs are JSON lines on stdout (see [Logs](operations.md#logs))',
  },
  METRICS_TOKEN: {
    default: 'unset',
    meaning:
      'when set (16+ printable characters), `/metrics` answers only `Authorization: Bearer <token>`, else 401; unset, anyone who reaches the port may scrape',
  },
  NODE_ENV: { default: '`development`', meaning: '`production` requires a key and an explicit `AUTH_MODE`' },
  AUTH_MODE: {
    default: '`none` (development only)',
    meaning:
      'who may call: `none`, `jwt`, `apikey`, or several, comma-separated (see [Who is calling](security.md#who-is-calling))',
  },
  AUTH_JWKS_URL: {
    default: 'unset',
    meaning: "for `jwt`: your identity provider's JWKS (https), or an HS256 secret of 32+ characters",
  },
  AUTH_JWT_SECRET: { inRowOf: 'AUTH_JWKS_URL' },
  AUTH_JWT_ISSUER: { default: 'unset', meaning: 'checked against `iss` / `aud` when set' },
  AUTH_JWT_AUDIENCE: { inRowOf: 'AUTH_JWT_ISSUER' },
  AUTH_TENANT_CLAIM: { default: 'unset', meaning: "the claim that names the caller's tenant, e.g. `org_id`" },
  AUTH_ADMIN_CLAIM: {
    names: 'A + B',
    default: 'unset',
    meaning: 'a claim and the value (or array member) that make the caller an admin, e.g. `roles` + `video-admin`',
  },
  AUTH_ADMIN_VALUE: { inRowOf: 'AUTH_ADMIN_CLAIM' },
  AUTH_JWKS_COOLDOWN_MS: {
    default: '`30000`',
    meaning: 'after fetching the JWKS, how long a token with an unknown `kid` waits before another fetch',
  },
  AUTH_JWT_MAX_AGE: {
    default: '`24h`',
    meaning:
      'the longest a JWT may live, from its `iat` (or now, if earlier) to its required `exp`; seconds, or with `s`, `m`, `h`, `d`',
  },
  LIMIT_ACTIVE_JOBS: { default: 'unlimited', meaning: 'unfinished jobs per caller' },
  LIMIT_JOBS_PER_MINUTE: { default: 'unlimited', meaning: 'submissions per caller in any 60 s' },
  LIMIT_DAILY_SPEND_USD: {
    default: 'unlimited',
    meaning: 'spend per caller per UTC day (charged plus the price of unfinished jobs)',
  },
  LIMIT_DAILY_SPEND_USD_TOTAL: {
    default: 'unlimited',
    meaning: 'the same for the whole gateway: a guard on the Atlas balance',
  },
  PRICE_PER_RUN_USD: { default: '`0.14`', meaning: "what one job costs (the model page's figure)" },
  PRICE_PER_SECOND_720P_USD: {
    default: 'unset',
    meaning:
      'per-second prices by resolution; win over the per-run price when set (not for video edit, whose length is unknown)',
  },
  PRICE_PER_SECOND_1080P_USD: { inRowOf: 'PRICE_PER_SECOND_720P_USD' },
  PRICES: {
    default: 'unset',
    meaning:
      'prices per model or mode and resolution, per run or per second, as one JSON value (see [Prices](jobs.md#prices)); what it does not price falls back to the two rows above',
  },
  PRICES_FILE: { default: 'unset', meaning: 'the same JSON in a file (one of `PRICES` and `PRICES_FILE`)' },
  CORS_ORIGINS: {
    default: 'unset (same origin only)',
    meaning:
      'browser origins allowed to call (and to open WebSockets), comma-separated, e.g. `https://app.example.com`; `*` allows any (without credentials)',
  },
  PUBLIC_URL: {
    default: 'unset (webhooks off)',
    meaning:
      "the gateway's address as Atlas reaches it, e.g. `https://videos.example.com`; set, every job asks Atlas for a signed webhook at its end (see [Atlas webhooks](jobs.md#atlas-webhooks-polling-as-the-safety-net)), and Atlas fetches uploads from signed links to the gateway instead of `uploadMedia` (see [Uploads](jobs.md#uploads)). https only; plain http only to a loopback address outside production",
  },
  ATLASCLOUD_WEBHOOK_JWKS_URL: {
    default: '`ATLASCLOUD_BASE_URL` + `/api/v1/webhooks/jwks.json`',
    meaning: 'where Atlas publishes the public keys its webhooks are signed with (https; http only to localhost)',
  },
  ATLASCLOUD_WEBHOOK_JWKS_COOLDOWN_MS: {
    default: '`30000`',
    meaning: 'after fetching those keys, how long a delivery naming an unknown key id waits before another fetch',
  },
  WEBHOOK_POLL_INTERVAL_MS: {
    default: '`30000`',
    meaning:
      'how often a job that has a webhook is still polled (webhooks get lost); `POLL_INTERVAL_MS` is for the others',
  },
  STORAGE_URL: {
    default: '`DATA_DIR/videos`',
    meaning:
      "where copies of the outputs go (see [Videos that do not expire](jobs.md#videos-that-do-not-expire)): `file:/a/folder`, `s3://bucket/prefix`, or `none` to keep only Atlas' links",
  },
  MIRROR_MAX_BYTES: {
    default: '`2147483648` (2 GiB)',
    meaning: "the largest output copied; a larger one keeps Atlas' link, with `mirrorError` saying so",
  },
  MIRROR_TIMEOUT_MS: {
    default: '`600000` (10 min)',
    meaning: "the longest one copy attempt (all of a job's outputs) may take",
  },
  MIRROR_HOLD_MS: {
    default: '`60000`',
    meaning:
      "how long a finished job may wait for its copy, through retries, before it is `SUCCEEDED` with Atlas' links (the copy goes on being retried)",
  },
  MIRROR_LEASE_MS: {
    default: '`60000`',
    meaning:
      'how long a gateway holds a copy without renewing its lease (renewed every third of it): how soon another gateway restarts a copy cut by a crash',
  },
  MIRROR_CONCURRENCY: { default: '`2`', meaning: 'copies at once, per gateway process' },
  VIDEO_URL_SECRET: {
    default: 'made once and kept in the database',
    meaning:
      "the HMAC key of the gateway's signed video links (32+ characters); set it to rotate it (old links then fail)",
  },
  VIDEO_URL_TTL_SECONDS: {
    default: '`86400` (a day)',
    meaning:
      'how long a signed video link works at least (it is rounded up to the hour, so links read within an hour are the same); at most 6 days',
  },
  VIDEO_BASE_URL: {
    default: 'the address the caller used (its `Host`, over HTTP, SSE and WebSocket alike)',
    meaning:
      "the gateway's public address for the links it signs, e.g. `https://videos.example.com` behind a proxy that does not forward `Host` or that ends TLS (`Forwarded` and `X-Forwarded-*` headers are not read)",
  },
  AWS_REGION: {
    names: 'A, B',
    default: 'SDK defaults',
    meaning: "for `STORAGE_URL=s3://…`; without keys the AWS SDK's usual chain (instance role, profile) applies",
  },
  AWS_ACCESS_KEY_ID: { inRowOf: 'AWS_REGION' },
  AWS_SECRET_ACCESS_KEY: { inRowOf: 'AWS_REGION' },
  AWS_SESSION_TOKEN: { inRowOf: 'AWS_REGION' },
  AWS_ENDPOINT_URL_S3: {
    names: 'A (or B)',
    default: 'AWS',
    meaning:
      'an S3-compatible store: MinIO, Cloudflare R2 (`https://<account>.r2.cloudflarestorage.com`, `AWS_REGION=auto`) …',
  },
  AWS_ENDPOINT_URL: { inRowOf: 'AWS_ENDPOINT_URL_S3' },
  S3_FORCE_PATH_STYLE: {
    default: '`false`',
    meaning: '`true` for stores that want `endpoint/bucket/key` URLs (MinIO, most self-hosted ones)',
  },
  ATLASCLOUD_OUTPUT_EXPIRATION_HOURS: {
    default: "Atlas' default",
    meaning:
      'sent as `X-AtlasCloud-Object-Expiration-Hours` (1 to 336) with each create call: how long Atlas keeps the outputs',
  },
  WEBHOOK_SIGNING_SECRET: {
    default: 'unset',
    meaning:
      'signs [webhooks to your backend](webhooks.md#webhooks-to-your-backend): `whsec_` + base64 of 24 to 64 random bytes (`echo whsec_$(openssl rand -base64 32)`). Unset: a `webhook` input is refused',
  },
  WEBHOOK_ALLOW_PRIVATE: {
    default: '`false`',
    meaning:
      '`true`: webhooks may go to private, loopback, link-local and other non-public addresses (a receiver inside your own network)',
  },
  WEBHOOK_TIMEOUT_MS: { default: '`10000`', meaning: 'each delivery attempt, DNS included' },
  WEBHOOK_RETRY_BASE_MS: {
    default: '`5000` / `3600000`',
    meaning: "the first retry's delay, doubling per failure up to the cap, ±25 % jitter",
  },
  WEBHOOK_RETRY_MAX_MS: { inRowOf: 'WEBHOOK_RETRY_BASE_MS' },
  WEBHOOK_RETRY_FOR_MS: {
    default: '`86400000` (24 h)',
    meaning: 'how long after the event a failing delivery is retried before it is given up',
  },
  WEBHOOK_CONCURRENCY: { default: '`8`', meaning: 'deliveries in flight at once, per gateway process' },
  WEBHOOK_SWEEP_MS: {
    default: '`5000`',
    meaning:
      'how often each process looks for due deliveries besides being woken by a new one (retries, leases that ran out)',
  },
  WEBHOOK_LEASE_MARGIN_MS: {
    default: '`15000`',
    meaning:
      'how long past `WEBHOOK_TIMEOUT_MS` a process holds a delivery it claimed; one whose process died is sent again by another after both',
  },
  UPLOAD_MAX_VIDEO_BYTES: {
    default: '`104857600` (100 MiB)',
    meaning: "the largest video upload (images: 10 MiB, the models' limit); see [Uploads](jobs.md#uploads)",
  },
  LIMIT_UPLOAD_BYTES_PER_DAY: { default: 'unlimited', meaning: "declared bytes of a caller's uploads per UTC day" },
  UPLOAD_RETENTION_HOURS: {
    default: '`24`',
    meaning:
      'how long an upload is kept unless a job uses it (24 to 720: at least a day, so the daily limit sees every upload of the day)',
  },
  UPLOAD_SWEEP_MS: { default: '`60000`', meaning: 'how often each process deletes expired uploads and their bytes' },
  OTEL_EXPORTER_OTLP_ENDPOINT: {
    default: 'unset (no tracing)',
    meaning:
      "an OpenTelemetry collector's base URL, e.g. `http://otel-collector:4318`; set, traces are exported to its `/v1/traces` (see [Traces](operations.md#traces)). Unset, the OpenTelemetry SDK is not even loaded",
  },
  OTEL_EXPORTER_OTLP_PROTOCOL: { default: '`http/protobuf`', meaning: 'or `http/json` (gRPC is not offered)' },
  OTEL_EXPORTER_OTLP_HEADERS: {
    default: 'unset',
    meaning:
      'headers for a hosted collector, `name=value,name2=value2` (values percent-decoded); their values are cut from the logs like the Atlas key',
  },
  OTEL_SERVICE_NAME: { default: '`happyhorse-gateway`', meaning: 'the `service.name` the traces carry' },
  OTEL_BSP_SCHEDULE_DELAY: {
    default: '`5000`',
    meaning: 'ms finished spans wait to be sent in one batch (the rest go out when the gateway stops)',
  },
} satisfies Record<ConfigVariable, ConfigVariableDoc>;
