/**
 * HTTP/1.1 by hand on a raw socket: the bytes go out exactly as given (malformed request lines, paths
 * such as `/videos/../x` that clients would normalise, unknown methods), and one response is read back.
 */
import { connect } from 'node:net';

export interface RawResponse {
  status: number;
  /** Lower-case names; a repeated header keeps its last value. */
  headers: Record<string, string>;
  body: string;
}

/**
 * Sends `bytes` on a new connection and resolves with the first complete final response (1xx interim
 * answers skipped, a 101 taken as final). Rejects, saying what did arrive, when the connection ends
 * first or when none is complete within `withinMs`. `head`: the request was a HEAD (no body follows).
 */
export function rawRequest(
  port: number,
  bytes: string | Buffer,
  { withinMs, head = false }: { withinMs: number; head?: boolean },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    let ended = false;
    const finish = (outcome: { response: RawResponse } | { error: string }) => {
      clearTimeout(timer);
      socket.destroy();
      if ('response' in outcome) resolve(outcome.response);
      else
        reject(new Error(`${outcome.error}; received: ${JSON.stringify(received.toString('latin1').slice(0, 300))}`));
    };
    const timer = setTimeout(() => finish({ error: `no complete response within ${withinMs} ms` }), withinMs);
    const look = () => {
      const response = parseResponse(received, head, ended);
      if (response) finish({ response });
      else if (ended) finish({ error: 'the connection ended before a complete response' });
    };
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      look();
    });
    socket.on('end', () => {
      ended = true;
      look();
    });
    socket.on('error', (error) => finish({ error: `socket error ${error.message}` }));
    socket.on('connect', () => socket.write(bytes));
  });
}

/** The first final response in `data`, or undefined while it is incomplete. */
function parseResponse(data: Buffer, head: boolean, ended: boolean): RawResponse | undefined {
  let at = 0;
  for (;;) {
    const headEnd = data.indexOf('\r\n\r\n', at);
    if (headEnd === -1) return undefined;
    const [statusLine = '', ...lines] = data.subarray(at, headEnd).toString('latin1').split('\r\n');
    const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
    if (!match) throw new Error(`not an HTTP response: ${JSON.stringify(statusLine)}`);
    const status = Number(match[1]);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const bodyStart = headEnd + 4;
    if (status >= 100 && status < 200 && status !== 101) {
      at = bodyStart;
      continue;
    }
    if (head || status === 101 || status === 204 || status === 304) return { status, headers, body: '' };
    const rest = data.subarray(bodyStart);
    if (headers['transfer-encoding']?.toLowerCase().includes('chunked')) {
      const body = dechunk(rest);
      return body === undefined ? undefined : { status, headers, body };
    }
    if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      return rest.length >= length ? { status, headers, body: rest.subarray(0, length).toString('utf8') } : undefined;
    }
    // Neither: the body runs to the end of the connection.
    return ended ? { status, headers, body: rest.toString('utf8') } : undefined;
  }
}

/** A chunked body, or undefined until its last (empty) chunk and the blank line after it are in. */
function dechunk(data: Buffer): string | undefined {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', at);
    if (lineEnd === -1) return undefined;
    const size = Number.parseInt(data.subarray(at, lineEnd).toString('latin1'), 16);
    if (Number.isNaN(size)) throw new Error('malformed chunk size');
    // The blank line ending the (trailer-less) message.
    if (size === 0) return data.indexOf('\r\n', lineEnd + 2) === -1 ? undefined : Buffer.concat(parts).toString('utf8');
    if (data.length < lineEnd + 2 + size + 2) return undefined;
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}

/**
 * Sends `bytes` on a new connection and resets it (TCP RST) `afterMs` later, without reading:
 * a client that vanishes mid-exchange. Resolves once the socket is gone.
 */
export function sendThenReset(port: number, bytes: string | Buffer, afterMs: number): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(bytes);
      setTimeout(() => socket.resetAndDestroy(), afterMs);
    });
    socket.on('error', () => {}); // our own reset, or the server's answer to it
    socket.on('close', () => resolve());
  });
}
