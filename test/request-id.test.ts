/**
 * Request ids over a real socket: a sane `x-request-id` is kept, echoed back, written on every log
 * line of that request (the upstream's own X-Request-ID beside it) and put in every GraphQL error's
 * extensions; a missing one is made up; a malicious one is replaced.
 */
import { connect } from 'node:net';
import { beforeEach, describe, expect, it } from 'vitest';
import { httpError } from './support/fakeAtlas.ts';
import { gatewayFixture, ONE_BACKEND } from './support/gateway.ts';

const GENERATE = `mutation Generate($input: GenerateVideoInput!) { generateVideo(input: $input) { prediction { id status } } }`;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

interface Reply {
  errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
}
interface LogLine {
  msg: string;
  requestId?: string;
  [field: string]: unknown;
}

describe('request ids', () => {
  const t = gatewayFixture(ONE_BACKEND);
  const lines = () => t.gw.logs.map((line) => JSON.parse(line) as LogLine);

  beforeEach(() => {
    t.fake.reset();
    t.gw.logs.length = 0;
  });

  async function post(body: unknown, headers: Record<string, string> = {}) {
    const response = await fetch(t.gw.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    return {
      requestId: response.headers.get('x-request-id'),
      reply: (await response.json()) as Reply,
      status: response.status,
    };
  }

  it('keeps a given id: echoed, on every log line of the request, and in the error extensions', async () => {
    t.fake.createReplies.push({ ...httpError(400, 'prompt refused'), headers: { 'x-request-id': 'atlas-req-77' } });
    const given = 'checkout-42:retry.1_a-b';
    const { requestId, reply } = await post(
      { query: GENERATE, variables: { input: { prompt: 'a refused horse' } } },
      { 'x-request-id': given },
    );
    expect(requestId).toBe(given);
    expect(reply.errors![0]!.extensions).toMatchObject({ code: 'UPSTREAM_REJECTED', requestId: given });

    // The lines this request caused: Atlas' refusal (with Atlas' own request id) and the failed submission.
    expect(lines().find((line) => line.msg === 'atlas call refused')).toMatchObject({
      requestId: given,
      upstreamRequestId: 'atlas-req-77',
    });
    expect(lines().find((line) => line.msg === 'prediction submission failed')).toMatchObject({
      requestId: given,
      upstreamRequestId: 'atlas-req-77',
    });
    // Each line names each key once: the gateway's id and Atlas' never share a field.
    for (const line of t.gw.logs) expect(line.match(/"requestId":/g)?.length ?? 0, line).toBeLessThanOrEqual(1);
    // Every line written while serving it carries the id (the lines of the request are all there is here).
    expect(lines().length).toBeGreaterThan(0);
    for (const line of lines()) expect(line.requestId, JSON.stringify(line)).toBe(given);
  });

  it('makes one up when none is given, the same in the header and the errors', async () => {
    const { requestId, reply } = await post({ query: '{ nope }' });
    expect(requestId).toMatch(UUID);
    expect(reply.errors![0]!.extensions).toMatchObject({ requestId });
  });

  it('gives each request its own id, also when an error is the same cached one', async () => {
    // Yoga caches validation results per document: the same error object answers both requests.
    const first = await post({ query: '{ nope }' }, { 'x-request-id': 'first' });
    const second = await post({ query: '{ nope }' }, { 'x-request-id': 'second' });
    expect(first.reply.errors![0]!.extensions!.requestId).toBe('first');
    expect(second.reply.errors![0]!.extensions!.requestId).toBe('second');
  });

  it.each([
    ['1 KB long', 'a'.repeat(1024)],
    ['with spaces and quotes', 'x" injected="1'],
    ['with an encoded newline', 'abc%0A{"level":"error"}'],
    ['not ASCII', 'ид-запроса'],
    ['empty', ''],
  ])('replaces one %s', async (_what, malicious) => {
    // Header values are bytes: a non-ASCII id arrives as Latin-1 text of its UTF-8 bytes.
    const sent = /^[\x20-\x7e]*$/.test(malicious) ? malicious : Buffer.from(malicious).toString('latin1');
    const { requestId, reply } = await post({ query: '{ nope }' }, { 'x-request-id': sent });
    expect(requestId).toMatch(UUID);
    expect(reply.errors![0]!.extensions!.requestId).toBe(requestId);
  });

  it.each([
    ['a bare LF', 'x-request-id: abc\n{"level":"error","msg":"forged"}'],
    ['a folded line', 'x-request-id: abc\r\n {"msg":"forged"}'],
    ['a bare CR', 'x-request-id: abc\r{"msg":"forged"}'],
  ])(
    'never lets a raw newline through (%s): Node refuses the request before the gateway sees it',
    async (_what, header) => {
      // fetch will not send such a header, so write the bytes an attacker would.
      const port = Number(new URL(t.gw.url).port);
      const body = JSON.stringify({ query: '{ nope }' });
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () =>
          socket.write(
            `POST /graphql HTTP/1.1\r\nHost: gateway\r\n${header}\r\ncontent-type: application/json\r\n` +
              `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
          ),
        );
        let text = '';
        socket.on('data', (chunk) => (text += chunk.toString()));
        socket.on('end', () => resolve(text));
        socket.on('error', reject);
      });
      expect(answer).toMatch(/^HTTP\/1\.1 400 /);
      expect(t.gw.logs.join('\n')).not.toContain('forged');
    },
  );

  it('stamps a subscription over SSE: the header, and the id in its error', async () => {
    const response = await fetch(t.gw.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', 'x-request-id': 'sse-1' },
      body: JSON.stringify({
        query: 'subscription { predictionUpdated(id: "00000000-0000-4000-8000-000000000000") { status } }',
      }),
    });
    expect(response.headers.get('x-request-id')).toBe('sse-1');
    const text = await response.text();
    expect(text).toMatch(/"code":"NOT_FOUND"/);
    expect(text).toMatch(/"requestId":"sse-1"/);
  });

  it('echoes an id on the other routes too (/health)', async () => {
    const response = await fetch(new URL('/health', t.gw.url), { headers: { 'x-request-id': 'probe-1' } });
    expect(response.headers.get('x-request-id')).toBe('probe-1');
  });
});
