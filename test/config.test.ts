import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';
import { TEST_KEY } from './support/gateway.ts';

/** The ConfigError `loadConfig(env)` throws; fails the test if it returns or throws anything else. */
function configError(env: Record<string, string | undefined>): ConfigError {
  let thrown: unknown;
  try {
    loadConfig(env);
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(ConfigError);
  return thrown as ConfigError;
}

/** The variables a ConfigError message lists, one per line as `  NAME: why`. */
function named(error: ConfigError): string[] {
  return [...error.message.matchAll(/^ {2}([A-Z_]+):/gm)].map((match) => match[1]!);
}

describe('loadConfig defaults', () => {
  it('starts on the documented defaults from an empty environment', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      nodeEnv: 'development',
      port: 4000,
      host: '127.0.0.1',
      http: { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000 },
      database: { dataDir: '.data' },
      atlas: undefined,
      upstreamTimeoutMs: 30_000,
      upstreamRetries: 3,
      pollIntervalMs: 2_000,
      pollConcurrency: 64,
      predictionTimeoutMs: 30 * 60 * 1000,
      simulatorJobMs: 6_000,
      graphiql: true,
      logLevel: 'info',
    });
    expect(config.database).toEqual({ dataDir: '.data' });
  });

  it('sends the key only over https, or plain http to this machine', () => {
    expect(() => loadConfig({ ATLASCLOUD_BASE_URL: 'http://api.atlascloud.ai' })).toThrow(
      /ATLASCLOUD_BASE_URL: must be https/,
    );
    expect(loadConfig({ ATLASCLOUD_BASE_URL: 'http://127.0.0.1:9000' }).atlas).toBeUndefined();
    expect(loadConfig({ ATLASCLOUD_API_KEY: 'k', ATLASCLOUD_BASE_URL: 'http://localhost:9000' }).atlas?.baseUrl).toBe(
      'http://localhost:9000',
    );
  });

  it('reads a blank number as unset, not as 0', () => {
    const config = loadConfig({ PORT: '', UPSTREAM_RETRIES: '', POLL_CONCURRENCY: '', POLL_INTERVAL_MS: '' });
    expect(config.port).toBe(4000);
    expect(config.upstreamRetries).toBe(3);
    expect(config.pollConcurrency).toBe(64);
    expect(config.pollIntervalMs).toBe(2000);
  });

  it('uses PGlite in DATA_DIR when there is no DATABASE_URL (blank counts as none)', () => {
    expect(loadConfig({ DATABASE_URL: '' }).database).toEqual({ dataDir: '.data' });
    expect(loadConfig({ DATA_DIR: '/var/lib/hh' }).database).toEqual({ dataDir: '/var/lib/hh' });
  });

  it('uses the server database when DATABASE_URL is a postgres URL', () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://u:p@db:5432/hh' }).database).toEqual({
      url: 'postgres://u:p@db:5432/hh',
    });
    expect(loadConfig({ DATABASE_URL: 'postgresql://db/hh' }).database).toEqual({ url: 'postgresql://db/hh' });
  });

  it('runs the simulator without a key (blank counts as none), and Atlas with one', () => {
    expect(loadConfig({}).atlas).toBeUndefined();
    expect(loadConfig({ ATLASCLOUD_API_KEY: '' }).atlas).toBeUndefined();
    expect(loadConfig({ ATLASCLOUD_API_KEY: TEST_KEY }).atlas).toEqual({
      apiKey: TEST_KEY,
      baseUrl: 'https://api.atlascloud.ai',
    });
    expect(loadConfig({ ATLASCLOUD_API_KEY: TEST_KEY, ATLASCLOUD_BASE_URL: 'http://127.0.0.1:9999' }).atlas).toEqual({
      apiKey: TEST_KEY,
      baseUrl: 'http://127.0.0.1:9999',
    });
  });

  it('reads numbers from their string form', () => {
    const config = loadConfig({
      PORT: '8080',
      POLL_INTERVAL_MS: '250',
      PREDICTION_TIMEOUT_MS: '60000',
      UPSTREAM_RETRIES: '0',
    });
    expect(config).toMatchObject({ port: 8080, pollIntervalMs: 250, predictionTimeoutMs: 60_000, upstreamRetries: 0 });
  });

  it('turns GraphiQL off by default in production, and lets GRAPHIQL decide', () => {
    expect(loadConfig({ NODE_ENV: 'production', ATLASCLOUD_API_KEY: TEST_KEY, AUTH_MODE: 'none' }).graphiql).toBe(
      false,
    );
    expect(
      loadConfig({ NODE_ENV: 'production', ATLASCLOUD_API_KEY: TEST_KEY, AUTH_MODE: 'none', GRAPHIQL: 'true' })
        .graphiql,
    ).toBe(true);
    expect(loadConfig({ GRAPHIQL: 'false' }).graphiql).toBe(false);
  });

  it('turns introspection off by default in production only, and lets INTROSPECTION decide', () => {
    expect(loadConfig({}).introspection).toBe(true);
    expect(loadConfig({ NODE_ENV: 'test' }).introspection).toBe(true);
    expect(loadConfig({ NODE_ENV: 'production', ATLASCLOUD_API_KEY: TEST_KEY, AUTH_MODE: 'none' }).introspection).toBe(
      false,
    );
    expect(
      loadConfig({ NODE_ENV: 'production', ATLASCLOUD_API_KEY: TEST_KEY, AUTH_MODE: 'none', INTROSPECTION: 'true' })
        .introspection,
    ).toBe(true);
    expect(
      loadConfig({ NODE_ENV: 'production', ATLASCLOUD_API_KEY: TEST_KEY, AUTH_MODE: 'none', INTROSPECTION: '' })
        .introspection,
    ).toBe(false);
    expect(loadConfig({ INTROSPECTION: 'false' }).introspection).toBe(false);
  });
});

