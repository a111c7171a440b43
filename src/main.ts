import { ConfigError, loadConfig } from './config.ts';
import { loadEnvFile } from './envFile.ts';
import { createLogger } from './log.ts';
import { createGateway } from './server.ts';

try {
  const fromFile = loadEnvFile();
  const config = loadConfig(process.env);
  // The key is redacted where upstream text is read; the logger redacts it once more, from every line.
  const log = createLogger(config.logLevel, undefined, {
    secrets: [config.atlas?.apiKey, config.webhooks.signingSecret].filter((secret): secret is string => Boolean(secret)),
  });
  if (fromFile.length > 0) log.info('read .env', { variables: fromFile });
  const gateway = await createGateway(config, log);
  const url = await gateway.listen();
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => void gateway.close().then(() => process.exit(0)));
  }
  // For the person at the terminal; the JSON lines on stdout are for log collectors.
  console.error(`\nHappyHorse gateway: demo ${new URL('/', url)}  GraphQL ${url}`);
  if (gateway.simulator) console.error('SIMULATING Atlas Cloud (no ATLASCLOUD_API_KEY): jobs are simulated, nothing is billed.\n');
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(1);
}
