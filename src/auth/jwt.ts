import { createRemoteJWKSet, errors, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose';
import { Unauthenticated } from './principal.ts';

export interface JwtOptions {
  jwksUrl?: string;
  /** After a fetch of the JWKS, how long an unknown `kid` is refused without fetching again. */
  jwksCooldownMs?: number;
  secret?: string;
  issuer?: string | undefined;
  audience?: string | undefined;
  tenantClaim?: string | undefined;
  admin?: { claim: string; value: string } | undefined;
  /** AUTH_JWT_MAX_AGE: the longest lifetime accepted, from `iat` (or now, if earlier) to `exp`. */
  maxAgeSeconds: number;
}

export interface VerifiedUser {
  subject: string;
  tenantId: string | null;
  admin: boolean;
  /** The token's `exp`: streams opened with it end then. */
  expiresAt: Date;
}

/** What identity providers sign with; `none` and HMAC are never accepted from a JWKS. */
const ASYMMETRIC = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
];

/**
 * Verifies bearer JWTs with jose: against the provider's JWKS (cached; fetched again when a token
 * names an unknown `kid`, so key rotation needs no restart) or an HS256 secret.
 */
export function createJwtVerifier(options: JwtOptions): (token: string) => Promise<VerifiedUser> {
  const key: Uint8Array | JWTVerifyGetKey = options.jwksUrl
    ? createRemoteJWKSet(new URL(options.jwksUrl), {
        timeoutDuration: 5_000,
        cooldownDuration: options.jwksCooldownMs ?? 30_000,
      })
    : new TextEncoder().encode(options.secret);
  const algorithms = options.jwksUrl ? ASYMMETRIC : ['HS256'];

  return async (token) => {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, key as JWTVerifyGetKey, {
        algorithms,
        issuer: options.issuer,
        audience: options.audience,
        // A token without an end would hold for ever once leaked.
        requiredClaims: ['sub', 'exp'],
      }));
    } catch (error) {
      throw new Unauthenticated(reasonFor(error));
    }
    // jose checks that `sub` is there, not what it is: an object would become the owner "[object Object]".
    const subject: unknown = payload.sub;
    if (typeof subject !== 'string' || subject === '')
      throw new Unauthenticated("the token's sub claim is not accepted");
    // Owners share one namespace: a token must not pass for the anonymous caller or an API key's owner.
    if (subject === 'anonymous' || subject.startsWith('key:'))
      throw new Unauthenticated("the token's sub claim is not accepted");
    // jose has read `exp` (and `iat`, if any) as numbers. A future `iat` does not stretch the limit.
    const expiresAtS = payload.exp!;
    const nowS = Date.now() / 1000;
    const issuedAtS = Math.min(payload.iat ?? nowS, nowS);
    if (expiresAtS - issuedAtS > options.maxAgeSeconds)
      throw new Unauthenticated('the token lives longer than this gateway accepts');
    return {
      subject,
      expiresAt: new Date(expiresAtS * 1000),
      tenantId: options.tenantClaim ? claimAsString(payload[options.tenantClaim]) : null,
      admin: options.admin ? claimIncludes(payload[options.admin.claim], options.admin.value) : false,
    };
  };
}

/** A short reason: enough to fix a client, nothing an attacker learns a key from. */
function reasonFor(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'the token has expired';
  if (error instanceof errors.JWTClaimValidationFailed) return `the token's ${error.claim} claim is not accepted`;
  if (error instanceof errors.JOSEAlgNotAllowed) return "the token's algorithm is not accepted";
  if (error instanceof errors.JWSSignatureVerificationFailed) return "the token's signature does not verify";
  if (error instanceof errors.JWKSNoMatchingKey) return 'the token was signed with an unknown key';
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid)
    return "the identity provider's keys could not be read";
  return 'the token is malformed or not accepted';
}

function claimAsString(value: unknown): string | null {
  return typeof value === 'string' && value ? value : typeof value === 'number' ? String(value) : null;
}

/** `role: "admin"`, `roles: ["admin", …]` and `admin: true` (with value "true") all count. */
function claimIncludes(value: unknown, wanted: string): boolean {
  if (Array.isArray(value)) return value.some((item) => String(item) === wanted);
  return value !== undefined && value !== null && String(value) === wanted;
}
