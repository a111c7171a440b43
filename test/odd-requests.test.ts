/**
 * Whatever arrives on the port, the gateway answers it and lives on. A real gateway process (a crash
 * ends it, which an in-process server would hide) gets a few hundred odd requests on raw sockets, sent
 * byte for byte: paths clients would normalise (`//`, `/videos/../x`), malformed escapes, absolute and
 * authority-form targets, unknown methods, CONNECT, huge and broken headers, upgrades to odd paths.
 * Each must get a complete HTTP response (within ANSWER_WITHIN_MS; one `GET //` used to end the process, and
 * `/videos/../x` was never answered), none a 5xx, and /health must answer afterwards. Clients that
 * reset their connection mid-exchange must not end it either.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Child, children, startChild } from './support/childGateway.ts';
import { rawRequest, sendThenReset } from './support/rawHttp.ts';

/**
 * The issue asks for an answer within a second; a request never answered (what `/videos/../x` was)
 * waits forever. Five seconds tells the two apart on a machine busy with the rest of the suite, where
 * one request in a few hundred can wait a second for the CPU; how fast answers are is the benches'.
 */
const ANSWER_WITHIN_MS = 5_000;

const TARGETS = [
  '/',
  '//',
  '///',
  '//graphql',
  '//health',
  '/videos/../x',
  '/videos/..',
  '/videos/%2e%2e/x',
  '/videos/%2E%2E/%2e%2e/etc/passwd',
  '/videos/./x',
  '/videos/',
  '/videos//',
  '/videos/x',
  '/videos/00000000-0000-0000-0000-000000000000/0.mp4',
  '/videos/00000000-0000-0000-0000-000000000000/0.mp4?expires=1&signature=x',
  '/videos\\..\\x',
  '/%zz',
  '/%',
  '/%00',
  '/%2F%2F',
  '/graphql/../health',
  '/graphql/..',
  '/graphql/',
  '/graphql//',
  '/graphqlx',
  '/health/..',
  '/health?',
  '/health?%zz',
  '/health#fragment',
  '/ready',
  '/metrics',
  '/metrics/',
  '/webhooks/atlas/',
  '/webhooks/atlas/../../graphql',
  '/..',
  '/.',
  '/./',
  '/a/b/c/../../..',
  `/${'a'.repeat(8_000)}`,
  `/?${'q'.repeat(8_000)}`,
  '/\u00e9',
  '/%C3%A9',
  '/"quoted"',
  '/{braces}',
  '*',
  'http://evil.example/graphql',
  'http://127.0.0.1/health',
  'example.com:443',
  'noslash',
  '?x',
];

/** Known to Node's parser (GET … PROPFIND) and not (FOO, a lower-case get). */
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PROPFIND', 'FOO', 'get'];

const request = (method: string, target: string, headers: string[] = [], body = '') =>
  `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${headers.map((line) => `${line}\r\n`).join('')}${
    method === 'POST' || method === 'PUT' ? `Content-Length: ${Buffer.byteLength(body)}\r\n` : ''
  }\r\n${body}`;

const WS = [
  'Connection: Upgrade',
  'Upgrade: websocket',
  'Sec-WebSocket-Version: 13',
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
];

