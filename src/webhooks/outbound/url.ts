import { isIP } from 'node:net';
import { rangeOf } from './addressPolicy.ts';

/** The longest webhook URL a caller may give. */
export const MAX_WEBHOOK_URL_LENGTH = 2048;

/**
 * A URL's host that is this machine by definition: `localhost`, or an IP literal in the loopback range,
 * whatever form it is written in (`[::ffff:127.0.0.1]` and other IPv6 forms carrying 127.x too, as
 * addressPolicy.ts judges them).
 */
export function isLoopbackHost(hostname: string): boolean {
  if (hostname.toLowerCase() === 'localhost') return true;
  const bare = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  return isIP(bare) !== 0 && rangeOf(bare) === 'loopback';
}

/**
 * What is wrong with a caller's webhook URL, or undefined. https only; plain http only to a loopback
 * host where `allowLoopback` (outside production: local receivers and tests). No user or password in
 * it: they would be sent to the receiver and shown to everyone who can read the prediction.
 */
export function webhookUrlProblem(value: string, { allowLoopback }: { allowLoopback: boolean }): string | undefined {
  if (value.length > MAX_WEBHOOK_URL_LENGTH) return `must be at most ${MAX_WEBHOOK_URL_LENGTH} characters`;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an absolute URL, like https://api.example.com/hooks/video';
  }
  if (url.username || url.password)
    return 'must not contain a user name or password; put a token in the path or query instead';
  const loopback = isLoopbackHost(url.hostname);
  // One message for both cases: schema validation runs it without knowing NODE_ENV.
  if (
    (url.protocol === 'http:' && !(allowLoopback && loopback)) ||
    (url.protocol !== 'https:' && url.protocol !== 'http:')
  ) {
    return 'must use https (plain http is accepted only to localhost, 127.0.0.1 or [::1], and not in production)';
  }
  if (!allowLoopback && loopback) return 'must not point at this machine (a loopback address)';
  return undefined;
}
