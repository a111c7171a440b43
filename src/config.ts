import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { dataDirProblem } from './dataDir.ts';
import { PriceTable, priceTableProblems } from './prices.ts';

const LOOPBACK = /^(localhost|127(\.\d+){3}|\[::1\])$/;
/** Plain http only to this machine; other malformed values are z.url's to report. */
function keyStaysPrivate(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol !== 'http:' || LOOPBACK.test(url.hostname);
  } catch {
    return true;
  }
}
const blankAsUnset = (value: unknown) => (value === '' ? undefined : value);
/** Atlas refuses a webhook_url longer than this; the gateway adds `/webhooks/atlas/` and a 43-character token. */
const MAX_WEBHOOK_URL_LENGTH = 1024;
export const ATLAS_WEBHOOK_PATH = '/webhooks/atlas/';
const WEBHOOK_TOKEN_LENGTH = 43;
const MAX_PUBLIC_URL_LENGTH = MAX_WEBHOOK_URL_LENGTH - ATLAS_WEBHOOK_PATH.length - WEBHOOK_TOKEN_LENGTH;
/** A whole number from the environment; blank counts as unset (z.coerce would read it as 0). */
const int = (min: number, max: number, fallback: number) =>
  z.preprocess(blankAsUnset, z.coerce.number().int().min(min).max(max).default(fallback));
const ms = (fallback: number) => int(1, 2 ** 31 - 1, fallback);
/** An optional limit: unset (or blank) means unlimited. */
const optionalInt = z.preprocess(
  blankAsUnset,
  z.coerce
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1)
    .optional(),
);
const dollars = z.coerce.number().min(0).max(1_000_000);
const optionalDollars = z.preprocess(blankAsUnset, dollars.optional());
const optionalText = z.preprocess(blankAsUnset, z.string().min(1).optional());
const DURATION_UNITS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;
/** A span in whole seconds, written `90`, `90s`, `15m`, `24h` or `7d` (a bare number is seconds). */
const seconds = (min: number, max: number, fallback: number) =>
  z.preprocess(
    blankAsUnset,
    z
      .string()
      .trim()
      .regex(/^\d{1,9}\s*[smhd]?$/, 'must be a number of seconds, or a number with s, m, h or d (e.g. 24h)')
      .transform((value) => {
        const unit = /[smhd]$/.exec(value)?.[0] as keyof typeof DURATION_UNITS | undefined;
        return Number.parseInt(value, 10) * DURATION_UNITS[unit ?? 's'];
      })
      .pipe(
        z
          .number()
          .min(min, `must be at least ${min} s`)
          .max(max, `must be at most ${max / 86_400} days`),
      )
      .default(fallback),
  );

const AUTH_METHODS = ['none', 'jwt', 'apikey'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];
/** `jwt,apikey`: a comma-separated set of methods, each at most once. */
const AuthMode = z
  .string()
  .transform((value) =>
    value
      .split(',')
      .map((part) => part.trim())
      .filter(Boolean),
  )
  .pipe(
    z
      .array(z.enum(AUTH_METHODS, { error: `each method must be one of: ${AUTH_METHODS.join(', ')}` }))
      .min(1, `must name at least one of: ${AUTH_METHODS.join(', ')}`)
      .refine((methods) => new Set(methods).size === methods.length, 'names a method twice'),
  );

/**
 * `key=value,key2=value2`, as OpenTelemetry's OTEL_EXPORTER_OTLP_HEADERS: what a hosted collector wants
 * (an API key). Values are percent-decoded, as the specification says.
 */
const OtlpHeaders = z.string().transform((value, ctx) => {
  const headers: Record<string, string> = {};
  for (const pair of value.split(',')) {
    if (!pair.trim()) continue;
    const at = pair.indexOf('=');
    const name = pair.slice(0, at).trim().toLowerCase();
    let text: string | undefined;
    try {
      text = at > 0 ? decodeURIComponent(pair.slice(at + 1).trim()) : undefined;
    } catch {}
    if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(name) || text === undefined || /[\r\n]/.test(text)) {
      ctx.addIssue({ code: 'custom', message: 'must be name=value pairs separated by commas' });
      return z.NEVER;
    }
    headers[name] = text;
  }
  return headers;
});

