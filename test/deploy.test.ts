/**
 * The Dockerfile and docker-compose.yml, checked by reading (no Docker engine runs here): what the image
 * runs is what `npm run start:prod` runs, everything it copies exists and reaches the build context,
 * it runs unprivileged with a writable DATA_DIR, its environment and compose's parse as a gateway
 * configuration, and the ports and the health check agree. test/production.test.ts builds and runs
 * what the runtime stage gets.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, ConfigError, loadConfig } from '../src/config.ts';
import {
  all,
  composeEnv,
  copies,
  dockerIgnored,
  durationMs,
  envFiles,
  execForm,
  healthcheck,
  last,
  ROOT,
  readCompose,
  readDockerfile,
  readDockerignore,
  serviceEnv,
  stageEnv,
} from './support/deploy.ts';

const pkg = JSON.parse(readFileSync(`${ROOT}/package.json`, 'utf8')) as { scripts: Record<string, string> };
const stages = readDockerfile();
const build = stages.find((stage) => stage.name === 'build')!;
const runtime = stages.at(-1)!;
const compose = readCompose();
const gateway = compose.services.gateway!;
const postgres = compose.services.postgres!;

/** The container's environment: the image's ENV, then compose's (which wins), with `vars` in .env. */
function containerEnv(vars: Record<string, string>): Record<string, string> {
  return { ...stageEnv(runtime), ...composeEnv(gateway, vars) };
}

/** What compose fixes whatever .env says: the container's own layout (address, published port, volume). */
const CONTAINER_LAYOUT = ['HOST', 'PORT', 'DATA_DIR'];

describe('Dockerfile', () => {
  it('builds in one stage and runs, in another, what npm run start:prod runs', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(build).toBeDefined();
    expect(all(build, 'RUN').join('\n')).toMatch(/npm ci\b(?!.*--omit)/);
    expect(all(build, 'RUN').join('\n')).toMatch(/npm run build\b/);
    expect(all(runtime, 'RUN').join('\n')).toMatch(/npm ci --omit=dev\b/);

    const cmd = execForm(last(runtime, 'CMD')!);
    expect(cmd.join(' ')).toBe(pkg.scripts['start:prod']);
    expect(cmd[0]).toBe('node');
    // The file it runs comes out of `npm run build` (test/production.test.ts builds and runs it).
    expect(cmd[1]).toMatch(/^dist\/.+\.js$/);
  });

  it('gives the runtime stage the install manifests and the build output only', () => {
    const fromContext = copies(runtime)
      .filter((copy) => copy.from === undefined)
      .flatMap((copy) => copy.sources);
    expect(fromContext.sort()).toEqual([
      'package-lock.json',
      'package.json',
      'packages/client/package.json',
      'patches',
      'scripts/postinstall.js',
    ]);
    const fromBuild = copies(runtime).filter((copy) => copy.from !== undefined);
    expect(fromBuild).toEqual([{ from: 'build', sources: ['/app/dist'], dest: 'dist' }]);
    expect(last(runtime, 'WORKDIR')).toBe('/app');
  });

  it('copies only files that exist and that .dockerignore lets into the build context', () => {
    const ignore = readDockerignore();
    const sources = stages
      .flatMap(copies)
      .filter((copy) => copy.from === undefined)
      .flatMap((copy) => copy.sources);
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) {
      expect(existsSync(`${ROOT}/${source}`), `${source} exists`).toBe(true);
      expect(dockerIgnored(ignore, source), `${source} reaches the build context`).toBe(false);
    }
  });

  it('keeps installs, history, local data, build output, secrets and tarballs out of the build context', () => {
    const ignore = readDockerignore();
    for (const path of [
      'node_modules/react/index.js',
      '.git/HEAD',
      '.data/PG_VERSION',
      'dist/main.js',
      'test-results/demo.png',
      'happyhorse-gateway-0.1.0.tgz',
      '.env',
    ]) {
      expect(dockerIgnored(ignore, path), path).toBe(true);
    }
    for (const path of ['src/main.ts', 'package.json', 'patches/postgres+3.4.9.patch'])
      expect(dockerIgnored(ignore, path), path).toBe(false);
  });

  it('runs as an unprivileged user that owns DATA_DIR', () => {
    const user = last(runtime, 'USER');
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    const dataDir = stageEnv(runtime).DATA_DIR!;
    expect(dataDir).toMatch(/^\//);
    // Created and handed to that user before USER switches to it (the gateway writes nowhere else).
    const runs = runtime.instructions.slice(
      0,
      runtime.instructions.findIndex((instruction) => instruction.keyword === 'USER'),
    );
    const chown = runs
      .filter((instruction) => instruction.keyword === 'RUN')
      .map((instruction) => instruction.args)
      .join('\n');
    expect(chown).toContain(`mkdir -p ${dataDir}`);
    expect(chown).toMatch(new RegExp(`chown (-R )?${user}(:${user})? ${dataDir}\\b`));
  });

  it('runs alone (docker run) with a key and AUTH_MODE given, keeping PGlite in DATA_DIR', () => {
    const env = stageEnv(runtime);
    expect(() => loadConfig(env)).toThrow(/ATLASCLOUD_API_KEY[\s\S]*AUTH_MODE/);
    const config = loadConfig({ ...env, ATLASCLOUD_API_KEY: 'sk-x', AUTH_MODE: 'apikey' });
    expect(config).toMatchObject({
      nodeEnv: 'production',
      host: '0.0.0.0',
      port: 4000,
      database: { dataDir: env.DATA_DIR },
      dataDir: env.DATA_DIR,
    });
  });

  it('exposes the port it listens on, and checks health on that port at /health', () => {
    const env = stageEnv(runtime);
    expect(all(runtime, 'EXPOSE')).toEqual([env.PORT]);
    // In a container the gateway must listen beyond loopback.
    expect(env.HOST).toBe('0.0.0.0');
    const check = healthcheck(last(runtime, 'HEALTHCHECK')!);
    expect(check.command[0]).toBe('node');
    const script = check.command.at(-1)!;
    // Run for real against the built gateway in test/production.test.ts.
    expect(script).toContain('process.env.PORT');
    expect(script).toMatch(/\/health'/);
    expect(Number(env.PORT)).toBe(4000);
    // A start period for PGlite or migrations on a slow disk, and a timeout Node's start fits in.
    expect(durationMs(check.options['start-period']!)).toBeGreaterThanOrEqual(20_000);
    expect(durationMs(check.options.timeout!)).toBeGreaterThanOrEqual(3_000);
  });
});

