/**
 * API keys for server-to-server callers, on the gateway's database (DATABASE_URL, or PGlite in DATA_DIR).
 *   npm run keys -- create --name ci-bot [--tenant acme] [--admin] [--active-jobs N] [--jobs-per-minute N] [--daily-spend-usd X]
 *   npm run keys -- list
 *   npm run keys -- revoke <id>
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { createApiKey } from '../auth/apiKeys.ts';
import { ConfigError, loadConfig } from '../config.ts';
import { openDatabase } from '../db/database.ts';
import { listApiKeys, revokeApiKey } from '../db/queries/apiKeys.ts';
import type { ApiKeyRow } from '../db/schema.ts';
import { loadEnvFile } from '../envFile.ts';

const USAGE = `usage:
  npm run keys -- create --name NAME [--tenant TENANT] [--admin] [--active-jobs N] [--jobs-per-minute N] [--daily-spend-usd USD]
  npm run keys -- list
  npm run keys -- revoke ID`;

class UsageError extends Error {}

const count = (flag: string) =>
  z.coerce
    .number({ error: `${flag} must be a number` })
    .int(`${flag} must be a whole number`)
    .min(0, `${flag} must be 0 or more`);
const CreateOptions = z.object({
  name: z.string({ error: '--name is required' }).trim().min(1, '--name must not be empty').max(200),
  tenant: z.string().trim().min(1, '--tenant must not be empty').optional(),
  admin: z.boolean().default(false),
  'active-jobs': count('--active-jobs').optional(),
  'jobs-per-minute': count('--jobs-per-minute').optional(),
  'daily-spend-usd': z.coerce
    .number({ error: '--daily-spend-usd must be a number' })
    .min(0, '--daily-spend-usd must be 0 or more')
    .optional(),
});

function parse(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      tenant: { type: 'string' },
      admin: { type: 'boolean' },
      'active-jobs': { type: 'string' },
      'jobs-per-minute': { type: 'string' },
      'daily-spend-usd': { type: 'string' },
    },
  });
  return { command: positionals[0], args: positionals.slice(1), values };
}

function describe(key: ApiKeyRow): string {
  const limits = [
    key.limitActiveJobs === null ? '' : `active-jobs=${key.limitActiveJobs}`,
    key.limitJobsPerMinute === null ? '' : `jobs-per-minute=${key.limitJobsPerMinute}`,
    key.limitDailySpendUsd === null ? '' : `daily-spend-usd=${key.limitDailySpendUsd}`,
  ].filter(Boolean);
  return [
    key.id,
    `${key.prefix}…`,
    `name=${JSON.stringify(key.name)}`,
    `tenant=${key.tenantId ?? '-'}`,
    key.admin ? 'admin' : 'user',
    `created=${key.createdAt.toISOString()}`,
    `last-used=${key.lastUsedAt?.toISOString() ?? 'never'}`,
    key.revokedAt ? `REVOKED=${key.revokedAt.toISOString()}` : 'active',
    ...limits,
  ].join('  ');
}

async function main(argv: string[]): Promise<void> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { command, args, values } = parsed;
  if (command !== 'create' && command !== 'list' && command !== 'revoke')
    throw new UsageError(command ? `unknown command: ${command}` : 'no command');
  if (command === 'revoke' && args.length !== 1) throw new UsageError('revoke takes one key id');
  const options = command === 'create' ? CreateOptions.safeParse(values) : undefined;
  if (options && !options.success) throw new UsageError(options.error.issues.map((issue) => issue.message).join('; '));

  loadEnvFile();
  const config = loadConfig(process.env);
  const database = await openDatabase(config.database);
  try {
    if (command === 'create') {
      const o = options!.data!;
      const { key, row } = await createApiKey(database.db, {
        name: o.name,
        tenantId: o.tenant ?? null,
        admin: o.admin,
        limits: {
          activeJobs: o['active-jobs'],
          jobsPerMinute: o['jobs-per-minute'],
          dailySpendUsd: o['daily-spend-usd'],
        },
      });
      console.log(describe(row));
      console.log(`\n${key}\n`);
      console.error(
        'This is the only time the key is shown: only its hash is stored. Send it as "Authorization: Bearer <key>".',
      );
    } else if (command === 'list') {
      for (const key of await listApiKeys(database.db)) console.log(describe(key));
    } else {
      const id = args[0]!;
      if (!/^[0-9a-f-]{36}$/i.test(id) || !(await revokeApiKey(database.db, id, new Date())))
        throw new UsageError(`no key has the id ${id}`);
      console.log(`revoked ${id}`);
    }
  } finally {
    await database.close();
  }
}

try {
  await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof UsageError) {
    console.error(`${error.message}\n${USAGE}`);
    process.exit(2);
  }
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(1);
  }
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
}