/** The environment the gateway reads, checked; what it reads from it is loadConfig's. */
export const Env = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: int(0, 65535, 4000),
  HOST: z.string().min(1).default('127.0.0.1'),
  HTTP_HEADERS_TIMEOUT_MS: ms(10_000),
  HTTP_REQUEST_TIMEOUT_MS: ms(30_000),
  DATABASE_URL: z.preprocess(blankAsUnset, z.url({ protocol: /^postgres(ql)?$/ }).optional()),
  DATA_DIR: z.string().min(1).default('.data'),
  ATLASCLOUD_API_KEY: z.preprocess(blankAsUnset, z.string().min(1).optional()),
  ATLASCLOUD_BASE_URL: z
    .url({ protocol: /^https?$/ })
    .refine(keyStaysPrivate, 'must be https (http only to localhost): the API key travels with every call')
    .default('https://api.atlascloud.ai'),
  UPSTREAM_TIMEOUT_MS: ms(30_000),
  UPSTREAM_RETRIES: int(0, 10, 3),
  POLL_INTERVAL_MS: ms(2_000),
  POLL_CONCURRENCY: int(1, 256, 64),
  PREDICTION_TIMEOUT_MS: ms(30 * 60_000),
  SIMULATOR_JOB_MS: ms(6_000),
  PERSISTED_OPERATIONS: z.enum(['open', 'only']).default('open'),
  GRAPHIQL: z.preprocess(blankAsUnset, z.enum(['true', 'false']).optional()),
  INTROSPECTION: z.preprocess(blankAsUnset, z.enum(['true', 'false']).optional()),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  AUTH_MODE: z.preprocess(blankAsUnset, AuthMode.optional()),
  AUTH_JWKS_URL: z.preprocess(blankAsUnset, z.url({ protocol: /^https?$/ }).optional()),
  AUTH_JWT_SECRET: z.preprocess(
    blankAsUnset,
    z.string().min(32, 'must be at least 32 characters (HS256 wants 256 bits)').optional(),
  ),
  AUTH_JWKS_COOLDOWN_MS: int(0, 3_600_000, 30_000),
  AUTH_JWT_MAX_AGE: seconds(1, 366 * 86_400, 86_400),
  AUTH_JWT_ISSUER: optionalText,
  AUTH_JWT_AUDIENCE: optionalText,
  AUTH_TENANT_CLAIM: optionalText,
  AUTH_ADMIN_CLAIM: optionalText,
  AUTH_ADMIN_VALUE: optionalText,
  LIMIT_ACTIVE_JOBS: optionalInt,
  LIMIT_JOBS_PER_MINUTE: optionalInt,
  LIMIT_DAILY_SPEND_USD: optionalDollars,
  LIMIT_DAILY_SPEND_USD_TOTAL: optionalDollars,
  PRICE_PER_RUN_USD: z.preprocess(blankAsUnset, dollars.default(0.14)),
  PRICE_PER_SECOND_720P_USD: optionalDollars,
  PRICE_PER_SECOND_1080P_USD: optionalDollars,
  PRICES: optionalText,
  PRICES_FILE: optionalText,
  CORS_ORIGINS: optionalText,
  METRICS_TOKEN: z.preprocess(
    blankAsUnset,
    z
      .string()
      .min(16, 'must be at least 16 characters (it guards the metrics)')
      .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces (it is sent in an Authorization header)')
      .optional(),
  ),
  PUBLIC_URL: z.preprocess(
    blankAsUnset,
    z
      .url({ protocol: /^https?$/ })
      .max(
        MAX_PUBLIC_URL_LENGTH,
        `must be at most ${MAX_PUBLIC_URL_LENGTH} characters (Atlas takes webhook URLs up to ${MAX_WEBHOOK_URL_LENGTH})`,
      )
      .optional(),
  ),
  ATLASCLOUD_WEBHOOK_JWKS_URL: z.preprocess(blankAsUnset, z.url({ protocol: /^https?$/ }).optional()),
  ATLASCLOUD_WEBHOOK_JWKS_COOLDOWN_MS: int(0, 3_600_000, 30_000),
  WEBHOOK_POLL_INTERVAL_MS: ms(30_000),
  ATLASCLOUD_OUTPUT_EXPIRATION_HOURS: z.preprocess(blankAsUnset, z.coerce.number().int().min(1).max(336).optional()),
  STORAGE_URL: z.preprocess(blankAsUnset, z.string().optional()),
  MIRROR_MAX_BYTES: int(1, Number.MAX_SAFE_INTEGER, 2 * 1024 ** 3),
  MIRROR_TIMEOUT_MS: ms(10 * 60_000),
  MIRROR_HOLD_MS: int(0, 2 ** 31 - 1, 60_000),
  MIRROR_LEASE_MS: int(1_000, 2 ** 31 - 1, 60_000),
  MIRROR_CONCURRENCY: int(1, 64, 2),
  VIDEO_URL_SECRET: z.preprocess(blankAsUnset, z.string().min(32, 'must be at least 32 characters').optional()),
  VIDEO_URL_TTL_SECONDS: int(60, 6 * 24 * 3600, 24 * 3600),
  VIDEO_BASE_URL: z.preprocess(blankAsUnset, z.url({ protocol: /^https?$/ }).optional()),
  AWS_REGION: optionalText,
  AWS_ENDPOINT_URL_S3: z.preprocess(blankAsUnset, z.url({ protocol: /^https?$/ }).optional()),
  AWS_ENDPOINT_URL: z.preprocess(blankAsUnset, z.url({ protocol: /^https?$/ }).optional()),
  AWS_ACCESS_KEY_ID: optionalText,
  AWS_SECRET_ACCESS_KEY: optionalText,
  AWS_SESSION_TOKEN: optionalText,
  S3_FORCE_PATH_STYLE: z.preprocess(blankAsUnset, z.enum(['true', 'false']).optional()),
  WEBHOOK_SIGNING_SECRET: z.preprocess(
    blankAsUnset,
    z
      .string()
      .refine(
        isWebhookSecret,
        'must be whsec_ followed by 24 to 64 random bytes in base64 (Standard Webhooks), e.g. whsec_$(openssl rand -base64 32)',
      )
      .optional(),
  ),
  WEBHOOK_ALLOW_PRIVATE: z.preprocess(blankAsUnset, z.enum(['true', 'false']).default('false')),
  WEBHOOK_TIMEOUT_MS: ms(10_000),
  WEBHOOK_RETRY_BASE_MS: ms(5_000),
  WEBHOOK_RETRY_MAX_MS: ms(3_600_000),
  WEBHOOK_RETRY_FOR_MS: ms(24 * 3_600_000),
  WEBHOOK_CONCURRENCY: int(1, 256, 8),
  WEBHOOK_SWEEP_MS: ms(5_000),
  WEBHOOK_LEASE_MARGIN_MS: ms(15_000),
  UPLOAD_MAX_VIDEO_BYTES: int(1, 2 ** 31 - 1, 100 * 1024 * 1024),
  // At least a day, so the daily byte limit still sees (and counts) every upload of the day.
  UPLOAD_RETENTION_HOURS: int(24, 24 * 30, 24),
  UPLOAD_SWEEP_MS: ms(60_000),
  LIMIT_UPLOAD_BYTES_PER_DAY: z.preprocess(
    blankAsUnset,
    z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  ),
  // OpenTelemetry's own names, so a collector's usual settings carry over; tracing is off without the endpoint.
  OTEL_EXPORTER_OTLP_ENDPOINT: z.preprocess(blankAsUnset, z.url({ protocol: /^https?$/ }).optional()),
  OTEL_EXPORTER_OTLP_PROTOCOL: z.preprocess(
    blankAsUnset,
    z.enum(['http/protobuf', 'http/json']).default('http/protobuf'),
  ),
  OTEL_EXPORTER_OTLP_HEADERS: z.preprocess(blankAsUnset, OtlpHeaders.optional()),
  OTEL_SERVICE_NAME: z.preprocess(blankAsUnset, z.string().min(1).default('happyhorse-gateway')),
  OTEL_BSP_SCHEDULE_DELAY: int(1, 2 ** 31 - 1, 5_000),
});

