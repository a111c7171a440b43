/** API keys managed by admins while the gateway runs: apiKeys, createApiKey, revokeApiKey. */
import { z } from 'zod';
import type { ApiKeyRow } from '../db/schema.ts';
import { builder } from './builder.ts';
import { notFound } from './errors.ts';

const ApiKeyLimits = builder.objectRef<ApiKeyRow>('ApiKeyLimits').implement({
  description: "The key's own limits; null: the gateway's (LIMIT_*) apply.",
  fields: (t) => ({
    activeJobs: t.exposeInt('limitActiveJobs', { nullable: true }),
    jobsPerMinute: t.exposeInt('limitJobsPerMinute', { nullable: true }),
    dailySpendUsd: t.exposeFloat('limitDailySpendUsd', { nullable: true }),
  }),
});

const ApiKey = builder.objectRef<ApiKeyRow>('ApiKey').implement({
  description:
    'An API key for a server-to-server caller. The key itself is shown once, by createApiKey; only its hash is stored.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    prefix: t.exposeString('prefix', { description: 'Its first characters, to tell keys apart.' }),
    tenantId: t.exposeString('tenantId', { nullable: true }),
    admin: t.exposeBoolean('admin'),
    limits: t.field({ type: ApiKeyLimits, resolve: (row) => row }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    lastUsedAt: t.expose('lastUsedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'Noted at most once a minute.',
    }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true }),
  }),
});

const CreatedApiKey = builder.objectRef<{ key: string; row: ApiKeyRow }>('CreatedApiKey').implement({
  fields: (t) => ({
    apiKey: t.field({ type: ApiKey, resolve: (created) => created.row }),
    secret: t.exposeString('key', {
      description: 'The key, to send as "Authorization: Bearer <key>". Shown this once: only its hash is stored.',
    }),
  }),
});

const CreateApiKeyInput = builder.inputType('CreateApiKeyInput', {
  fields: (t) => ({
    name: t.string({ required: true, description: 'Who uses it: 1 to 200 characters after trimming.' }),
    tenantId: t.string({
      description: 'The tenant its jobs belong to; an admin of a tenant may give only its own (the default).',
    }),
    admin: t.boolean({
      defaultValue: false,
      description: "Sees the tenant's jobs (all jobs without a tenant) and manages keys.",
    }),
    activeJobs: t.int({ description: 'At most this many unfinished jobs at once; unset: LIMIT_ACTIVE_JOBS.' }),
    jobsPerMinute: t.int({ description: 'At most this many submissions a minute; unset: LIMIT_JOBS_PER_MINUTE.' }),
    dailySpendUsd: t.float({ description: 'At most this many dollars a UTC day; unset: LIMIT_DAILY_SPEND_USD.' }),
  }),
});

const count = z.number().int().min(0).nullish();
const CreateApiKeyArgs = z.object({
  input: z.object({
    name: z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters'),
    tenantId: z.string().trim().min(1, 'must not be empty').max(200).nullish(),
    admin: z.boolean().nullish(),
    activeJobs: count,
    jobsPerMinute: count,
    dailySpendUsd: z.number().min(0).nullish(),
  }),
});

builder.queryField('apiKeys', (t) =>
  t.field({
    type: [ApiKey],
    description:
      "Every API key the admin manages (its tenant's, or all without one), revoked ones included, oldest first. Admins only (FORBIDDEN otherwise).",
    resolve: (_root, _args, { keys, principal }) => keys.list(principal),
  }),
);

builder.mutationField('createApiKey', (t) =>
  t.field({
    type: CreatedApiKey,
    description: 'Make an API key; its secret is in the answer, once. Admins only (FORBIDDEN otherwise).',
    args: t.validate({ input: t.arg({ type: CreateApiKeyInput, required: true }) }, CreateApiKeyArgs),
    resolve: (_root, { input }, { keys, principal, log }) =>
      keys
        .create(principal, {
          name: input.name.trim(),
          tenantId: input.tenantId?.trim() ?? null,
          admin: input.admin ?? false,
          limits: {
            activeJobs: input.activeJobs ?? undefined,
            jobsPerMinute: input.jobsPerMinute ?? undefined,
            dailySpendUsd: input.dailySpendUsd ?? undefined,
          },
        })
        .then((created) => {
          log.info('api key created', { keyId: created.row.id, by: principal.id, admin: created.row.admin });
          return created;
        }),
  }),
);

builder.mutationField('revokeApiKey', (t) =>
  t.field({
    type: ApiKey,
    description:
      'Revoke an API key at once, in every gateway process (streams it holds open end too). Revoking twice keeps the first time. Admins only (FORBIDDEN otherwise).',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, { keys, principal, log }) => {
      const row = await keys.revoke(principal, String(id));
      if (!row) throw notFound(`API key ${id}`);
      log.info('api key revoked', { keyId: row.id, by: principal.id });
      return row;
    },
  }),
);
