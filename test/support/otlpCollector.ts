import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { z } from 'zod';

/** One OTLP attribute value as OTLP/JSON writes it (64-bit integers as strings). */
const AnyValue = z.object({
  stringValue: z.string().optional(),
  intValue: z.union([z.string(), z.number()]).optional(),
  boolValue: z.boolean().optional(),
  doubleValue: z.number().optional(),
});
const Attributes = z
  .array(z.object({ key: z.string(), value: AnyValue }))
  .optional()
  .transform((list) =>
    Object.fromEntries(
      (list ?? []).map(({ key, value }) => [
        key,
        value.stringValue ??
          (value.intValue === undefined ? undefined : Number(value.intValue)) ??
          value.boolValue ??
          value.doubleValue,
      ]),
    ),
  );
/** An ExportTraceServiceRequest in OTLP/JSON: ids as hex strings, as the specification has them. */
const TraceRequest = z.object({
  resourceSpans: z.array(
    z.object({
      resource: z.object({ attributes: Attributes }).optional(),
      scopeSpans: z.array(
        z.object({
          spans: z.array(
            z.object({
              traceId: z.string(),
              spanId: z.string(),
              parentSpanId: z.string().optional(),
              name: z.string(),
              kind: z.number(),
              attributes: Attributes,
              status: z.object({ code: z.number().optional() }).optional(),
            }),
          ),
        }),
      ),
    }),
  ),
});

export interface CollectedSpan {
  traceId: string;
  spanId: string;
  /** Empty for a root span. */
  parentSpanId: string;
  name: string;
  /** OTLP's SpanKind: 2 server, 3 client. */
  kind: number;
  attributes: Record<string, unknown>;
  /** The resource's attributes (service.name). */
  resource: Record<string, unknown>;
}

export interface ReceivedExport {
  path: string;
  contentType: string | undefined;
  body: Buffer;
}

/**
 * An OpenTelemetry collector as the gateway's exporter sees one: a real HTTP server on loopback that
 * takes OTLP/HTTP POSTs, answers 200, keeps every body, and decodes the OTLP/JSON ones into spans.
 */
export class OtlpCollector {
  readonly received: ReceivedExport[] = [];
  readonly spans: CollectedSpan[] = [];
  /** What the collector answers; 400 refuses a batch for good (the exporter does not retry it). */
  replyStatus = 200;
  url = '';
  readonly #sockets = new Set<Socket>();
  readonly #server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const contentType = req.headers['content-type'];
    this.received.push({ path: req.url ?? '/', contentType, body });
    if (this.replyStatus !== 200) return void res.writeHead(this.replyStatus).end();
    if (contentType?.startsWith('application/json')) {
      for (const { resource, scopeSpans } of TraceRequest.parse(JSON.parse(body.toString('utf8'))).resourceSpans)
        for (const { spans } of scopeSpans)
          for (const span of spans)
            this.spans.push({ ...span, parentSpanId: span.parentSpanId ?? '', resource: resource?.attributes ?? {} });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    } else res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
  });

  static async start(): Promise<OtlpCollector> {
    const collector = new OtlpCollector();
    collector.#server.on('connection', (socket) => {
      collector.#sockets.add(socket);
      socket.once('close', () => collector.#sockets.delete(socket));
    });
    await new Promise<void>((resolve) => collector.#server.listen(0, '127.0.0.1', resolve));
    collector.url = `http://127.0.0.1:${(collector.#server.address() as AddressInfo).port}`;
    return collector;
  }

  close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}