describe('docker-compose.yml', () => {
  it('starts the gateway once Postgres answers, on Postgres with its own credentials', () => {
    expect(postgres.healthcheck?.test).toBeDefined();
    expect(gateway.depends_on?.postgres?.condition).toBe('service_healthy');
    const url = new URL(containerEnv({}).DATABASE_URL!);
    const pg = serviceEnv(postgres, {});
    expect(url.hostname).toBe('postgres');
    expect(url.port).toBe('5432');
    expect(decodeURIComponent(url.username)).toBe(pg.POSTGRES_USER);
    expect(decodeURIComponent(url.password)).toBe(pg.POSTGRES_PASSWORD);
    expect(url.pathname).toBe(`/${pg.POSTGRES_DB}`);
  });

  it('keeps the database and DATA_DIR on named volumes', () => {
    const named = Object.keys(compose.volumes ?? {});
    const mount = (service: typeof gateway, path: string) =>
      service.volumes?.find((volume) => volume.split(':')[1] === path)?.split(':')[0];
    expect(named).toContain(mount(postgres, '/var/lib/postgresql/data'));
    expect(named).toContain(mount(gateway, containerEnv({}).DATA_DIR!));
  });

  it('sets an environment the gateway accepts, with a key as the README says to put in .env', () => {
    const config = loadConfig(containerEnv({ ATLASCLOUD_API_KEY: 'sk-from-dotenv' }));
    expect(config).toMatchObject({
      nodeEnv: 'production',
      host: '0.0.0.0',
      port: 4000,
      dataDir: '/data',
      persistedOperations: 'open',
    });
    expect(config.database).toEqual({ url: 'postgres://gateway:gateway@postgres:5432/gateway' });
    expect(config.atlas?.apiKey).toBe('sk-from-dotenv');
    // Production insists on an explicit AUTH_MODE: compose names one.
    expect(config.auth).toMatchObject({ explicit: true, methods: ['apikey'] });
    expect(config.limits).toEqual({
      activeJobs: undefined,
      jobsPerMinute: undefined,
      dailySpendUsd: undefined,
      dailySpendUsdTotal: undefined,
    });
  });

  it('passes the settings .env gives through to the gateway', () => {
    const config = loadConfig(
      containerEnv({
        ATLASCLOUD_API_KEY: 'sk-from-dotenv',
        AUTH_MODE: 'jwt,apikey',
        AUTH_JWKS_URL: 'https://id.example.com/.well-known/jwks.json',
        AUTH_JWT_ISSUER: 'https://id.example.com/',
        CORS_ORIGINS: 'https://app.example.com',
        LIMIT_DAILY_SPEND_USD: '20',
        PERSISTED_OPERATIONS: 'only',
      }),
    );
    expect(config.auth.methods).toEqual(['jwt', 'apikey']);
    expect(config.auth.jwt).toMatchObject({
      jwksUrl: 'https://id.example.com/.well-known/jwks.json',
      issuer: 'https://id.example.com/',
    });
    expect(config.corsOrigins).toEqual(['https://app.example.com']);
    expect(config.limits.dailySpendUsd).toBe(20);
    expect(config.persistedOperations).toBe('only');
  });

  it('passes every variable of the configuration from .env to the gateway', () => {
    // .env is read whole (not a list of names that forgets new settings), and optional, so a
    // missing file is the gateway's own clear refusal rather than compose's.
    expect(envFiles(gateway)).toEqual([{ path: '.env', required: false }]);
    expect(CONFIG_VARIABLES.length).toBeGreaterThan(50);
    const dotenv = Object.fromEntries(CONFIG_VARIABLES.map((name) => [name, `from-dotenv-${name}`]));
    const env = containerEnv(dotenv);
    const dropped = CONFIG_VARIABLES.filter(
      (name) => !CONTAINER_LAYOUT.includes(name) && env[name] !== `from-dotenv-${name}`,
    );
    expect(dropped).toEqual([]);
    // The layout compose fixes is what the volume, the port mapping and the health check assume.
    expect(containerEnv(dotenv)).toMatchObject({ HOST: '0.0.0.0', PORT: '4000', DATA_DIR: '/data' });
  });

  it('refuses to start in production without a key, and runs the simulator with NODE_ENV=development', () => {
    expect(() => loadConfig(containerEnv({}))).toThrow(ConfigError);
    expect(() => loadConfig(containerEnv({}))).toThrow(/ATLASCLOUD_API_KEY/);
    const config = loadConfig(containerEnv({ NODE_ENV: 'development' }));
    expect(config.atlas).toBeUndefined();
  });

  it('publishes the port the gateway listens on', () => {
    const port = containerEnv({}).PORT;
    expect(port).toBe(all(runtime, 'EXPOSE')[0]);
    expect(gateway.ports?.map((mapping) => mapping.split(':').at(-1))).toEqual([port]);
  });

  it('gives the gateway time to drain on SIGTERM before it is killed', () => {
    // The drain waits for submissions under way: up to UPSTREAM_TIMEOUT_MS + 5 s (src/server.ts).
    const upstreamTimeoutMs = loadConfig(containerEnv({ NODE_ENV: 'development' })).upstreamTimeoutMs;
    expect(durationMs(gateway.stop_grace_period ?? '10s')).toBeGreaterThan(upstreamTimeoutMs + 5_000);
  });

  const composeCli = (() => {
    try {
      execFileSync('docker', ['compose', 'version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
  it.skipIf(!composeCli)('is valid for docker compose itself', () => {
    execFileSync('docker', ['compose', 'config', '--quiet'], {
      cwd: ROOT,
      env: { ...process.env, ATLASCLOUD_API_KEY: 'sk-x' },
    });
  });
});