/** The name of an environment variable the configuration reads. */
export type ConfigVariable = keyof typeof Env.shape;
/**
 * Every environment variable the configuration reads (deploy files are checked against it). Each is
 * documented in src/configDocs.ts, which docs/configuration.md's table is made from.
 */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(Env.shape);

/** Where copies of the outputs go: none, a folder (the default, DATA_DIR/videos), or an S3 bucket and prefix. */
export type StorageConfig =
  | { kind: 'none' }
  | { kind: 'file'; dir: string }
  | { kind: 's3'; bucket: string; prefix: string; s3: S3Settings };

export interface S3Settings {
  region: string;
  /** MinIO, R2 and the like; unset means AWS. */
  endpoint: string | undefined;
  /** Unset: the AWS SDK's default chain (instance roles, profiles …). */
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
  forcePathStyle: boolean;
}

function parseStorageUrl(
  value: string | undefined,
  dataDir: string,
  problems: string[],
  s3Settings: S3Settings,
): StorageConfig {
  if (value === undefined) return { kind: 'file', dir: join(dataDir, 'videos') };
  if (value === 'none') return { kind: 'none' };
  if (value.startsWith('file:')) {
    const dir = value.startsWith('file://') ? fileURLToPath(value) : value.slice('file:'.length);
    if (dir) return { kind: 'file', dir };
  }
  const s3 = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(value);
  if (s3) return { kind: 's3', bucket: s3[1]!, prefix: (s3[2] ?? '').replace(/^\/+|\/+$/g, ''), s3: s3Settings };
  problems.push('STORAGE_URL: must be s3://bucket/prefix, file:/a/folder, or none');
  return { kind: 'none' };
}

