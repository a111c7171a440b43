import { ConfigError, checkDataDir, loadConfig } from './config.ts';
import { loadEnvFile } from './envFile.ts';
import { createLogger } from './log.ts';

try {
  const fromFile = loadEnvFile();
  const config = loadConfig(process.env);
  // Before the database opens: PGlite would otherwise fail on it first, less plainly.
  await checkDataDir(config.dataDir);
  // The key is redacted where upstream text is read; the logger redacts it (and the other secrets) once more, from every line.
  const secrets = [
    config.atlas?.apiKey,
    config.metricsToken,
    config.webhooks.signingSecret,
    // A hosted collector's API key, in OTEL_EXPORTER_OTLP_HEADERS.
    ...Object.values(config.tracing?.headers ?? {}),
  ].filter((secret): secret is string => Boolean(secret));
  const log = createLogger(config.logLevel, undefined, { secrets });
  if (fromFile.length > 0) log.info('read .env', { variables: fromFile });
  // The database opens (PGlite compiles its WebAssembly off the main thread) while the rest of the
  // gateway's modules load: the two overlap instead of adding up.
  const database = import('./db/database.ts').then(({ openDatabase }) => openDatabase(config.database));
  database.catch(() => {}); // awaited, and reported, by createGateway
  const { createGateway } = await import('./server.ts');
  const gateway = await createGateway(config, log, { database, owned: true });
  const url = await gateway.listen();
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => void gateway.close(signal).then(() => process.exit(0)));
  }
  // For the person at the terminal; the JSON lines on stdout are for log collectors.
  console.error(`\nHappyHorse gateway: demo ${new URL('/', url)}  GraphQL ${url}`);
  if (gateway.simulator)
    console.error('SIMULATING Atlas Cloud (no ATLASCLOUD_API_KEY): jobs are simulated, nothing is billed.\n');
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(1);
}
