import { createHash, randomBytes } from 'node:crypto';
import { ATLAS_WEBHOOK_PATH } from '../../config.ts';

/** 256 random bits, base64url: 43 characters. */
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

export interface AtlasWebhookToken {
  /** Goes to Atlas inside the webhook URL, and nowhere else: never stored, never logged. */
  url: string;
  /** What the prediction row keeps, to recognise the token when a delivery brings it back. */
  hash: string;
}

/** A fresh secret webhook URL for one job. */
export function newAtlasWebhookToken(publicUrl: string): AtlasWebhookToken {
  const token = randomBytes(32).toString('base64url');
  return { url: `${publicUrl}${ATLAS_WEBHOOK_PATH}${token}`, hash: sha256(token) };
}

/** SHA-256, hex: the token is 256 random bits, so no salt or slow hash is needed. Undefined when it is not token-shaped. */
export function hashAtlasWebhookToken(token: string): string | undefined {
  return TOKEN.test(token) ? sha256(token) : undefined;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
