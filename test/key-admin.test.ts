/**
 * API keys managed while the gateway runs: the admin operations (apiKeys, createApiKey,
 * revokeApiKey) over the real socket, refused to anyone but admins, and `npm run keys --url`
 * using them (PGlite's folder has one owner, so the CLI cannot open it then), on a gateway that runs
 * any document and on one that runs only persisted operations alike.
 */

import { OperationTypeNode } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ApiKeysDocument,
  CreateApiKeyDocument,
  RevokeApiKeyDocument,
} from '../packages/client/src/client/adminDocuments.ts';
import { createVideoClient, documentHash } from '../packages/client/src/client/index.ts';
import { createApiKey } from '../src/auth/apiKeys.ts';
import { persistedOperationHash } from '../src/persistedManifest.ts';
import { post } from './support/auth.ts';
import { FakeAtlas } from './support/fakeAtlas.ts';
import { openTestDatabase, startGateway, type TestDatabase, type TestGateway } from './support/gateway.ts';
import { created, expectRefused, KEY, keys, SLOW, VIEWER, type ViewerReply } from './support/keysCli.ts';

const CREATE = `mutation($input: CreateApiKeyInput!) {
  createApiKey(input: $input) { secret apiKey { id name prefix tenantId admin limits { activeJobs jobsPerMinute dailySpendUsd } revokedAt } }
}`;
const LIST = '{ apiKeys { id name tenantId admin revokedAt } }';
const REVOKE = 'mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }';

interface CreatedReply {
  createApiKey: {
    secret: string;
    apiKey: {
      id: string;
      name: string;
      prefix: string;
      tenantId: string | null;
      admin: boolean;
      limits: Record<string, number | null>;
      revokedAt: string | null;
    };
  };
}
type ListReply = { apiKeys: Array<{ id: string; name: string; tenantId: string | null; revokedAt: string | null }> };

let fake: FakeAtlas;
let db: TestDatabase;
let gw: TestGateway;
/** The same database behind PERSISTED_OPERATIONS=only: hashes from the manifest and nothing else. */
let persistedOnly: TestGateway;
let admin: string;
let tenantAdmin: string;
let user: string;
beforeAll(async () => {
  [fake, db] = await Promise.all([FakeAtlas.start(), openTestDatabase('pglite')]);
  gw = await startGateway({ database: db.database, atlasUrl: fake.url, env: { AUTH_MODE: 'apikey' } });
  persistedOnly = await startGateway({
    database: db.database,
    atlasUrl: fake.url,
    env: { AUTH_MODE: 'apikey', PERSISTED_OPERATIONS: 'only' },
  });
  const make = async (name: string, options: { admin?: boolean; tenantId?: string }) =>
    (await createApiKey(db.database.db, { name, ...options })).key;
  admin = await make('root', { admin: true });
  tenantAdmin = await make('acme-admin', { admin: true, tenantId: 'acme' });
  user = await make('plain', { tenantId: 'acme' });
});
afterAll(async () => {
  await Promise.all([gw?.close(), persistedOnly?.close()]);
  await Promise.all([fake?.close(), db?.close()]);
});