/** `whsec_` and base64 of 24 to 64 bytes: the Standard Webhooks form of a symmetric signing secret. */
function isWebhookSecret(value: string): boolean {
  const match = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(value);
  if (!match) return false;
  const bytes = Buffer.from(match[1]!, 'base64').length;
  return bytes >= 24 && bytes <= 64;
}

export type Config = ReturnType<typeof loadConfig>;

export class ConfigError extends Error {}

/**
 * Refuse to start (ConfigError) when DATA_DIR cannot be written: the gateway keeps there the
 * upstream ids of paid jobs the database could not take yet, and finding out in the middle of an
 * outage would be too late.
 */
export async function checkDataDir(dataDir: string): Promise<void> {
  const problem = await dataDirProblem(dataDir);
  if (problem) {
    throw new ConfigError(
      `Invalid configuration:\n  ${problem}\n  (set DATA_DIR to a folder this process can write: it keeps paid jobs' upstream ids there while the database is away)`,
    );
  }
}

/** Parse the environment; a wrong value stops start-up with a message naming the variable. */
export function loadConfig(env: Record<string, string | undefined>) {
  const parsed = Env.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${String(issue.path[0])}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const problems: string[] = [];
  if (e.NODE_ENV === 'production' && !e.ATLASCLOUD_API_KEY) {
    problems.push('ATLASCLOUD_API_KEY: required when NODE_ENV=production (the simulator is for development only)');
  }
  if (e.NODE_ENV === 'production' && !e.AUTH_MODE) {
    problems.push(
      'AUTH_MODE: required when NODE_ENV=production (jwt, apikey, or none for a gateway behind a trusted backend)',
    );
  }
  const authMethods = e.AUTH_MODE ?? ['none'];
  if (authMethods.includes('jwt') && !e.AUTH_JWKS_URL === !e.AUTH_JWT_SECRET) {
    problems.push(
      "AUTH_MODE: jwt needs exactly one of AUTH_JWKS_URL (your identity provider's keys) or AUTH_JWT_SECRET (HS256)",
    );
  }
  if (e.AUTH_JWKS_URL && !keyStaysPrivate(e.AUTH_JWKS_URL))
    problems.push('AUTH_JWKS_URL: must be https (http only to localhost)');
  if (!e.AUTH_ADMIN_CLAIM !== !e.AUTH_ADMIN_VALUE)
    problems.push('AUTH_ADMIN_CLAIM: goes with AUTH_ADMIN_VALUE; set both or neither');
  const origins = e.CORS_ORIGINS?.split(',')
    .map((origin) => origin.trim())
    .filter(Boolean);
  for (const origin of origins ?? []) {
    if (origin !== '*' && !/^https?:\/\/[^/\s]+$/.test(origin))
      problems.push(`CORS_ORIGINS: "${origin}" is not an origin like https://app.example.com (no path)`);
  }
  const publicUrl = e.PUBLIC_URL ? checkPublicUrl(e.PUBLIC_URL, e.NODE_ENV, problems) : undefined;
  if (e.ATLASCLOUD_WEBHOOK_JWKS_URL && !keyStaysPrivate(e.ATLASCLOUD_WEBHOOK_JWKS_URL)) {
    // The keys that decide which deliveries are believed must not come over plain http from elsewhere.
    problems.push('ATLASCLOUD_WEBHOOK_JWKS_URL: must be https (http only to localhost)');
  }
  if (e.HTTP_HEADERS_TIMEOUT_MS > e.HTTP_REQUEST_TIMEOUT_MS) {
    // Node refuses it too: the headers are part of the request.
    problems.push(
      'HTTP_HEADERS_TIMEOUT_MS: must not be longer than HTTP_REQUEST_TIMEOUT_MS (the headers are part of the request)',
    );
  }
  if (!e.AWS_ACCESS_KEY_ID !== !e.AWS_SECRET_ACCESS_KEY)
    problems.push('AWS_ACCESS_KEY_ID: goes with AWS_SECRET_ACCESS_KEY; set both or neither');
  const storage = parseStorageUrl(e.STORAGE_URL, e.DATA_DIR, problems, {
    region: e.AWS_REGION ?? 'us-east-1',
    endpoint: e.AWS_ENDPOINT_URL_S3 ?? e.AWS_ENDPOINT_URL,
    credentials:
      e.AWS_ACCESS_KEY_ID && e.AWS_SECRET_ACCESS_KEY
        ? {
            accessKeyId: e.AWS_ACCESS_KEY_ID,
            secretAccessKey: e.AWS_SECRET_ACCESS_KEY,
            ...(e.AWS_SESSION_TOKEN ? { sessionToken: e.AWS_SESSION_TOKEN } : {}),
          }
        : undefined,
    forcePathStyle: e.S3_FORCE_PATH_STYLE === 'true',
  });
  const priceTable = parsePrices(e.PRICES, e.PRICES_FILE, problems);
  if (problems.length)
    throw new ConfigError(`Invalid configuration:\n${problems.map((line) => `  ${line}`).join('\n')}`);
  return {
    nodeEnv: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    /**
     * How long a client has to send its request line and headers, and its whole request (body
     * included); past either it gets 408 and the connection is closed, so stalled clients cannot hold
     * connections. Answers (SSE streams included) are not limited by these.
     */
    http: { headersTimeoutMs: e.HTTP_HEADERS_TIMEOUT_MS, requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS },
    database: e.DATABASE_URL ? { url: e.DATABASE_URL } : { dataDir: e.DATA_DIR },
    /** Local files: PGlite's database without DATABASE_URL, and always the journal of unrecorded submissions. */
    dataDir: e.DATA_DIR,
    /** Without a key the gateway starts its built-in simulator and talks to that instead. */
    atlas: e.ATLASCLOUD_API_KEY ? { apiKey: e.ATLASCLOUD_API_KEY, baseUrl: e.ATLASCLOUD_BASE_URL } : undefined,
    upstreamTimeoutMs: e.UPSTREAM_TIMEOUT_MS,
    upstreamRetries: e.UPSTREAM_RETRIES,
    pollIntervalMs: e.POLL_INTERVAL_MS,
    pollConcurrency: e.POLL_CONCURRENCY,
    predictionTimeoutMs: e.PREDICTION_TIMEOUT_MS,
    simulatorJobMs: e.SIMULATOR_JOB_MS,
    persistedOperations: e.PERSISTED_OPERATIONS,
    // GraphiQL sends arbitrary documents, so it is useless (and off) in persisted-only mode.
    graphiql: e.GRAPHIQL ? e.GRAPHIQL === 'true' : e.NODE_ENV !== 'production' && e.PERSISTED_OPERATIONS === 'open',
    // The schema ships in the client package; a production gateway need not describe itself to anyone.
    introspection: e.INTROSPECTION ? e.INTROSPECTION === 'true' : e.NODE_ENV !== 'production',
    logLevel: e.LOG_LEVEL,
    auth: {
      /** Set explicitly; `none` by default is allowed only outside production. */
      explicit: e.AUTH_MODE !== undefined,
      methods: authMethods,
      jwt: authMethods.includes('jwt')
        ? {
            ...(e.AUTH_JWKS_URL
              ? { jwksUrl: e.AUTH_JWKS_URL, jwksCooldownMs: e.AUTH_JWKS_COOLDOWN_MS }
              : { secret: e.AUTH_JWT_SECRET! }),
            issuer: e.AUTH_JWT_ISSUER,
            audience: e.AUTH_JWT_AUDIENCE,
            /** The longest a token may live, from its `iat` or from now, whichever is earlier, to its required `exp`. */
            maxAgeSeconds: e.AUTH_JWT_MAX_AGE,
            tenantClaim: e.AUTH_TENANT_CLAIM,
            admin: e.AUTH_ADMIN_CLAIM ? { claim: e.AUTH_ADMIN_CLAIM, value: e.AUTH_ADMIN_VALUE! } : undefined,
          }
        : undefined,
    },
    /** Per caller unless named otherwise; undefined means unlimited. API keys may override the per-caller ones. */
    limits: {
      activeJobs: e.LIMIT_ACTIVE_JOBS,
      jobsPerMinute: e.LIMIT_JOBS_PER_MINUTE,
      dailySpendUsd: e.LIMIT_DAILY_SPEND_USD,
      dailySpendUsdTotal: e.LIMIT_DAILY_SPEND_USD_TOTAL,
    },
    prices: {
      perRunUsd: e.PRICE_PER_RUN_USD,
      perSecondUsd: { '720P': e.PRICE_PER_SECOND_720P_USD, '1080P': e.PRICE_PER_SECOND_1080P_USD },
      /** PRICES or PRICES_FILE, per model or mode and resolution (src/prices.ts); the two above price what it does not. */
      table: priceTable,
    },
    /** Browser origins allowed to call; undefined means same origin only. */
    corsOrigins: origins,
    /** When set, /metrics answers only `Authorization: Bearer <this>`. */
    metricsToken: e.METRICS_TOKEN,
    /** Set when the gateway can be reached by Atlas: then every job asks for a signed webhook. */
    atlasWebhooks: publicUrl
      ? {
          /** Without a trailing slash; webhook URLs are this + /webhooks/atlas/<token>. */
          publicUrl,
          /** Undefined: the upstream's own, ATLASCLOUD_BASE_URL + /api/v1/webhooks/jwks.json. */
          jwksUrl: e.ATLASCLOUD_WEBHOOK_JWKS_URL,
          /** After a fetch, how long a delivery naming an unknown key id waits before another one. */
          jwksCooldownMs: e.ATLASCLOUD_WEBHOOK_JWKS_COOLDOWN_MS,
          /** How often jobs that have a webhook are still polled, as webhooks get lost. */
          pollIntervalMs: e.WEBHOOK_POLL_INTERVAL_MS,
        }
      : undefined,
    /** Sent as X-AtlasCloud-Object-Expiration-Hours on create calls; undefined leaves Atlas' default. */
    outputExpirationHours: e.ATLASCLOUD_OUTPUT_EXPIRATION_HOURS,
    mirror: {
      storage,
      maxBytes: e.MIRROR_MAX_BYTES,
      timeoutMs: e.MIRROR_TIMEOUT_MS,
      holdMs: e.MIRROR_HOLD_MS,
      leaseMs: e.MIRROR_LEASE_MS,
      concurrency: e.MIRROR_CONCURRENCY,
    },
    videoUrls: { secret: e.VIDEO_URL_SECRET, ttlSeconds: e.VIDEO_URL_TTL_SECONDS, baseUrl: e.VIDEO_BASE_URL },
    /** Staged uploads (createUpload, then one PUT): caps, the per-caller daily bytes, how long they are kept. */
    uploads: {
      maxVideoBytes: e.UPLOAD_MAX_VIDEO_BYTES,
      bytesPerDay: e.LIMIT_UPLOAD_BYTES_PER_DAY,
      retentionHours: e.UPLOAD_RETENTION_HOURS,
      sweepMs: e.UPLOAD_SWEEP_MS,
    },
    /** Traces over OTLP; undefined (no SDK loaded, nothing exported) without OTEL_EXPORTER_OTLP_ENDPOINT. */
    tracing: e.OTEL_EXPORTER_OTLP_ENDPOINT
      ? {
          /** The collector's base URL; spans go to its /v1/traces. */
          endpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT,
          protocol: e.OTEL_EXPORTER_OTLP_PROTOCOL,
          headers: e.OTEL_EXPORTER_OTLP_HEADERS ?? {},
          serviceName: e.OTEL_SERVICE_NAME,
          /** How long finished spans wait to be sent in one batch. */
          scheduleDelayMs: e.OTEL_BSP_SCHEDULE_DELAY,
        }
      : undefined,
    /** Outbound webhooks to callers' backends; callers may ask for one only when a signing secret is set. */
    webhooks: {
      signingSecret: e.WEBHOOK_SIGNING_SECRET,
      allowPrivate: e.WEBHOOK_ALLOW_PRIVATE === 'true',
      /** Outside production, plain http (and a loopback address) is accepted for a loopback host: local receivers and tests. */
      allowLoopback: e.NODE_ENV !== 'production',
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
      retryBaseMs: e.WEBHOOK_RETRY_BASE_MS,
      retryMaxMs: e.WEBHOOK_RETRY_MAX_MS,
      retryForMs: e.WEBHOOK_RETRY_FOR_MS,
      concurrency: e.WEBHOOK_CONCURRENCY,
      sweepMs: e.WEBHOOK_SWEEP_MS,
      leaseMarginMs: e.WEBHOOK_LEASE_MARGIN_MS,
    },
  };
}

