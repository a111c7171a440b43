import { isIPv6 } from 'node:net';
import { boundedMemo } from './http/boundedMemo.ts';

/** What publicOrigin reads of a request (an IncomingMessage has it; a TLS socket is `encrypted`). */
export interface ArrivedRequest {
  headers: { host?: string | undefined };
  socket: { encrypted?: boolean; localAddress?: string | undefined; localPort?: number | undefined };
}

/** A plain Host header: a name (unreserved characters) or IPv4 address, or an IPv6 address in brackets, and an optional port. */
const HOST = /^(?:[A-Za-z0-9._~-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * The gateway's origin as the caller reached it, for the links it signs to its own copies of videos:
 * the connection's scheme and the request's Host. Every transport takes it from here (POST and SSE
 * from their request, graphql-ws from its handshake), so one job gives one link however it is read.
 *
 * Forwarded headers (Forwarded, X-Forwarded-Host, X-Forwarded-Proto) are not read: any client can send
 * them through a proxy that does not strip them, and a shared cache would then hand their links to
 * others. Behind a proxy that does not pass Host on, or that ends TLS, VIDEO_BASE_URL names the address.
 * A Host that is missing (HTTP/1.0) or not a plain host falls back to the address the socket came in on.
 */
export function publicOrigin(request: ArrivedRequest): string {
  const { socket } = request;
  const scheme = socket.encrypted === true ? 'https' : 'http';
  const host = request.headers.host;
  const origin = host === undefined ? undefined : originOfHost(`${scheme}://${host}`);
  if (origin !== undefined) return origin;
  const address = socket.localAddress ?? '127.0.0.1';
  return new URL(`${scheme}://${isIPv6(address) ? `[${address}]` : address}:${socket.localPort ?? 80}`).origin;
}

/**
 * The origin of `scheme://host`, or undefined when the Host is not a plain one. Remembered: every
 * request asks, nearly all with the same Host, and a URL parse each was a visible share of a small read.
 */
const originOfHost = boundedMemo(64, (schemeAndHost: string): string | undefined => {
  if (!HOST.test(schemeAndHost.slice(schemeAndHost.indexOf('://') + 3))) return undefined;
  try {
    return new URL(schemeAndHost).origin;
  } catch {
    return undefined; // a port past 65535, say: as if there were no Host
  }
});