describe('loadConfig refuses wrong values, naming the variable', () => {
  const wrong: [string, string][] = [
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PORT', '-1'],
    ['PORT', '80.5'],
    ['DATABASE_URL', 'mysql://x'],
    ['DATABASE_URL', 'not a url'],
    ['POLL_INTERVAL_MS', '-1'],
    ['POLL_INTERVAL_MS', '0'],
    ['POLL_INTERVAL_MS', 'soon'],
    ['PREDICTION_TIMEOUT_MS', '1.5'],
    ['UPSTREAM_RETRIES', '11'],
    ['POLL_CONCURRENCY', '0'],
    ['NODE_ENV', 'staging'],
    ['LOG_LEVEL', 'verbose'],
    ['ATLASCLOUD_BASE_URL', 'ftp://api.atlascloud.ai'],
    ['GRAPHIQL', 'yes'],
    ['INTROSPECTION', '1'],
    ['METRICS_TOKEN', 'short'],
    ['METRICS_TOKEN', 'a token with spaces in it'],
    ['HTTP_REQUEST_TIMEOUT_MS', '0'],
    // Longer than the whole request may take (30 s by default): Node would refuse to start.
    ['HTTP_HEADERS_TIMEOUT_MS', '40000'],
  ];
  it.each(wrong)('%s=%j', (name, value) => {
    const error = configError({ [name]: value });
    expect(error.message).toMatch(/^Invalid configuration:/);
    expect(named(error)).toEqual([name]);
  });

  it('takes a METRICS_TOKEN of 16+ printable characters; blank means none', () => {
    expect(loadConfig({ METRICS_TOKEN: 'metrics-token-0123456789' }).metricsToken).toBe('metrics-token-0123456789');
    expect(loadConfig({ METRICS_TOKEN: '' }).metricsToken).toBeUndefined();
  });

  it('names every wrong variable at once', () => {
    const error = configError({ PORT: 'abc', DATABASE_URL: 'mysql://x', POLL_INTERVAL_MS: '-1' });
    expect(named(error).sort()).toEqual(['DATABASE_URL', 'POLL_INTERVAL_MS', 'PORT']);
  });
});

describe('loadConfig in production', () => {
  it('refuses to start without ATLASCLOUD_API_KEY, naming it', () => {
    for (const env of [{ NODE_ENV: 'production' }, { NODE_ENV: 'production', ATLASCLOUD_API_KEY: '' }]) {
      const error = configError({ ...env, AUTH_MODE: 'none' });
      expect(named(error)).toEqual(['ATLASCLOUD_API_KEY']);
      expect(error.message).toMatch(/production/);
    }
  });

  it('starts with a key', () => {
    const config = loadConfig({ NODE_ENV: 'production', ATLASCLOUD_API_KEY: TEST_KEY, AUTH_MODE: 'apikey' });
    expect(config.nodeEnv).toBe('production');
    expect(config.atlas?.apiKey).toBe(TEST_KEY);
  });

  it('refuses to start unless AUTH_MODE is set explicitly, even to none', () => {
    const error = configError({ NODE_ENV: 'production', ATLASCLOUD_API_KEY: TEST_KEY });
    expect(named(error)).toEqual(['AUTH_MODE']);
    expect(loadConfig({ NODE_ENV: 'production', ATLASCLOUD_API_KEY: TEST_KEY, AUTH_MODE: 'none' }).auth).toMatchObject({
      explicit: true,
      methods: ['none'],
    });
  });
});