/** Odd headers, framing and request lines, each on an ordinary path. */
const ODD: Array<[name: string, bytes: string | Buffer]> = [
  ['a header of 20 KB', request('GET', '/health', [`X-Big: ${'b'.repeat(20_000)}`])],
  [
    '1,500 headers',
    request(
      'GET',
      '/health',
      Array.from({ length: 1_500 }, (_, index) => `X-H${index}: ${index}`),
    ),
  ],
  ['a header without a colon', request('GET', '/health', ['NoColonHere'])],
  ['a folded header', request('GET', '/health', ['X-Folded: a', ' continued'])],
  ['a NUL in a header value', request('GET', '/health', ['X-Nul: a\u0000b'])],
  [
    'a non-numeric Content-Length',
    'POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\nConnection: close\r\n\r\n',
  ],
  [
    'two different Content-Lengths',
    'POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\nConnection: close\r\n\r\nab',
  ],
  [
    'Content-Length and chunked at once',
    'POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n',
  ],
  [
    'a malformed chunk',
    'POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
  ],
  [
    'an unknown transfer coding',
    'POST /graphql HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nConnection: close\r\n\r\n',
  ],
  ['no Host header on HTTP/1.1', 'GET /health HTTP/1.1\r\nConnection: close\r\n\r\n'],
  ['two Host headers', 'GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n'],
  ['HTTP/1.0 without Host', 'GET /health HTTP/1.0\r\n\r\n'],
  ['HTTP/2.0 in a request line', 'GET /health HTTP/2.0\r\nHost: x\r\n\r\n'],
  ['HTTP/9.9 in a request line', 'GET /health HTTP/9.9\r\nHost: x\r\n\r\n'],
  ['no version in the request line', 'GET /health\r\nHost: x\r\n\r\n'],
  ['spaces in the path', 'GET /a b c HTTP/1.1\r\nHost: x\r\n\r\n'],
  ['a bare LF request', 'GET /health HTTP/1.1\nHost: x\nConnection: close\n\n'],
  ['a TLS ClientHello', Buffer.from('160301020001000200030300000000000000000000000000000000000000000000000000', 'hex')],
  ['CONNECT to a host', 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n'],
  ['CONNECT to a path', 'CONNECT / HTTP/1.1\r\nHost: x\r\n\r\n'],
  [
    'Expect: 100-continue with a body',
    request('POST', '/graphql', ['Expect: 100-continue', 'Content-Type: application/json'], '{}'),
  ],
  ['an unknown Expect', request('POST', '/graphql', ['Expect: something-else'], '{}')],
  ['a junk request id', request('GET', '/health', ['X-Request-Id: ../"\'<script>'])],
  ['malformed JSON to /graphql', request('POST', '/graphql', ['Content-Type: application/json'], '{"query": ')],
  ['a JSON array to /graphql', request('POST', '/graphql', ['Content-Type: application/json'], '[[[[[[]]]]]]')],
  [
    'an odd content type to /graphql',
    request('POST', '/graphql', ['Content-Type: application/x-odd', 'X-GraphQL-CSRF: 1'], 'x'),
  ],
  [
    'a malformed multipart body',
    request(
      'POST',
      '/graphql',
      ['Content-Type: multipart/form-data; boundary=zz', 'X-GraphQL-CSRF: 1'],
      '--zz\r\nbroken',
    ),
  ],
  ['a GET without the CSRF header', request('GET', '/graphql?query=%7B__typename%7D')],
  [
    'Origin: null',
    request('POST', '/graphql', ['Origin: null', 'Content-Type: application/json'], '{"query":"{__typename}"}'),
  ],
  [
    'a bogus bearer token',
    request(
      'POST',
      '/graphql',
      ['Authorization: Bearer \u0001\u0002', 'Content-Type: application/json'],
      '{"query":"{__typename}"}',
    ),
  ],
  ['a WebSocket upgrade to //', request('GET', '//', WS)],
  ['a WebSocket upgrade to /videos/../x', request('GET', '/videos/../x', WS)],
  ['a WebSocket upgrade to an absolute URL', request('GET', 'http://evil.example/graphql', WS)],
  ['a WebSocket upgrade without a key', request('GET', '/graphql', ['Connection: Upgrade', 'Upgrade: websocket'])],
  [
    'an h2c upgrade',
    request('GET', '/', [
      'Connection: Upgrade, HTTP2-Settings',
      'Upgrade: h2c',
      'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA',
    ]),
  ],
];

describe('odd requests to a gateway process', () => {
  let child: Child;
  let port: number;

  beforeAll(async () => {
    child = await startChild(
      {
        // Nothing here reaches the upstream; were something to, it would find nobody rather than Atlas.
        ATLASCLOUD_BASE_URL: 'http://127.0.0.1:9',
        // Unset: files under DATA_DIR, so /videos/ is routed as in a default deployment.
        STORAGE_URL: '',
      },
      { startupTimeoutMs: 60_000 },
    );
    port = Number(new URL(child.base).port);
  }, 90_000);

  afterAll(async () => {
    await Promise.all(children.splice(0).map((each) => each.kill9()));
  });

  it('answers GET // (which used to end the process) and GET /videos/../x (which was never answered)', async () => {
    const slashes = await rawRequest(port, request('GET', '//'), { withinMs: ANSWER_WITHIN_MS });
    expect(slashes.status).toBe(404);
    expect(JSON.parse(slashes.body)).toMatchObject({
      errors: [{ extensions: { code: 'NOT_FOUND', requestId: slashes.headers['x-request-id'] } }],
    });
    const dots = await rawRequest(port, request('GET', '/videos/../x'), { withinMs: ANSWER_WITHIN_MS });
    expect(dots.status).toBe(400);
    expect(JSON.parse(dots.body)).toMatchObject({ errors: [{ extensions: { code: 'BAD_REQUEST' } }] });
    expect((await fetch(`${child.base}/health`)).status).toBe(200);
  });

  it('answers every one of a few hundred odd requests, none with a 5xx, and stays up', async () => {
    const cases: Array<{ name: string; bytes: string | Buffer; head: boolean }> = [
      ...TARGETS.flatMap((target) =>
        METHODS.map((method) => ({
          name: `${method} ${target.slice(0, 60)}`,
          bytes: request(method, target),
          head: method === 'HEAD',
        })),
      ),
      ...ODD.map(([name, bytes]) => ({ name, bytes, head: false })),
    ];
    expect(cases.length).toBeGreaterThan(300);
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    // One at a time: each answer is the gateway's alone, not a queue's.
    for (const { name, bytes, head } of cases) {
      try {
        const { status } = await rawRequest(port, bytes, { withinMs: ANSWER_WITHIN_MS, head });
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (status >= 500) failures.push(`${name}: ${status}`);
      } catch (error) {
        failures.push(`${name}: ${(error as Error).message}`);
      }
    }
    expect(failures).toEqual([]);
    // Not all refused at the door: the routes saw most of them.
    expect(statuses.get(404)).toBeGreaterThan(100);
    expect(child.proc.exitCode).toBeNull();
    expect((await fetch(`${child.base}/health`)).status).toBe(200);
    expect(child.output()).not.toMatch(/Uncaught|TypeError|request failed unexpectedly/);
  }, 120_000);

  it('lives on when clients reset their connections right after sending, upgrades and refused bodies included', async () => {
    const abrupt = [
      request('GET', '/nope', WS),
      request('GET', '//', WS),
      request('GET', '/graphql', ['Connection: Upgrade', 'Upgrade: websocket']),
      request('GET', '/graphql', WS),
      request('POST', '/graphql', ['Content-Type: application/json'], '{"query": "{ __typename }"}'),
      `POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${10 * 1024 * 1024}\r\n\r\n${'x'.repeat(64 * 1024)}`,
      request('GET', '//'),
      'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n',
    ];
    // The reset lands before, during or after the gateway's answer: a few rounds at different delays.
    for (let round = 0; round < 30; round++) {
      for (const bytes of abrupt) await sendThenReset(port, bytes, round % 3);
    }
    expect((await fetch(`${child.base}/health`)).status).toBe(200);
    expect(child.proc.exitCode).toBeNull();
  });
});
