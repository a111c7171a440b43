import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { ConfigError } from './config.ts';

/**
 * Reads `.env` from the working directory into `env`, before the configuration is parsed.
 *
 * A variable already in the environment wins over the file, even when it is set to the empty string:
 * what the operator (or a container's environment) says at start-up beats a file that may be stale.
 * Node's own `process.loadEnvFile` and `--env-file` behave the same on Node 20, 22 and 24, but the rule
 * is applied here rather than left to the runtime, so it cannot change under us.
 *
 * With NODE_ENV=test in the environment the file is not read: test suites configure every process
 * they start, and a developer's `.env` (a real key, a real DATABASE_URL) must not leak into them.
 *
 * Returns the names of the variables taken from the file (never their values).
 */
export function loadEnvFile(env: NodeJS.ProcessEnv = process.env, file = resolve('.env')): string[] {
  if (env.NODE_ENV === 'test') return [];
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new ConfigError(`Invalid configuration:\n  ${file}: cannot be read (${(error as Error).message})`);
  }
  const taken: string[] = [];
  for (const [name, value] of Object.entries(parseEnv(text))) {
    if (value === undefined || env[name] !== undefined) continue;
    env[name] = value;
    taken.push(name);
  }
  return taken;
}