/** PRICES (JSON) or PRICES_FILE (a JSON file), one of them; empty when neither is set. */
function parsePrices(inline: string | undefined, file: string | undefined, problems: string[]): PriceTable {
  if (inline && file) {
    problems.push('PRICES: set PRICES or PRICES_FILE, not both');
    return {};
  }
  const name = file ? 'PRICES_FILE' : 'PRICES';
  let text = inline;
  if (file) {
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      problems.push(`PRICES_FILE: cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
      return {};
    }
  }
  if (text === undefined) return {};
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    problems.push(`${name}: is not JSON`);
    return {};
  }
  const parsed = PriceTable.safeParse(json);
  if (!parsed.success) {
    for (const issue of parsed.error.issues)
      problems.push(`${name}: ${issue.path.map(String).join('.') || 'the value'} ${issue.message}`);
    return {};
  }
  for (const problem of priceTableProblems(parsed.data)) problems.push(`${name}: ${problem}`);
  return parsed.data;
}

/**
 * PUBLIC_URL: where Atlas reaches this gateway. https, as deliveries carry the job's secret token in
 * their path; plain http only to this machine outside production (tests, the simulator). A base
 * address only: a query or fragment would end up in the middle of every webhook URL.
 */
function checkPublicUrl(value: string, nodeEnv: string, problems: string[]): string | undefined {
  const url = new URL(value);
  if (url.protocol === 'http:' && (!LOOPBACK.test(url.hostname) || nodeEnv === 'production')) {
    problems.push(
      'PUBLIC_URL: must be https (plain http only to a loopback address, and not when NODE_ENV=production)',
    );
    return undefined;
  }
  if (url.search || url.hash || value.includes('?') || value.includes('#')) {
    problems.push('PUBLIC_URL: must be a base address without a query (?) or fragment (#)');
    return undefined;
  }
  if (url.username || url.password) {
    problems.push('PUBLIC_URL: must not carry a user name or password');
    return undefined;
  }
  return url.href.replace(/\/+$/, '');
}
