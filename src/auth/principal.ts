import { ANONYMOUS } from '../db/schema.ts';

/** Limits that apply to one caller; undefined means unlimited. */
export interface CallerLimits {
  activeJobs?: number | undefined;
  jobsPerMinute?: number | undefined;
  dailySpendUsd?: number | undefined;
}

/** Who is calling, as every resolver and the domain see it. */
export interface Principal {
  /** A JWT subject, `key:<api key id>`, or `anonymous`. Predictions are owned by this. */
  id: string;
  tenantId: string | null;
  /** An admin sees the tenant's predictions, or all of them with no tenant. */
  admin: boolean;
  method: 'none' | 'jwt' | 'apikey';
  limits: CallerLimits;
  /** What can end the credential's hold later, for what outlives the request (streams): see CredentialWatch. */
  credential: HeldCredential;
}

/** A JWT holds until its `exp`; an API key until it is revoked, by any process; the anonymous caller always. */
export type HeldCredential = { kind: 'none' } | { kind: 'jwt'; expiresAt: Date } | { kind: 'apikey'; keyId: string };

export function anonymousPrincipal(limits: CallerLimits): Principal {
  return { id: ANONYMOUS, tenantId: null, admin: false, method: 'none', limits, credential: { kind: 'none' } };
}

/** A credential was required or given, and it does not hold. The reason is short and says nothing secret. */
export class Unauthenticated extends Error {}
