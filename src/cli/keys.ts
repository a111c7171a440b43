/**
 * API keys for server-to-server callers, on the gateway's database (DATABASE_URL, or PGlite in DATA_DIR),
 * or, with --url (or GATEWAY_URL), through a running gateway's admin operations: PGlite's folder has
 * one owner, so while the gateway runs that is the way in. They are sent as hashes from the persisted
 * manifest, so a gateway with PERSISTED_OPERATIONS=only runs them too.
 *   npm run keys -- create --name ci-bot [--tenant acme] [--admin] [--active-jobs N] [--jobs-per-minute N] [--daily-spend-usd X]
 *   npm run keys -- list
 *   npm run keys -- revoke <id>
 *   npm run keys -- help
 */
import { parseArgs } from 'node:util';
import { OperationTypeNode } from 'graphql';
import { z } from 'zod';
import { createApiKey, type NewApiKey } from '../auth/apiKeys.ts';
import { ConfigError, loadConfig } from '../config.ts';
import { openDatabase } from '../db/database.ts';
import { listApiKeys, revokeApiKey } from '../db/queries/apiKeys.ts';
import type { ApiKeyRow } from '../db/schema.ts';
import { loadEnvFile } from '../envFile.ts';
import { ErrorCode } from '../errorCodes.ts';
import { persistedOperationHash } from '../persistedManifest.ts';

const USAGE = `usage:
  npm run keys -- create --name NAME [--tenant TENANT] [--admin] [--active-jobs N] [--jobs-per-minute N] [--daily-spend-usd USD]
  npm run keys -- list
  npm run keys -- revoke ID
  npm run keys -- help

Without --url, on the gateway's database (DATABASE_URL, or PGlite in DATA_DIR; PGlite's folder only
while no gateway runs on it). With a running gateway, through its admin operations:
  --url URL        the gateway's address, e.g. http://127.0.0.1:4000 (or GATEWAY_URL)
  --token TOKEN    an admin's API key or JWT (or GATEWAY_ADMIN_TOKEN)`;

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
      url: { type: 'string' },
      token: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  return { command: positionals[0], args: positionals.slice(1), values };
}

/** What a key's line shows, read from the database or from the gateway's answer alike. */
type KeyFacts = Omit<ApiKeyRow, 'keyHash'>;

