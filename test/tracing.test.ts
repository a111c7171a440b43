import { randomBytes } from 'node:crypto';
import { propagation, trace } from '@opentelemetry/api';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeAtlas } from './support/fakeAtlas.ts';
import {
  BACKENDS,
  type Backend,
  eventually,
  ONE_BACKEND,
  openTestDatabase,
  startGateway,
  type TestDatabase,
  type TestGateway,
} from './support/gateway.ts';
import { type CollectedSpan, OtlpCollector } from './support/otlpCollector.ts';

const GENERATE = `mutation Generate($input: GenerateVideoInput!) { generateVideo(input: $input) { prediction { id status } } }`;
const CREATE_PATH = '/api/v1/model/generateVideo';
const INPUT = { prompt: 'A white horse galloping along a beach at sunrise', duration: 5 };

/** A caller's trace: a W3C traceparent naming a trace and the caller's own span, sampled. */
function callerTrace() {
  const traceId = randomBytes(16).toString('hex');
  const parentId = randomBytes(8).toString('hex');
  return { traceId, parentId, traceparent: `00-${traceId}-${parentId}-01` };
}

/** The mutation over the gateway's real socket, as a traced caller sends it. */
async function generate(gw: TestGateway, traceparent: string) {
  const response = await fetch(gw.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', traceparent },
    body: JSON.stringify({ query: GENERATE, variables: { input: INPUT } }),
  });
  const body = (await response.json()) as { data?: { generateVideo: { prediction: { id: string } } } };
  expect(body.data?.generateVideo.prediction.id).toBeTruthy();
  return body.data!.generateVideo.prediction.id;
}

interface Fixture {
  collector: OtlpCollector;
  fake: FakeAtlas;
  db: TestDatabase;
  gw: TestGateway;
}

/** A fake Atlas, a database and a gateway exporting to an in-process collector. */
function tracedGateway(backend: Backend, protocol: 'http/json' | 'http/protobuf') {
  const t = {} as Fixture;
  beforeAll(async () => {
    [t.collector, t.fake, t.db] = await Promise.all([
      OtlpCollector.start(),
      FakeAtlas.start(),
      openTestDatabase(backend),
    ]);
    t.gw = await startGateway({
      database: t.db.database,
      atlasUrl: t.fake.url,
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: t.collector.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
        OTEL_SERVICE_NAME: 'gateway-under-test',
        // Batches go out within 50 ms rather than 5 s.
        OTEL_BSP_SCHEDULE_DELAY: '50',
      },
    });
  });
  afterAll(async () => {
    await t.gw?.close();
    await Promise.all([t.collector?.close(), t.fake?.close(), t.db?.close()]);
  });
  return t;
}

describe.each(BACKENDS)('traces on %s, exported as OTLP/JSON', (backend) => {
  const t = tracedGateway(backend, 'http/json');
  beforeEach(() => {
    t.fake.reset();
    t.gw.logs.length = 0;
  });

  it("continues the caller's trace: the operation, its queries and its Atlas call are spans, and Atlas gets the trace", async () => {
    const caller = callerTrace();
    await generate(t.gw, caller.traceparent);
    const inTrace = () => t.collector.spans.filter((span) => span.traceId === caller.traceId);
    const operation = (spans: CollectedSpan[]) => spans.find((span) => span.name === 'mutation.Generate');
    const upstream = (spans: CollectedSpan[]) => spans.find((span) => span.name === `POST ${CREATE_PATH}`);
    const spans = await eventually(inTrace, (spans) => operation(spans) !== undefined && upstream(spans) !== undefined);

    // The operation's span is a server span whose parent is the caller's span.
    const op = operation(spans)!;
    expect(op).toMatchObject({ parentSpanId: caller.parentId, kind: 2 });
    expect(op.attributes['graphql.execute.operationName']).toBe('Generate');
    expect(op.resource['service.name']).toBe('gateway-under-test');

    // The create call is a client span under it, and Atlas got a traceparent naming that span.
    const create = upstream(spans)!;
    expect(create).toMatchObject({ parentSpanId: op.spanId, kind: 3 });
    expect(create.attributes).toMatchObject({ 'http.request.method': 'POST', 'http.response.status_code': 200 });
    const sent = t.fake.requests.find((request) => request.path === CREATE_PATH);
    expect(sent?.headers.traceparent).toBe(`00-${caller.traceId}-${create.spanId}-01`);

    // The queries the mutation ran (the insert of the job, and more) are client spans under it too.
    const queries = spans.filter((span) => span.attributes['db.system.name'] === 'postgresql');
    expect(queries.length).toBeGreaterThan(0);
    for (const query of queries) expect(query).toMatchObject({ parentSpanId: op.spanId, kind: 3 });
    expect(queries.map((query) => query.name)).toContain('INSERT');
    expect(queries.find((query) => query.name === 'INSERT')?.attributes['db.query.text']).toMatch(
      /^insert into "predictions"/,
    );
    // Placeholders only: the prompt is the caller's, and stays out of the trace.
    expect(JSON.stringify(spans)).not.toContain(INPUT.prompt);
  });

  it('writes the trace id on the log lines of the request', async () => {
    const caller = callerTrace();
    await generate(t.gw, caller.traceparent);
    const line = t.gw.logs
      .map((each) => JSON.parse(each) as Record<string, unknown>)
      .find((each) => each.msg === 'prediction submitted');
    expect(line).toMatchObject({ trace_id: caller.traceId, span_id: expect.stringMatching(/^[0-9a-f]{16}$/) });
    // The span it names is one of the request's own.
    const spanIds = await eventually(
      () => t.collector.spans.filter((span) => span.traceId === caller.traceId).map((span) => span.spanId),
      (ids) => ids.includes(line!.span_id as string),
    );
    expect(spanIds).toContain(line!.span_id);
  });

  it('starts a trace of its own for a caller that sends none', async () => {
    const response = await fetch(t.gw.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: GENERATE, variables: { input: INPUT } }),
    });
    expect(response.status).toBe(200);
    const sent = await eventually(
      () => t.fake.requests.find((request) => request.path === CREATE_PATH),
      (request) => request !== undefined,
    );
    const [, traceId] = /^00-([0-9a-f]{32})-[0-9a-f]{16}-01$/.exec(String(sent!.headers.traceparent)) ?? [];
    expect(traceId).toBeDefined();
    const root = await eventually(
      () => t.collector.spans.find((span) => span.traceId === traceId && span.name === 'mutation.Generate'),
      (span) => span !== undefined,
    );
    expect(root?.parentSpanId).toBe('');
  });
});

