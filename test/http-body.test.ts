/**
 * GraphQL request bodies over a real socket: the gateway reads a JSON POST itself (bounded) and hands
 * Yoga the parsed body. What callers rely on: any well-formed body runs however it was sent, one over
 * the limit is refused before anything runs or is stored (with a 413 the client gets to read, even
 * while it is still sending), and a malformed one gets the same clear error as before, never a hung
 * request; in production, without the parser's own text.
 */
import { request } from 'node:http';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { executedRows } from '../src/db/rows.ts';
import { MAX_GRAPHQL_BODY_BYTES } from '../src/graphqlBody.ts';
import { type Child, children, startChild } from './support/childGateway.ts';
import { gatewayFixture, ONE_BACKEND } from './support/gateway.ts';

/** What a careless client might send: ten times the limit. */
const TEN_MB = 10 * 1024 * 1024;

const GENERATE =
  'mutation Generate($input: GenerateVideoInput!) { generateVideo(input: $input) { prediction { id status } } }';

interface Reply {
  data?: Record<string, unknown> | null;
  errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
}

/** A POST on a real socket: with Content-Length, or chunked in pieces of `chunkBytes`. */
function post(url: string, body: string, options: { chunkBytes?: number; contentType?: string } = {}) {
  return new Promise<{ status: number; reply: Reply; requestId: string | undefined }>((resolve, reject) => {
    const bytes = Buffer.from(body);
    const headers: Record<string, string | number> = { 'content-type': options.contentType ?? 'application/json' };
    if (!options.chunkBytes) headers['content-length'] = bytes.length;
    const req = request(url, { method: 'POST', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          reply: JSON.parse(Buffer.concat(chunks).toString()) as Reply,
          requestId: res.headers['x-request-id'] as string | undefined,
        }),
      );
    });
    req.on('error', reject);
    if (options.chunkBytes) {
      for (let at = 0; at < bytes.length; at += options.chunkBytes)
        req.write(bytes.subarray(at, at + options.chunkBytes));
    } else req.write(bytes);
    req.end();
  });
}

describe('GraphQL request bodies', () => {
  const t = gatewayFixture(ONE_BACKEND);
  const storedJobs = async () =>
    executedRows<{ n: number }>(await t.db.database.db.execute(sql`select count(*)::int as n from predictions`))[0]?.n;

  beforeEach(() => t.fake.reset());

  it('runs a mutation sent chunked in 7-byte pieces, charset in the content type', async () => {
    const body = JSON.stringify({ query: GENERATE, variables: { input: { prompt: 'A horse in small pieces' } } });
    const { status, reply } = await post(t.gw.url, body, {
      chunkBytes: 7,
      contentType: 'application/json; charset=utf-8',
    });
    expect(status).toBe(200);
    expect(reply.errors).toBeUndefined();
    expect(reply.data?.generateVideo).toMatchObject({ prediction: { status: 'PROCESSING' } });
    expect(t.fake.creates).toHaveLength(1);
  });

  it.each([
    ['declared by Content-Length', {}],
    ['sent chunked, with no length declared', { chunkBytes: 64 * 1024 }],
  ])('refuses a body over the limit %s with 413, naming the limit, before anything is stored', async (_, options) => {
    const before = await storedJobs();
    expect(before).toBeTypeOf('number');
    const prompt = 'x'.repeat(MAX_GRAPHQL_BODY_BYTES);
    const { status, reply, requestId } = await post(
      t.gw.url,
      JSON.stringify({ query: GENERATE, variables: { input: { prompt } } }),
      options,
    );
    expect(status).toBe(413);
    expect(reply.errors?.[0]?.message).toContain(`at most ${MAX_GRAPHQL_BODY_BYTES} bytes`);
    expect(reply.errors?.[0]?.extensions).toEqual({ code: 'REQUEST_ENTITY_TOO_LARGE', requestId });
    expect(t.fake.creates).toHaveLength(0);
    expect(await storedJobs()).toBe(before);
  });

  it.each([
    ['invalid JSON', '{"query": ', 'BAD_REQUEST', 'POST body sent invalid JSON.'],
    [
      'an empty object',
      '{}',
      'BAD_REQUEST',
      'The request carries neither a query nor the hash of a persisted document',
    ],
    ['an array', '[1, 2]', 'BAD_REQUEST', 'Batching is not supported.'],
    ['a bare string', '"mutation { x }"', 'BAD_REQUEST', 'POST body is expected to be object but received string'],
    ['nothing at all', '', 'BAD_REQUEST', 'POST body sent invalid JSON.'],
  ])('answers %s with the error it always had (%s), and runs nothing', async (_, body, code, message) => {
    const { reply } = await post(t.gw.url, body);
    expect(reply.errors?.[0]).toMatchObject({ message: expect.stringContaining(message), extensions: { code } });
    expect(reply.data ?? undefined).toBeUndefined();
    expect(t.fake.creates).toHaveLength(0);
  });
});

