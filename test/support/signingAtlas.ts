import { generateKeyPairSync, type JsonWebKey, type KeyObject, randomUUID, sign } from 'node:crypto';

/**
 * Atlas' side of its webhooks, for tests: Ed25519 key pairs of its own, the JWKS that publishes
 * them (FakeAtlas serves it at /api/v1/webhooks/jwks.json), and signed deliveries as Atlas sends
 * them (UPSTREAM.md, "Atlas webhooks, in detail"). Every part can be made wrong on purpose.
 */
export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  /** The public half as a JWK, as the JWKS lists it. */
  jwk: JsonWebKey & { kid: string; alg?: string; use?: string };
}

export interface SignOptions {
  /** Unix seconds; now by default. */
  timestamp?: number;
  /** The key id sent; the signing key's by default. */
  kid?: string;
  /** The key that signs; the current one by default. */
  key?: SigningKey;
  deliveryId?: string;
  event?: string;
}

export interface DeliveryAttempt {
  url: string;
  sessionId: string;
  deliveryId: string;
  /** Date.now() when the POST went out. */
  sentAt: number;
  /** The gateway's answer, or the error when there was none. */
  status: number | string;
  /** Date.now() when the answer came. */
  answeredAt?: number;
}

export function newSigningKey(
  kid = `k_${randomUUID().slice(0, 8)}`,
  alg: 'EdDSA' | 'Ed25519' | undefined = 'EdDSA',
): SigningKey {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, use: 'sig', ...(alg ? { alg } : {}) };
  return { kid, privateKey, jwk };
}

/** The body Atlas posts at a job's end: `payload` is the prediction as a status call gives it. */
export function terminalBody(sessionId: string, payload: Record<string, unknown>): Record<string, unknown> {
  const failed = payload.status === 'failed' || payload.status === 'timeout';
  return {
    event_type: 'video.task.terminal',
    session_id: sessionId,
    status: failed ? 'ERROR' : 'OK',
    payload: { id: sessionId, ...payload },
    error: typeof payload.error === 'string' ? payload.error : null,
  };
}

export class AtlasWebhookSigner {
  /** Published in the JWKS, oldest first. */
  readonly published: SigningKey[] = [];
  current: SigningKey;
  /** GETs of the JWKS so far. */
  jwksFetches = 0;
  readonly attempts: DeliveryAttempt[] = [];

  constructor() {
    this.current = newSigningKey();
    this.published.push(this.current);
  }

  get jwks(): { keys: SigningKey['jwk'][] } {
    return { keys: this.published.map((key) => key.jwk) };
  }

  /** A new key signs from now on; the old ones stay published unless `dropOld`. `kid` reuses an id (a key replaced under it). */
  rotate({
    dropOld = false,
    alg,
    kid,
  }: {
    dropOld?: boolean;
    alg?: 'EdDSA' | 'Ed25519';
    kid?: string;
  } = {}): SigningKey {
    this.current = newSigningKey(kid, alg);
    if (dropOld) this.published.length = 0;
    this.published.push(this.current);
    return this.current;
  }

  /** The four headers of a delivery of `body` (the exact bytes that go out). */
  headers(body: string | Buffer, options: SignOptions = {}): Record<string, string> {
    const key = options.key ?? this.current;
    const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
    const signature = sign(
      null,
      Buffer.concat([Buffer.from(`${timestamp}.`), Buffer.from(body)]),
      key.privateKey,
    ).toString('base64url');
    return {
      'content-type': 'application/json',
      'x-atlascloud-webhook-signature-ed25519': signature,
      'x-atlascloud-webhook-key-id': options.kid ?? key.kid,
      'x-atlascloud-webhook-timestamp': timestamp,
      'x-atlascloud-webhook-id': options.deliveryId ?? `whd_${randomUUID()}`,
      'x-atlascloud-webhook-event': options.event ?? 'video.task.terminal',
    };
  }

  /** POST a signed delivery; `headers` (after signing) override or break any part of it. */
  async deliver(
    url: string,
    body: Record<string, unknown> | string | Buffer,
    options: SignOptions & { headers?: Record<string, string> } = {},
  ): Promise<{ status: number; text: string; deliveryId: string }> {
    const bytes = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    const headers = { ...this.headers(bytes, options), ...options.headers };
    const deliveryId = headers['x-atlascloud-webhook-id']!;
    const sessionId = typeof body === 'object' && !Buffer.isBuffer(body) ? String(body.session_id) : '';
    const attempt: DeliveryAttempt = { url, sessionId, deliveryId, sentAt: Date.now(), status: 'pending' };
    this.attempts.push(attempt);
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers,
        body: typeof bytes === 'string' ? bytes : new Uint8Array(bytes),
        signal: AbortSignal.timeout(10_000),
      });
      const text = await response.text();
      attempt.status = response.status;
      attempt.answeredAt = Date.now();
      return { status: response.status, text, deliveryId };
    } catch (error) {
      attempt.status = error instanceof Error ? error.message : String(error);
      throw error;
    }
  }
}
