import { createRemoteJWKSet, errors } from 'jose';

/** Ed25519 signatures are 64 bytes: 86 base64url characters (padding tolerated). */
const SIGNATURE = /^[A-Za-z0-9_-]{86}(==)?$/;

export type KeyCheck = { ok: true } | { ok: false; reason: string };

/**
 * Atlas' webhook signing keys, from its JWKS, and the check of one signature. The set is fetched on
 * first use, cached, and fetched again when a delivery names a key id it does not have, or one whose
 * key does not verify it (key rotation, even under the same id, needs no restart), at most once per
 * `cooldownMs` so forged key ids or signatures cannot make us hammer Atlas.
 */
export class AtlasWebhookKeys {
  readonly #jwks: ReturnType<typeof createRemoteJWKSet>;

  constructor(jwksUrl: string, { cooldownMs }: { cooldownMs: number }) {
    this.#jwks = createRemoteJWKSet(new URL(jwksUrl), { cooldownDuration: cooldownMs, timeoutDuration: 5_000 });
  }

  /**
   * Whether `signature` (base64url) is the key `keyId`'s Ed25519 signature of `message`. Never throws.
   * A signature that fails under a key id we know may mean Atlas replaced the key behind that id:
   * the set is fetched again (outside the cooldown, like for an unknown id) and the check repeated.
   */
  async verify(keyId: string, message: Uint8Array<ArrayBuffer>, signature: string): Promise<KeyCheck> {
    if (!SIGNATURE.test(signature)) return { ok: false, reason: 'the signature is not a base64url Ed25519 signature' };
    const first = await this.#check(keyId, message, signature);
    if (first.ok || !first.keyFound || this.#jwks.coolingDown) return first;
    try {
      await this.#jwks.reload();
    } catch (error) {
      return {
        ok: false,
        reason: `${first.reason}; fetching the JWKS again failed: ${error instanceof Error ? error.message : String(error)}`,
      };
    }
    const second = await this.#check(keyId, message, signature);
    return second.ok ? second : { ok: false, reason: `${second.reason} (also after fetching the JWKS again)` };
  }

  /** One check against the set as cached; `keyFound` says whether the JWKS had a key under this id. */
  async #check(
    keyId: string,
    message: Uint8Array<ArrayBuffer>,
    signature: string,
  ): Promise<{ ok: true } | { ok: false; reason: string; keyFound: boolean }> {
    let key: CryptoKey;
    try {
      key = await this.#key(keyId);
    } catch (error) {
      const reason =
        error instanceof errors.JWKSNoMatchingKey
          ? 'unknown key id (not in the JWKS, also after fetching it again)'
          : error instanceof errors.JWKSMultipleMatchingKeys
            ? 'the JWKS has several keys with this id'
            : `the JWKS could not be read: ${error instanceof Error ? error.message : String(error)}`;
      return { ok: false, reason, keyFound: false };
    }
    try {
      const bytes = Buffer.from(signature, 'base64url');
      return (await crypto.subtle.verify({ name: 'Ed25519' }, key, bytes, message))
        ? { ok: true }
        : { ok: false, reason: 'bad signature', keyFound: true };
    } catch (error) {
      return {
        ok: false,
        reason: `the signature could not be checked: ${error instanceof Error ? error.message : String(error)}`,
        keyFound: true,
      };
    }
  }

  /**
   * The public key for `kid`. A JWK that states its `alg` must be asked for under that spelling
   * (`Ed25519`, or the older `EdDSA`), so the cached set says which to ask for; an unknown kid makes
   * jose fetch the set again (outside the cooldown), after which the spelling is looked up once more.
   */
  async #key(kid: string): Promise<CryptoKey> {
    const spelling = () =>
      this.#jwks.jwks()?.keys.find((jwk) => jwk.kid === kid)?.alg === 'EdDSA' ? 'EdDSA' : 'Ed25519';
    const first = spelling();
    try {
      return await this.#jwks({ alg: first, kid });
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey) || spelling() === first) throw error;
      return this.#jwks({ alg: spelling(), kid });
    }
  }
}