describe('traces exported as OTLP/protobuf (the default protocol)', () => {
  const t = tracedGateway(ONE_BACKEND, 'http/protobuf');

  it('posts protobuf to /v1/traces carrying the trace', async () => {
    const caller = callerTrace();
    await generate(t.gw, caller.traceparent);
    // Ids are raw bytes in protobuf: the caller's trace id appears as its 16 bytes.
    const traceIdBytes = Buffer.from(caller.traceId, 'hex');
    const carrying = await eventually(
      () => t.collector.received.filter((post) => post.body.includes(traceIdBytes)),
      (posts) => posts.length > 0,
    );
    expect(carrying[0]).toMatchObject({ path: '/v1/traces', contentType: 'application/x-protobuf' });
  });

  it('answers requests while the collector refuses the spans, and says so in the log', async () => {
    t.collector.replyStatus = 400;
    try {
      const refusedBefore = t.collector.received.length;
      await generate(t.gw, callerTrace().traceparent);
      await eventually(
        () => t.gw.logs.filter((line) => (JSON.parse(line) as { msg: string }).msg.startsWith('tracing: ')),
        (lines) => lines.length > 0,
      );
      expect(t.collector.received.length).toBeGreaterThan(refusedBefore);
    } finally {
      t.collector.replyStatus = 200;
    }
  });
});

describe('without OTEL_EXPORTER_OTLP_ENDPOINT', () => {
  const t = {} as { fake: FakeAtlas; db: TestDatabase; gw: TestGateway };
  beforeAll(async () => {
    [t.fake, t.db] = await Promise.all([FakeAtlas.start(), openTestDatabase(ONE_BACKEND)]);
    t.gw = await startGateway({ database: t.db.database, atlasUrl: t.fake.url });
  });
  afterAll(async () => {
    await t.gw?.close();
    await Promise.all([t.fake?.close(), t.db?.close()]);
  });

  it('starts no SDK: nothing is traced, propagated or written in the logs', async () => {
    const caller = callerTrace();
    await generate(t.gw, caller.traceparent);
    // OpenTelemetry's API is left as it is without an SDK: a tracer that records nothing, no propagator.
    expect(trace.getTracer('probe').startSpan('probe').isRecording()).toBe(false);
    expect(propagation.fields()).toEqual([]);
    const sent = t.fake.requests.find((request) => request.path === CREATE_PATH);
    expect(sent).toBeDefined();
    expect(sent?.headers.traceparent).toBeUndefined();
    const lines = t.gw.logs.map((each) => JSON.parse(each) as Record<string, unknown>);
    expect(lines.find((each) => each.msg === 'prediction submitted')).toBeDefined();
    expect(lines.filter((each) => 'trace_id' in each)).toEqual([]);
  });
});
