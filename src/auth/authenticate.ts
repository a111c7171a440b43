import type { Config } from '../config.ts';
import type { Db } from '../db/database.ts';
import { touchApiKey } from '../db/queries/apiKeys.ts';
import type { Logger } from '../log.ts';
import { isApiKey, lookUpApiKey } from './apiKeys.ts';
import { createJwtVerifier } from './jwt.ts';
import { anonymousPrincipal, type Principal, Unauthenticated } from './principal.ts';

/** `log`: the request's logger, for what is logged on its behalf (defaults to the gateway's). */
export type Authenticate = (authorization: string | null, log?: Logger) => Promise<Principal>;

/**
 * Who a request is, from its Authorization header, by the methods AUTH_MODE allows. A credential
 * that is given is always checked, even where anonymous callers are allowed too.
 */
export function createAuthenticator(
  { auth, limits }: Pick<Config, 'auth' | 'limits'>,
  db: Db,
  log: Logger,
): Authenticate {
  const allows = (method: 'none' | 'jwt' | 'apikey') => auth.methods.includes(method);
  const verifyJwt = auth.jwt ? createJwtVerifier(auth.jwt) : undefined;
  const callerLimits = {
    activeJobs: limits.activeJobs,
    jobsPerMinute: limits.jobsPerMinute,
    dailySpendUsd: limits.dailySpendUsd,
  };

  return async (authorization, requestLog = log) => {
    // With `none` alone, every request is the one anonymous caller, whatever it carries (a proxy's own token, say).
    if (!authorization || (!allows('jwt') && !allows('apikey'))) {
      if (allows('none')) return anonymousPrincipal(callerLimits);
      throw new Unauthenticated('this gateway needs an Authorization: Bearer token');
    }
    const match = /^Bearer +(\S+)\s*$/i.exec(authorization);
    if (!match) throw new Unauthenticated('the Authorization header must be "Bearer <token>"');
    const token = match[1]!;

    if (isApiKey(token)) {
      if (!allows('apikey')) throw new Unauthenticated('this gateway does not take API keys');
      const key = await lookUpApiKey(db, token);
      if (!key) throw new Unauthenticated('the API key is unknown or revoked');
      const now = new Date();
      void touchApiKey(db, key, now).catch((error: unknown) =>
        requestLog.warn('noting an API key use failed', { keyId: key.id, error }),
      );
      return {
        id: `key:${key.id}`,
        tenantId: key.tenantId,
        admin: key.admin,
        method: 'apikey',
        limits: {
          activeJobs: key.limitActiveJobs ?? limits.activeJobs,
          jobsPerMinute: key.limitJobsPerMinute ?? limits.jobsPerMinute,
          dailySpendUsd: key.limitDailySpendUsd ?? limits.dailySpendUsd,
        },
        credential: { kind: 'apikey', keyId: key.id },
      };
    }

    if (!verifyJwt) throw new Unauthenticated('this gateway takes only API keys (hhk_…)');
    const user = await verifyJwt(token);
    return {
      id: user.subject,
      tenantId: user.tenantId,
      admin: user.admin,
      method: 'jwt',
      limits: callerLimits,
      credential: { kind: 'jwt', expiresAt: user.expiresAt },
    };
  };
}
