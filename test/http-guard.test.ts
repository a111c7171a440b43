/**
 * The guard every route sits behind (src/http/routes.ts), and the server's timeouts. A route that
 * throws or rejects costs its request a 500 (logged with the request id and the cause), never the
 * process; a request no route takes gets a 404; a client that stalls is cut with a 408 after the
 * configured time, without holding its connection, while answers that take long are not cut.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpServer, type Route } from '../src/http/routes.ts';
import { createLogger } from '../src/log.ts';
import { eventually, gatewayFixture, ONE_BACKEND } from './support/gateway.ts';
import { rawRequest } from './support/rawHttp.ts';

interface LogLine {
  level: string;
  msg: string;
  requestId?: string;
  method?: string;
  path?: string;
  err?: { message: string; stack?: string };
}

interface ErrorReply {
  errors: Array<{ message: string; extensions: { code: string; requestId?: string } }>;
}

/** Long enough for any answer on a busy machine; the point is that one comes. */
const ANSWER_WITHIN_MS = 10_000;

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('the guard around every route', () => {
  const lines: string[] = [];
  const logged = () => lines.map((line) => JSON.parse(line) as LogLine);
  let server: Server;
  let base: string;
  /** A route that answers only after the request timeout has long passed. */
  const SLOW_ANSWER_MS = 2_500;

  const routes: Route[] = [
    ({ path }) => {
      if (path === '/throws') throw new Error('boom, thrown');
      return false;
    },
    async ({ path }) => {
      if (path === '/rejects') throw new Error('boom, rejected');
      return false;
    },
    async ({ path, res }) => {
      if (path !== '/throws-midway') return false;
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('the first half');
      await sleep(10);
      throw new Error('boom, midway');
    },
    async ({ path, req, res }) => {
      if (path !== '/slow') return false;
      let body = '';
      for await (const chunk of req) body += String(chunk);
      await sleep(SLOW_ANSWER_MS);
      res.end(`late but whole: ${body}`);
      return true;
    },
    ({ path }) => path === '/declines' && false,
  ];

  beforeAll(async () => {
    const log = createLogger('debug', (line) => lines.push(line));
    // Timeouts far shorter than the slow route, which must still get its answer out.
    server = createHttpServer(routes, { log, timeouts: { headersTimeoutMs: 100, requestTimeoutMs: 200 } });
    base = await listen(server);
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it.each([
    ['throws', '/throws', 'boom, thrown'],
    ['rejects', '/rejects', 'boom, rejected'],
  ])(
    'answers 500 in the GraphQL error shape when a route %s, and logs the cause with the request id',
    async (_, path, cause) => {
      const response = await fetch(`${base}${path}`, { headers: { 'x-request-id': `guard-${path.slice(1)}` } });
      expect(response.status).toBe(500);
      expect(response.headers.get('x-request-id')).toBe(`guard-${path.slice(1)}`);
      const reply = (await response.json()) as ErrorReply;
      expect(reply).toEqual({
        errors: [
          {
            message: 'Unexpected error.',
            extensions: { code: 'INTERNAL_SERVER_ERROR', requestId: `guard-${path.slice(1)}` },
          },
        ],
      });
      // The cause is the log's, not the client's.
      expect(JSON.stringify(reply)).not.toContain('boom');
      const line = await eventually(
        () => logged().find((each) => each.requestId === `guard-${path.slice(1)}`),
        (found) => found !== undefined,
      );
      expect(line).toMatchObject({
        level: 'error',
        msg: 'request failed unexpectedly',
        method: 'GET',
        path,
        err: { message: cause },
      });
      expect(line?.err?.stack).toContain(cause);
    },
  );

  it('cuts the connection when a route fails after its answer began, so a half answer never looks whole', async () => {
    const response = await fetch(`${base}/throws-midway`, { headers: { 'x-request-id': 'guard-midway' } });
    expect(response.status).toBe(200);
    await expect(response.text()).rejects.toThrow();
    const line = await eventually(
      () => logged().find((each) => each.requestId === 'guard-midway'),
      (found) => found !== undefined,
    );
    expect(line).toMatchObject({ level: 'error', err: { message: 'boom, midway' } });
  });

  it('answers 404 when no route takes the request, and 400 for a target that is not a plain path', async () => {
    const declined = await fetch(`${base}/declines`);
    expect(declined.status).toBe(404);
    expect(((await declined.json()) as ErrorReply).errors[0]?.extensions.code).toBe('NOT_FOUND');
    const port = Number(new URL(base).port);
    const dotted = await rawRequest(port, 'GET /a/../throws HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', {
      withinMs: ANSWER_WITHIN_MS,
    });
    expect(dotted.status).toBe(400);
    expect((JSON.parse(dotted.body) as ErrorReply).errors[0]?.extensions.code).toBe('BAD_REQUEST');
  });

  it('lets an answer take longer than the request timeout: that bounds receiving the request, not answering it', async () => {
    // A POST, as an SSE subscription is: its body is in at once, its answer goes on and on.
    const response = await fetch(`${base}/slow`, { method: 'POST', body: 'subscribe' });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('late but whole: subscribe');
  });

  it('answers CONNECT with 405 rather than dropping the connection', async () => {
    const port = Number(new URL(base).port);
    const reply = await rawRequest(port, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n', {
      withinMs: ANSWER_WITHIN_MS,
    });
    expect(reply.status).toBe(405);
    expect(reply.headers.allow).toBe('GET, HEAD, POST, OPTIONS');
  });
});

describe('the HTTP timeouts of a gateway (HTTP_HEADERS_TIMEOUT_MS, HTTP_REQUEST_TIMEOUT_MS)', () => {
  const t = gatewayFixture(ONE_BACKEND, { HTTP_HEADERS_TIMEOUT_MS: '300', HTTP_REQUEST_TIMEOUT_MS: '600' });
  const port = () => Number(new URL(t.gw.url).port);

  it('cuts a client that never finishes its headers with a 408', async () => {
    const reply = await rawRequest(port(), 'GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ', {
      withinMs: ANSWER_WITHIN_MS,
    });
    expect(reply.status).toBe(408);
  });

  it('cuts a client that stalls in the middle of a GraphQL body with a 408, and logs nothing as a failure', async () => {
    const head =
      'POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\nX-Request-Id: stalled-body\r\n\r\n';
    const reply = await rawRequest(port(), `${head}{"query": "{`, { withinMs: ANSWER_WITHIN_MS });
    expect(reply.status).toBe(408);
    // Still serving, and the stalled request left no error behind.
    expect((await fetch(new URL('/health', t.gw.url))).status).toBe(200);
    const failures = t.gw.logs.filter((line) => line.includes('stalled-body') && line.includes('"level":"error"'));
    expect(failures).toEqual([]);
  });
});
