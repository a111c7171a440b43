import { createHmac, timingSafeEqual } from 'node:crypto';

export type Verdict = 'valid' | 'expired' | 'invalid';

/**
 * HMAC-SHA256 over path and expiry, with a secret every gateway process shares: a signed URL is a
 * capability that a `<video src>` can use without headers, handed only to callers who may see the job.
 */
export class UrlSigner {
  constructor(private readonly secret: Buffer) {}

  /** `path?expires=<unix seconds>&signature=<base64url>`. */
  sign(path: string, expiresAt: Date): string {
    const expires = Math.floor(expiresAt.getTime() / 1000);
    return `${path}?expires=${expires}&signature=${this.#mac(path, expires)}`;
  }

  verify(path: string, expires: string | null, signature: string | null, now = new Date()): Verdict {
    if (!expires || !signature || !/^\d{1,12}$/.test(expires)) return 'invalid';
    const expected = Buffer.from(this.#mac(path, Number(expires)));
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'invalid';
    return Number(expires) * 1000 <= now.getTime() ? 'expired' : 'valid';
  }

  #mac(path: string, expires: number): string {
    return createHmac('sha256', this.secret).update(`${path}\n${expires}`).digest('base64url');
  }
}

/**
 * Expiry rounded up to the hour after `ttlSeconds` from now: links read within the same hour are the
 * same string (a re-read does not change a `<video src>`, and browsers can cache), and each lives at
 * least `ttlSeconds`.
 */
export function linkExpiry(ttlSeconds: number, now = Date.now()): Date {
  const hour = 3_600_000;
  return new Date(Math.ceil((now + ttlSeconds * 1000) / hour) * hour);
}
