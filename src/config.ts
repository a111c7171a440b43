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
});

export type Config = ReturnType<typeof loadConfig>;

export class ConfigError extends Error {}

/** Parse the environment; a wrong value stops start-up with a message naming the variable. */
export function loadConfig(env: Record<string, string | undefined>) {
  const parsed = Env.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  if (e.NODE_ENV === 'production' && !e.ATLASCLOUD_API_KEY) {
    throw new ConfigError(
      'Invalid configuration:\n  ATLASCLOUD_API_KEY: required when NODE_ENV=production (the simulator is for development only)',
    );
  }
  return {
    nodeEnv: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    database: e.DATABASE_URL ? { url: e.DATABASE_URL } : { dataDir: e.DATA_DIR },
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
  };
}