describe('loadConfig for callers: AUTH_MODE, limits, prices, CORS', () => {
  const SECRET = 's'.repeat(32);

  it('defaults to anonymous callers, unlimited, at $0.14 a run, same origin only', () => {
    const config = loadConfig({});
    expect(config.auth).toEqual({ explicit: false, methods: ['none'], jwt: undefined });
    expect(config.limits).toEqual({
      activeJobs: undefined,
      jobsPerMinute: undefined,
      dailySpendUsd: undefined,
      dailySpendUsdTotal: undefined,
    });
    expect(config.prices).toEqual({
      perRunUsd: 0.14,
      perSecondUsd: { '720P': undefined, '1080P': undefined },
      table: {},
    });
    expect(config.corsOrigins).toBeUndefined();
  });

  it('reads a comma-separated AUTH_MODE, and refuses unknown or repeated methods', () => {
    expect(loadConfig({ AUTH_MODE: 'apikey' }).auth.methods).toEqual(['apikey']);
    expect(loadConfig({ AUTH_MODE: ' jwt , apikey ', AUTH_JWT_SECRET: SECRET }).auth.methods).toEqual([
      'jwt',
      'apikey',
    ]);
    expect(named(configError({ AUTH_MODE: 'jwt,oauth', AUTH_JWT_SECRET: SECRET }))).toEqual(['AUTH_MODE']);
    expect(named(configError({ AUTH_MODE: 'apikey,apikey' }))).toEqual(['AUTH_MODE']);
    expect(named(configError({ AUTH_MODE: ',' }))).toEqual(['AUTH_MODE']);
  });

  it('needs exactly one source of JWT keys for jwt, and a long enough secret', () => {
    expect(configError({ AUTH_MODE: 'jwt' }).message).toMatch(/AUTH_JWKS_URL .* or AUTH_JWT_SECRET/);
    expect(
      named(configError({ AUTH_MODE: 'jwt', AUTH_JWT_SECRET: SECRET, AUTH_JWKS_URL: 'https://idp.example/jwks.json' })),
    ).toEqual(['AUTH_MODE']);
    expect(named(configError({ AUTH_MODE: 'jwt', AUTH_JWT_SECRET: 'short' }))).toEqual(['AUTH_JWT_SECRET']);
    expect(named(configError({ AUTH_MODE: 'jwt', AUTH_JWKS_URL: 'http://idp.example/jwks.json' }))).toEqual([
      'AUTH_JWKS_URL',
    ]);
    expect(
      configError({ AUTH_MODE: 'jwt', AUTH_JWT_SECRET: `${SECRET}-the-secret`, AUTH_ADMIN_CLAIM: 'role' }).message,
    ).not.toContain('the-secret');
    const config = loadConfig({
      AUTH_MODE: 'jwt',
      AUTH_JWKS_URL: 'https://idp.example/.well-known/jwks.json',
      AUTH_JWT_ISSUER: 'https://idp.example/',
      AUTH_JWT_AUDIENCE: 'videos',
      AUTH_TENANT_CLAIM: 'org_id',
      AUTH_ADMIN_CLAIM: 'roles',
      AUTH_ADMIN_VALUE: 'admin',
    });
    expect(config.auth.jwt).toEqual({
      jwksUrl: 'https://idp.example/.well-known/jwks.json',
      jwksCooldownMs: 30_000,
      issuer: 'https://idp.example/',
      audience: 'videos',
      tenantClaim: 'org_id',
      admin: { claim: 'roles', value: 'admin' },
      maxAgeSeconds: 86_400,
    });
  });

  it('reads AUTH_JWT_MAX_AGE as seconds, or with a unit (s, m, h, d); 24 h by default', () => {
    const maxAge = (value: string | undefined) =>
      loadConfig({ AUTH_MODE: 'jwt', AUTH_JWT_SECRET: SECRET, AUTH_JWT_MAX_AGE: value }).auth.jwt?.maxAgeSeconds;
    expect(maxAge(undefined)).toBe(86_400);
    expect(maxAge('')).toBe(86_400);
    expect(maxAge('900')).toBe(900);
    expect(maxAge('90s')).toBe(90);
    expect(maxAge('15m')).toBe(900);
    expect(maxAge(' 12h ')).toBe(43_200);
    expect(maxAge('7d')).toBe(604_800);
    for (const wrong of ['0', '-1h', '1.5h', '2w', 'a day', '400d']) {
      expect(named(configError({ AUTH_MODE: 'jwt', AUTH_JWT_SECRET: SECRET, AUTH_JWT_MAX_AGE: wrong })), wrong).toEqual(
        ['AUTH_JWT_MAX_AGE'],
      );
    }
  });

  it('reads limits and prices, blank as unset, and refuses negative ones', () => {
    const config = loadConfig({
      LIMIT_ACTIVE_JOBS: '3',
      LIMIT_JOBS_PER_MINUTE: '',
      LIMIT_DAILY_SPEND_USD: '2.5',
      LIMIT_DAILY_SPEND_USD_TOTAL: '100',
      PRICE_PER_RUN_USD: '0.2',
      PRICE_PER_SECOND_1080P_USD: '0.05',
    });
    expect(config.limits).toEqual({
      activeJobs: 3,
      jobsPerMinute: undefined,
      dailySpendUsd: 2.5,
      dailySpendUsdTotal: 100,
    });
    expect(config.prices).toEqual({ perRunUsd: 0.2, perSecondUsd: { '720P': undefined, '1080P': 0.05 }, table: {} });
    expect(
      named(configError({ LIMIT_ACTIVE_JOBS: '-1', PRICE_PER_RUN_USD: '-0.1', LIMIT_JOBS_PER_MINUTE: '1.5' })).sort(),
    ).toEqual(['LIMIT_ACTIVE_JOBS', 'LIMIT_JOBS_PER_MINUTE', 'PRICE_PER_RUN_USD']);
  });

  it('reads CORS_ORIGINS as a list of origins', () => {
    expect(loadConfig({ CORS_ORIGINS: 'https://app.example, http://localhost:5173' }).corsOrigins).toEqual([
      'https://app.example',
      'http://localhost:5173',
    ]);
    expect(loadConfig({ CORS_ORIGINS: '*' }).corsOrigins).toEqual(['*']);
    expect(named(configError({ CORS_ORIGINS: 'https://app.example/path' }))).toEqual(['CORS_ORIGINS']);
  });

  it('traces only with OTEL_EXPORTER_OTLP_ENDPOINT, and reads the OTLP headers as name=value pairs', () => {
    expect(loadConfig({}).tracing).toBeUndefined();
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: '' }).tracing).toBeUndefined();
    expect(
      loadConfig({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
        OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=abc%3D%3D, X-Team = video',
      }).tracing,
    ).toEqual({
      endpoint: 'http://collector:4318',
      protocol: 'http/protobuf',
      headers: { 'x-api-key': 'abc==', 'x-team': 'video' },
      serviceName: 'happyhorse-gateway',
      scheduleDelayMs: 5_000,
    });
    expect(
      named(
        configError({
          OTEL_EXPORTER_OTLP_ENDPOINT: 'grpc://collector:4317',
          OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
          OTEL_EXPORTER_OTLP_HEADERS: 'no-equals-sign',
        }),
      ).sort(),
    ).toEqual(['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_HEADERS', 'OTEL_EXPORTER_OTLP_PROTOCOL']);
  });
});

describe('loadConfig never shows the key', () => {
  it('leaves the key out when another variable is wrong', () => {
    const error = configError({
      NODE_ENV: 'production',
      ATLASCLOUD_API_KEY: TEST_KEY,
      PORT: 'abc',
      ATLASCLOUD_BASE_URL: 'ftp://x',
    });
    expect(named(error).sort()).toEqual(['ATLASCLOUD_BASE_URL', 'PORT']);
    expect(error.message).not.toContain(TEST_KEY);
  });

  it('leaves the key out even when it was pasted into the wrong variable', () => {
    for (const name of [
      'ATLASCLOUD_BASE_URL',
      'DATABASE_URL',
      'NODE_ENV',
      'LOG_LEVEL',
      'GRAPHIQL',
      'PORT',
      'POLL_INTERVAL_MS',
    ]) {
      const error = configError({ ATLASCLOUD_API_KEY: TEST_KEY, [name]: TEST_KEY });
      expect(named(error)).toEqual([name]);
      expect(error.message).not.toContain(TEST_KEY);
    }
  });
});
