import { ConfigError, loadConfig } from './config.ts';
import { createLogger } from './log.ts';
import { createGateway } from './server.ts';

try {
  const config = loadConfig(process.env);
  const gateway = await createGateway(config, createLogger(config.logLevel));
  await gateway.listen();
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => void gateway.close().then(() => process.exit(0)));
  }
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(1);
}
