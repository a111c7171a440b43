import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { AddressRefused, type AddressRules, type CheckedAddress, resolveDeliveryAddress } from './addressPolicy.ts';
import { isLoopbackHost } from './url.ts';

export interface SendOptions {
  url: string;
  body: string;
  headers: Record<string, string>;
  timeoutMs: number;
  allowPrivate: boolean;
  /** Outside production: loopback addresses for a loopback host name (see url.ts). */
  allowLoopback: boolean;
  /** Cuts the attempt short (the gateway is stopping). */
  signal?: AbortSignal;
}

/** How one attempt went: `status` when the receiver answered, `error` when it was not a 2xx. */
export interface SendResult {
  status: number | null;
  error: string | null;
  delivered: boolean;
}

const MAX_ERROR_LENGTH = 500;

/**
 * POST one webhook body. The host is resolved and checked first (addressPolicy.ts), and the socket is
 * opened to that checked address through a `lookup` that returns only it, while the Host header and
 * TLS (SNI, certificate) still use the name. Redirects are not followed (a 3xx is a failure), and the
 * whole attempt, DNS included, has `timeoutMs`. Never throws.
 */
export async function sendWebhook(options: SendOptions): Promise<SendResult> {
  const url = new URL(options.url);
  const rules: AddressRules = {
    allowPrivate: options.allowPrivate,
    allowLoopback: options.allowLoopback && isLoopbackHost(url.hostname),
  };
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const deadline = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
  try {
    const address = await Promise.race([resolveDeliveryAddress(url.hostname, rules), aborted(deadline)]);
    const response = await post(url, address, options, deadline);
    const status = response.statusCode ?? 0;
    if (status >= 200 && status < 300) return { status, error: null, delivered: true };
    if (status >= 300 && status < 400) {
      const location = response.headers.location;
      return failure(
        status,
        `HTTP ${status}: redirects are not followed${location ? ` (to ${location})` : ''}; give the final URL`,
      );
    }
    return failure(status, `HTTP ${status}`);
  } catch (error) {
    if (timeout.aborted) return failure(null, `no answer within ${options.timeoutMs} ms`);
    if (options.signal?.aborted) return failure(null, 'cut short: the gateway is stopping');
    if (error instanceof AddressRefused) return failure(null, error.message);
    return failure(null, describe(error));
  }
}

function failure(status: number | null, error: string): SendResult {
  return { status, error: error.slice(0, MAX_ERROR_LENGTH), delivered: false };
}

function aborted(signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) =>
    signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
  );
}

/** The status line and headers are all we need: the body is not read, and the connection is closed. */
function post(url: URL, checked: CheckedAddress, options: SendOptions, signal: AbortSignal): Promise<IncomingMessage> {
  // Whatever name the socket asks for, it gets the address that was checked.
  const lookup: LookupFunction = (_hostname, lookupOptions, callback) => {
    if (lookupOptions.all) callback(null, [checked]);
    else callback(null, checked.address, checked.family);
  };
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'POST',
      headers: { ...options.headers, 'content-length': Buffer.byteLength(options.body) },
      lookup,
      // A fresh connection per attempt: no pooled socket to an address checked for another message.
      agent: false,
      signal,
    });
    req.once('response', (response) => {
      resolve(response);
      response.destroy();
    });
    req.once('error', reject);
    req.end(options.body);
  });
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as Error & { code?: unknown }).code;
  return typeof code === 'string' && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
}