describe('the admin key operations', () => {
  it('create a key whose secret works at once, list it, and revoke it', async () => {
    const reply = await post<CreatedReply>(gw.url, admin, CREATE, {
      input: { name: 'ci-bot', tenantId: 'acme', activeJobs: 2, dailySpendUsd: 5 },
    });
    expect(reply.body.errors).toBeUndefined();
    const { secret, apiKey } = reply.body.data!.createApiKey;
    expect(secret).toMatch(KEY);
    expect(apiKey).toMatchObject({
      name: 'ci-bot',
      prefix: secret.slice(0, 10),
      tenantId: 'acme',
      admin: false,
      limits: { activeJobs: 2, jobsPerMinute: null, dailySpendUsd: 5 },
      revokedAt: null,
    });

    const viewer = await post<ViewerReply>(gw.url, secret, VIEWER);
    expect(viewer.body.data?.viewer).toMatchObject({
      id: `key:${apiKey.id}`,
      tenantId: 'acme',
      authenticatedBy: 'API_KEY',
      limits: { activeJobs: 2, dailySpendUsd: 5 },
    });

    const listed = await post<ListReply>(gw.url, admin, LIST);
    expect(listed.body.data?.apiKeys.find((key) => key.id === apiKey.id)).toMatchObject({ name: 'ci-bot' });
    // The secret is shown once: no list answer carries it.
    expect(JSON.stringify(listed.body)).not.toContain(secret);

    const revoked = await post<{ revokeApiKey: { id: string; revokedAt: string | null } }>(gw.url, admin, REVOKE, {
      id: apiKey.id,
    });
    expect(revoked.body.data?.revokeApiKey.revokedAt).toEqual(expect.any(String));
    expectRefused(await post(gw.url, secret, VIEWER));
  });

  it('are refused to a caller who is not an admin (FORBIDDEN), and nothing is made', async () => {
    const before = await post<ListReply>(gw.url, admin, LIST);
    for (const [query, variables] of [
      [CREATE, { input: { name: 'sneaky' } }],
      [LIST, undefined],
      [REVOKE, { id: before.body.data!.apiKeys[0]!.id }],
    ] as const) {
      const reply = await post(gw.url, user, query, variables);
      expect(reply.body.errors?.[0]?.extensions?.code, query).toBe('FORBIDDEN');
      expect(reply.body.data ?? null).toBeNull();
    }
    const after = await post<ListReply>(gw.url, admin, LIST);
    expect(after.body.data?.apiKeys).toEqual(before.body.data?.apiKeys);
  });

  it("keep a tenant's admin to that tenant's keys", async () => {
    const other = await post(gw.url, tenantAdmin, CREATE, { input: { name: 'elsewhere', tenantId: 'globex' } });
    expect(other.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const own = await post<CreatedReply>(gw.url, tenantAdmin, CREATE, { input: { name: 'acme-bot' } });
    expect(own.body.data?.createApiKey.apiKey.tenantId).toBe('acme');
    const listed = await post<ListReply>(gw.url, tenantAdmin, LIST);
    expect(listed.body.data!.apiKeys.length).toBeGreaterThan(0);
    expect(listed.body.data!.apiKeys.every((key) => key.tenantId === 'acme')).toBe(true);
    const root = (await post<ListReply>(gw.url, admin, LIST)).body.data!.apiKeys.find((key) => key.name === 'root')!;
    expect((await post(gw.url, tenantAdmin, REVOKE, { id: root.id })).body.errors?.[0]?.extensions?.code).toBe(
      'NOT_FOUND',
    );
  });
});

describe('npm run keys with a running gateway', () => {
  it("finds its operations' hashes in the manifest by type and name, and nothing else", () => {
    expect(persistedOperationHash(OperationTypeNode.QUERY, 'ApiKeys')).toBe(documentHash(ApiKeysDocument));
    expect(persistedOperationHash(OperationTypeNode.MUTATION, 'CreateApiKey')).toBe(documentHash(CreateApiKeyDocument));
    expect(persistedOperationHash(OperationTypeNode.MUTATION, 'RevokeApiKey')).toBe(documentHash(RevokeApiKeyDocument));
    expect(persistedOperationHash(OperationTypeNode.QUERY, 'RevokeApiKey')).toBeUndefined();
    expect(persistedOperationHash(OperationTypeNode.QUERY, 'NoSuchOperation')).toBeUndefined();
  });

  it(
    'creates a key through it that then authenticates, lists and revokes it',
    async () => {
      const remote = { GATEWAY_URL: new URL(gw.url).origin, GATEWAY_ADMIN_TOKEN: admin };
      const made = created(await keys(['create', '--name', 'from-cli', '--jobs-per-minute', '7'], remote));
      const viewer = await post<ViewerReply>(gw.url, made.key, VIEWER);
      expect(viewer.body.data?.viewer).toMatchObject({ id: `key:${made.id}`, limits: { jobsPerMinute: 7 } });

      // Flags as well as the environment; the listing is the same as on the database.
      const list = await keys(['list', '--url', gw.url, '--token', admin], {});
      expect(list.code, list.stderr).toBe(0);
      const line = list.lines.find((each) => each.startsWith(made.id));
      expect(line).toMatch(/name="from-cli"\s+tenant=-\s+user\s+.*active\s+jobs-per-minute=7/);

      const revoke = await keys(['revoke', made.id], remote);
      expect(revoke.code, revoke.stderr).toBe(0);
      expectRefused(await post(gw.url, made.key, VIEWER));
    },
    SLOW,
  );

  it(
    'does the same through a gateway that runs only persisted operations',
    async () => {
      const remote = { GATEWAY_URL: persistedOnly.url, GATEWAY_ADMIN_TOKEN: admin };
      const made = created(await keys(['create', '--name', 'persisted-cli', '--tenant', 'acme', '--admin'], remote));
      // The new key works on that gateway, through the typed client's own persisted operations.
      const client = createVideoClient({ url: persistedOnly.url, token: made.key, persisted: true });
      try {
        expect(await client.viewer()).toMatchObject({ id: `key:${made.id}`, tenantId: 'acme', admin: true });

        const list = await keys(['list'], remote);
        expect(list.code, list.stderr).toBe(0);
        expect(list.lines.find((each) => each.startsWith(made.id))).toMatch(
          /name="persisted-cli"\s+tenant=acme\s+admin\s+.*\bactive\b/,
        );

        const revoke = await keys(['revoke', made.id], remote);
        expect(revoke.code, revoke.stderr).toBe(0);
        expect(revoke.lines).toEqual([`revoked ${made.id}`]);
        await expect(client.viewer()).rejects.toMatchObject({ name: 'VideoClientError', code: 'UNAUTHENTICATED' });
        expectRefused(await post(gw.url, made.key, VIEWER));
        const after = await keys(['list'], remote);
        expect(after.lines.find((each) => each.startsWith(made.id))).toMatch(/REVOKED=/);
      } finally {
        client.dispose();
      }
    },
    SLOW,
  );

  it(
    "says the gateway's refusal when the credential is not an admin's",
    async () => {
      const run = await keys(['list'], { GATEWAY_URL: gw.url, GATEWAY_ADMIN_TOKEN: user });
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/FORBIDDEN/);
    },
    SLOW,
  );

  it(
    'prints its usage for help',
    async () => {
      const run = await keys(['help'], {});
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/^usage:/);
      expect(run.stdout).toContain('--url URL');
      expect(run.stdout + run.stderr).not.toContain('unknown command');
    },
    SLOW,
  );
});