function describe(key: KeyFacts): string {
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
  if (command === 'help' || values.help) return void console.log(USAGE);
  if (command !== 'create' && command !== 'list' && command !== 'revoke')
    throw new UsageError(command ? `unknown command: ${command}` : 'no command');
  if (command === 'revoke' && args.length !== 1) throw new UsageError('revoke takes one key id');
  const options = command === 'create' ? CreateOptions.safeParse(values) : undefined;
  if (options && !options.success) throw new UsageError(options.error.issues.map((issue) => issue.message).join('; '));

  loadEnvFile();
  const url = values.url ?? process.env.GATEWAY_URL;
  const keys = url ? remoteKeys(url, values.token ?? process.env.GATEWAY_ADMIN_TOKEN) : await localKeys();
  try {
    if (command === 'create') {
      const o = options!.data!;
      const { key, row } = await keys.create({
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
      for (const key of await keys.list()) console.log(describe(key));
    } else {
      const id = args[0]!;
      if (!/^[0-9a-f-]{36}$/i.test(id) || !(await keys.revoke(id))) throw new UsageError(`no key has the id ${id}`);
      console.log(`revoked ${id}`);
    }
  } finally {
    await keys.close();
  }
}

/** The three commands, on the database or through a gateway. */
interface Keys {
  create(key: NewApiKey): Promise<{ key: string; row: KeyFacts }>;
  list(): Promise<KeyFacts[]>;
  /** False when there is no such key. */
  revoke(id: string): Promise<boolean>;
  close(): Promise<void>;
}

async function localKeys(): Promise<Keys> {
  const config = loadConfig(process.env);
  const database = await openDatabase(config.database);
  return {
    create: (key) => createApiKey(database.db, key),
    list: () => listApiKeys(database.db),
    revoke: (id) => revokeApiKey(database.db, id, new Date()),
    close: () => database.close(),
  };
}

/** An admin operation refused, or the gateway not reached: said as the gateway said it. */
class RemoteError extends Error {}

/** What ApiKeyFields (packages/client/src/client/adminDocuments.ts) selects, as `describe` needs it. */
const RemoteKey = z
  .object({
    id: z.string(),
    name: z.string(),
    prefix: z.string(),
    tenantId: z.string().nullable(),
    admin: z.boolean(),
    limits: z.object({
      activeJobs: z.number().nullable(),
      jobsPerMinute: z.number().nullable(),
      dailySpendUsd: z.number().nullable(),
    }),
    createdAt: z.coerce.date(),
    lastUsedAt: z.coerce.date().nullable(),
    revokedAt: z.coerce.date().nullable(),
  })
  .transform(
    ({ limits, ...key }): KeyFacts => ({
      ...key,
      limitActiveJobs: limits.activeJobs,
      limitJobsPerMinute: limits.jobsPerMinute,
      limitDailySpendUsd: limits.dailySpendUsd,
    }),
  );
const GraphQLReply = z.object({
  data: z.record(z.string(), z.unknown()).nullish(),
  errors: z
    .array(z.object({ message: z.string(), extensions: z.object({ code: z.string() }).loose().optional() }))
    .optional(),
});

function remoteKeys(url: string, token: string | undefined): Keys {
  if (!token) throw new UsageError('--url needs an admin credential: --token or GATEWAY_ADMIN_TOKEN');
  let endpoint: URL;
  try {
    endpoint = new URL(url);
  } catch {
    throw new UsageError(`--url is not a URL: ${url}`);
  }
  if (!/^https?:$/.test(endpoint.protocol)) throw new UsageError('--url must be http or https');
  if (!endpoint.pathname.endsWith('/graphql')) endpoint = new URL('graphql', `${endpoint.href.replace(/\/?$/, '/')}`);

  /**
   * Runs an operation of the persisted manifest by its hash, as the typed client does in persisted
   * mode: a gateway runs those whether PERSISTED_OPERATIONS is `open` or `only`.
   */
  async function call(
    type: OperationTypeNode,
    name: string,
    variables: Record<string, unknown>,
    field: string,
  ): Promise<unknown> {
    const sha256Hash = persistedOperationHash(type, name);
    if (sha256Hash === undefined)
      throw new Error(
        `The ${type} ${name} is not in the persisted-documents manifest, so no gateway would run it: run npm run codegen`,
      );
    let response: Response;
    try {
      response = await fetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: '', variables, extensions: { persistedQuery: { version: 1, sha256Hash } } }),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      throw new RemoteError(`the gateway at ${endpoint.href} could not be reached (${(error as Error).message})`);
    }
    const reply = GraphQLReply.safeParse(await response.json().catch(() => undefined));
    if (!reply.success) throw new RemoteError(`${endpoint.href} answered ${response.status}, not GraphQL`);
    const error = reply.data.errors?.[0];
    if (error) {
      if (error.extensions?.code === ErrorCode.NOT_FOUND) return undefined;
      // The gateway's manifest is another version's: this program's operation is not in it.
      const hint =
        error.extensions?.code === ErrorCode.PERSISTED_QUERY_NOT_FOUND
          ? `; ${name} is not among its operations: run the keys program of the gateway's own version`
          : '';
      throw new RemoteError(
        `the gateway refused: ${error.message}${error.extensions ? ` (${error.extensions.code})` : ''}${hint}`,
      );
    }
    return reply.data.data?.[field];
  }

  return {
    async create(key) {
      const created = z.object({ apiKey: RemoteKey, secret: z.string() }).parse(
        await call(
          OperationTypeNode.MUTATION,
          'CreateApiKey',
          {
            input: {
              name: key.name,
              tenantId: key.tenantId,
              admin: key.admin,
              activeJobs: key.limits?.activeJobs,
              jobsPerMinute: key.limits?.jobsPerMinute,
              dailySpendUsd: key.limits?.dailySpendUsd,
            },
          },
          'createApiKey',
        ),
      );
      return { key: created.secret, row: created.apiKey };
    },
    async list() {
      return z.array(RemoteKey).parse(await call(OperationTypeNode.QUERY, 'ApiKeys', {}, 'apiKeys'));
    },
    async revoke(id) {
      const revoked = await call(OperationTypeNode.MUTATION, 'RevokeApiKey', { id }, 'revokeApiKey');
      return revoked !== undefined && revoked !== null;
    },
    close: async () => {},
  };
}

try {
  await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof UsageError) {
    console.error(`${error.message}\n${USAGE}`);
    process.exit(2);
  }
  if (error instanceof ConfigError || error instanceof RemoteError) {
    console.error(error.message);
    process.exit(1);
  }
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
}
