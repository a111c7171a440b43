import type { Db } from '../db/database.ts';
import { findApiKey, listApiKeys, revokeApiKey } from '../db/queries/apiKeys.ts';
import type { ApiKeyRow } from '../db/schema.ts';
import { createApiKey, type NewApiKey } from './apiKeys.ts';
import type { Principal } from './principal.ts';

/** The caller may not manage keys, or not this tenant's: the message says which. */
export class KeyAdminRefused extends Error {}

/**
 * API keys managed over GraphQL by an admin, while the gateway runs (npm run keys reaches the
 * database itself, which PGlite's single owner does not allow then). An admin of a tenant manages
 * that tenant's keys only, as it sees only that tenant's predictions; an admin without one, all.
 */
export class KeyAdmin {
  constructor(private readonly db: Db) {}

  async create(principal: Principal, key: NewApiKey): Promise<{ key: string; row: ApiKeyRow }> {
    admin(principal);
    const tenantId = key.tenantId ?? principal.tenantId;
    if (principal.tenantId !== null && tenantId !== principal.tenantId)
      throw new KeyAdminRefused(`an admin of tenant ${principal.tenantId} makes keys for that tenant only`);
    return createApiKey(this.db, { ...key, tenantId });
  }

  async list(principal: Principal): Promise<ApiKeyRow[]> {
    admin(principal);
    return (await listApiKeys(this.db)).filter((row) => inScope(principal, row));
  }

  /** The key as revoked now (or when it was first revoked); undefined for a key unknown or out of scope. */
  async revoke(principal: Principal, id: string): Promise<ApiKeyRow | undefined> {
    admin(principal);
    if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
    const row = await findApiKey(this.db, id);
    if (!row || !inScope(principal, row)) return undefined;
    await revokeApiKey(this.db, id, new Date());
    return findApiKey(this.db, id);
  }
}

function admin(principal: Principal): void {
  if (!principal.admin) throw new KeyAdminRefused('managing API keys is for admins');
}

const inScope = (principal: Principal, row: ApiKeyRow) =>
  principal.tenantId === null || row.tenantId === principal.tenantId;