describe('10 MB bodies to a gateway process', () => {
  // A process of its own: a client in the gateway's process takes turns with it, and then rarely
  // sees what a client elsewhere does, a connection reset under its upload before it reads the 413.
  let child: Child;
  beforeAll(async () => {
    // Nothing reaches the upstream (refused before that); were something to, it would find nobody.
    child = await startChild({ ATLASCLOUD_BASE_URL: 'http://127.0.0.1:9' }, { startupTimeoutMs: 60_000 });
  }, 90_000);
  afterAll(async () => {
    await Promise.all(children.splice(0).map((each) => each.kill9()));
  });

  const body = JSON.stringify({ query: GENERATE, variables: { input: { prompt: 'x'.repeat(TEN_MB) } } });
  /** A reset is a race the client loses often but not always: each way of sending is tried this often. */
  const ATTEMPTS = 5;

  it.each([
    ['with its length declared', (): RequestInit => ({ body })],
    // Over the limit only once 1 MiB of it is in: the answer comes while the client is still sending.
    [
      'streamed without a length',
      (): RequestInit => ({ body: new Blob([body]).stream(), duplex: 'half' }) as RequestInit,
    ],
    [
      'as text/plain, which Yoga reads itself',
      (): RequestInit => ({ body, headers: { 'content-type': 'text/plain', 'x-graphql-csrf': '1' } }),
    ],
  ])('answers fetch sending it %s with a 413 and a GraphQL error, not a reset connection', async (_, init) => {
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      const response = await fetch(`${child.base}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        ...init(),
      });
      expect(response.status).toBe(413);
      expect(response.headers.get('content-type')).toContain('application/json');
      const reply = (await response.json()) as Reply;
      expect(reply.errors?.[0]).toMatchObject({
        message: expect.stringContaining('too large'),
        extensions: { code: 'REQUEST_ENTITY_TOO_LARGE' },
      });
    }
  });

  it('answers node:http writing it whole with a 413 the client reads', async () => {
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      const { status, reply } = await post(`${child.base}/graphql`, body);
      expect(status).toBe(413);
      expect(reply.errors?.[0]?.extensions?.code).toBe('REQUEST_ENTITY_TOO_LARGE');
    }
  });
});

describe('malformed GraphQL bodies in production', () => {
  const t = gatewayFixture(ONE_BACKEND, { NODE_ENV: 'production', AUTH_MODE: 'none' });

  it.each([
    ['cut short', '{"query": "mutation { generateVideo(input: {prompt: \\"tell-tale text'],
    ['with a stray brace', '{"query": "{ viewer { id } }"}}tell-tale text'],
    ['not JSON at all', 'tell-tale text'],
  ])(
    "answers JSON %s with a plain BAD_REQUEST: no originalError, none of the parser's text or the body",
    async (_, body) => {
      const { reply } = await post(t.gw.url, body);
      expect(reply.errors).toHaveLength(1);
      expect(reply.errors?.[0]?.message).toBe('POST body sent invalid JSON.');
      expect(reply.errors?.[0]?.extensions).not.toHaveProperty('originalError');
      expect(reply.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_REQUEST' });
      const text = JSON.stringify(reply);
      for (const leak of ['tell-tale', 'SyntaxError', 'Unexpected', 'position', 'is not valid JSON'])
        expect(text).not.toContain(leak);
    },
  );
});
