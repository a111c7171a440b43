import { z } from 'zod';

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
/** A whole number from the environment; blank counts as unset (z.coerce would read it as 0). */
const int = (min: number, max: number, fallback: number) =>
  z.preprocess(blankAsUnset, z.coerce.number().int().min(min).max(max).default(fallback));
const ms = (fallback: number) => int(1, 2 ** 31 - 1, fallback);
/** An optional limit: unset (or blank) means unlimited. */
const optionalInt = z.preprocess(blankAsUnset, z.coerce.number().int().min(0).max(2 ** 31 - 1).optional());
const dollars = z.coerce.number().min(0).max(1_000_000);
const optionalDollars = z.preprocess(blankAsUnset, dollars.optional());
const optionalText = z.preprocess(blankAsUnset, z.string().min(1).optional());

const AUTH_METHODS = ['none', 'jwt', 'apikey'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];
/** `jwt,apikey`: a comma-separated set of methods, each at most once. */
const AuthMode = z
  .string()
  .transform((value) => value.split(',').map((part) => part.trim()).filter(Boolean))
  .pipe(
    z
      .array(z.enum(AUTH_METHODS, { error: `each method must be one of: ${AUTH_METHODS.join(', ')}` }))
      .min(1, `must name at least one of: ${AUTH_METHODS.join(', ')}`)
      .refine((methods) => new Set(methods).size === methods.length, 'names a method twice'),
  );

const Env = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: int(0, 65535, 4000),
  HOST: z.string().min(1).default('127.0.0.1'),
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
  POLL_CONCURRENCY: int(1, 256, 16),
  PREDICTION_TIMEOUT_MS: ms(30 * 60_000),
  SIMULATOR_JOB_MS: ms(6_000),
  PERSISTED_OPERATIONS: z.enum(['open', 'only']).default('open'),
  GRAPHIQL: z.preprocess(blankAsUnset, z.enum(['true', 'false']).optional()),
  INTROSPECTION: z.preprocess(blankAsUnset, z.enum(['true', 'false']).optional()),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  AUTH_MODE: z.preprocess(blankAsUnset, AuthMode.optional()),
  AUTH_JWKS_URL: z.preprocess(blankAsUnset, z.url({ protocol: /^https?$/ }).optional()),
  AUTH_JWT_SECRET: z.preprocess(blankAsUnset, z.string().min(32, 'must be at least 32 characters (HS256 wants 256 bits)').optional()),
  AUTH_JWKS_COOLDOWN_MS: int(0, 3_600_000, 30_000),
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
  CORS_ORIGINS: optionalText,
  WEBHOOK_SIGNING_SECRET: z.preprocess(
    blankAsUnset,
    z
      .string()
      .refine(isWebhookSecret, 'must be whsec_ followed by 24 to 64 random bytes in base64 (Standard Webhooks), e.g. whsec_$(openssl rand -base64 32)')
      .optional(),
  ),
  WEBHOOK_ALLOW_PRIVATE: z.preprocess(blankAsUnset, z.enum(['true', 'false']).default('false')),
  WEBHOOK_TIMEOUT_MS: ms(10_000),
  WEBHOOK_RETRY_BASE_MS: ms(5_000),
  WEBHOOK_RETRY_MAX_MS: ms(3_600_000),
  WEBHOOK_RETRY_FOR_MS: ms(24 * 3_600_000),
  WEBHOOK_CONCURRENCY: int(1, 256, 8),
  WEBHOOK_SWEEP_MS: ms(5_000),
});

/** `whsec_` and base64 of 24 to 64 bytes: the Standard Webhooks form of a symmetric signing secret. */
function isWebhookSecret(value: string): boolean {
  const match = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(value);
  if (!match) return false;
  const bytes = Buffer.from(match[1]!, 'base64').length;
  return bytes >= 24 && bytes <= 64;
}

export type Config = ReturnType<typeof loadConfig>;

export class ConfigError extends Error {}

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
    problems.push('AUTH_MODE: required when NODE_ENV=production (jwt, apikey, or none for a gateway behind a trusted backend)');
  }
  const authMethods = e.AUTH_MODE ?? ['none'];
  if (authMethods.includes('jwt') && !e.AUTH_JWKS_URL === !e.AUTH_JWT_SECRET) {
    problems.push('AUTH_MODE: jwt needs exactly one of AUTH_JWKS_URL (your identity provider\'s keys) or AUTH_JWT_SECRET (HS256)');
  }
  if (e.AUTH_JWKS_URL && !keyStaysPrivate(e.AUTH_JWKS_URL)) problems.push('AUTH_JWKS_URL: must be https (http only to localhost)');
  if (!e.AUTH_ADMIN_CLAIM !== !e.AUTH_ADMIN_VALUE) problems.push('AUTH_ADMIN_CLAIM: goes with AUTH_ADMIN_VALUE; set both or neither');
  const origins = e.CORS_ORIGINS?.split(',').map((origin) => origin.trim()).filter(Boolean);
  for (const origin of origins ?? []) {
    if (origin !== '*' && !/^https?:\/\/[^/\s]+$/.test(origin)) problems.push(`CORS_ORIGINS: "${origin}" is not an origin like https://app.example.com (no path)`);
  }
  if (problems.length) throw new ConfigError(`Invalid configuration:\n${problems.map((line) => `  ${line}`).join('\n')}`);
  return {
    nodeEnv: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
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
            ...(e.AUTH_JWKS_URL ? { jwksUrl: e.AUTH_JWKS_URL, jwksCooldownMs: e.AUTH_JWKS_COOLDOWN_MS } : { secret: e.AUTH_JWT_SECRET! }),
            issuer: e.AUTH_JWT_ISSUER,
            audience: e.AUTH_JWT_AUDIENCE,
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
    },
    /** Browser origins allowed to call; undefined means same origin only. */
    corsOrigins: origins,
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
    },
  };
}
