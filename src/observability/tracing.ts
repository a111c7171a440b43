/**
 * Traces (OpenTelemetry), exported over OTLP only when OTEL_EXPORTER_OTLP_ENDPOINT is set. Then:
 * a caller's W3C `traceparent` is taken up (http/gatewayRoutes.ts), each GraphQL operation is a span
 * (@envelop/opentelemetry), each database query and each Atlas call a child of it (below, and
 * atlas/transport.ts, which also sends Atlas a `traceparent`), and log lines written meanwhile carry
 * `trace_id` and `span_id` (log.ts).
 *
 * Unset, no SDK module is even loaded: what the gateway calls is @opentelemetry/api, whose global
 * tracer, propagator and context are no-ops until something registers real ones.
 *
 * OpenTelemetry's API is process-wide, so a gateway with tracing registers its SDK globally, and
 * takes it down again when it closes: one process, one traced gateway (tests start others untraced).
 */
import {
  type Attributes,
  context,
  type DiagLogger,
  DiagLogLevel,
  diag,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { PgAsyncPreparedQuery } from 'drizzle-orm/pg-core';
import type { Plugin } from 'graphql-yoga';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';

export type TracingConfig = NonNullable<Config['tracing']>;

export interface Tracing {
  /** Spans for GraphQL operations; none without tracing. */
  readonly yogaPlugins: Plugin[];
  /** Sends the spans still queued, then unregisters the SDK. */
  close(): Promise<void>;
}

const NO_TRACING: Tracing = { yogaPlugins: [], close: async () => {} };

/**
 * A span for work done on behalf of a traced operation, or undefined when none is active: background
 * loops (the poller's thousands of status calls) would otherwise each start a trace of their own.
 */
export function childSpan(name: string, kind: SpanKind, attributes: Attributes): Span | undefined {
  if (!trace.getSpan(context.active())?.isRecording()) return undefined;
  // Asked for each time: a tracer kept from before would outlive the provider that made it.
  return trace.getTracer('happyhorse-gateway').startSpan(name, { kind, attributes });
}

/** Ends a span with how its work ended: an error is recorded and marks the span failed. */
export function endSpan(span: Span | undefined, error?: unknown): void {
  if (!span) return;
  if (error !== undefined) {
    span.recordException(error instanceof Error ? error : String(error));
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
  }
  span.end();
}

export async function startTracing(config: TracingConfig | undefined, log: Logger): Promise<Tracing> {
  if (!config) return NO_TRACING;
  // Loaded only here: a gateway without an endpoint never loads the SDK.
  const [{ AsyncLocalStorageContextManager }, { W3CTraceContextPropagator }, base, { resourceFromAttributes }, otlp] =
    await Promise.all([
      import('@opentelemetry/context-async-hooks'),
      import('@opentelemetry/core'),
      import('@opentelemetry/sdk-trace-base'),
      import('@opentelemetry/resources'),
      config.protocol === 'http/json'
        ? import('@opentelemetry/exporter-trace-otlp-http')
        : import('@opentelemetry/exporter-trace-otlp-proto'),
    ]);
  const { useOpenTelemetry } = await import('@envelop/opentelemetry');
  const exporter = new otlp.OTLPTraceExporter({
    url: `${config.endpoint.replace(/\/+$/, '')}/v1/traces`,
    headers: config.headers,
  });
  const provider = new base.BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': config.serviceName }),
    spanProcessors: [new base.BatchSpanProcessor(exporter, { scheduledDelayMillis: config.scheduleDelayMs })],
  });
  // The SDK reports failed exports through `diag`: into the gateway's log, or they would go unseen.
  diag.setLogger(diagLogger(log), DiagLogLevel.WARN);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  const untraceQueries = traceDatabaseQueries();
  log.info('exporting traces', { endpoint: config.endpoint, protocol: config.protocol });
  return {
    yogaPlugins: [
      // No resolver spans, variables or results: those can be large, and prompts are the callers' own.
      // Its context type names a key the plugin adds itself; Yoga's context lacks it until then.
      useOpenTelemetry(
        { resolvers: false, variables: false, result: false },
        provider,
        SpanKind.SERVER,
        {},
        config.serviceName,
      ) as Plugin,
    ],
    async close() {
      untraceQueries();
      try {
        await provider.shutdown();
      } finally {
        trace.disable();
        propagation.disable();
        context.disable();
        diag.disable();
      }
    },
  };
}

/**
 * A span around every query either driver runs. Drizzle's own tracing is compiled out of its build
 * and neither postgres.js nor PGlite has a maintained instrumentation; every query of both passes
 * through PgAsyncPreparedQuery.execute, so that is wrapped (and unwrapped when tracing stops). The
 * text is drizzle's, with placeholders: parameter values are not recorded.
 */
function traceDatabaseQueries(): () => void {
  const prototype = PgAsyncPreparedQuery.prototype;
  const execute = prototype.execute;
  prototype.execute = function tracedExecute(this: PgAsyncPreparedQuery<never>, ...args) {
    const text = this.getQuery().sql;
    const operation = /^\s*(\w+)/.exec(text)?.[1]?.toUpperCase() ?? 'QUERY';
    const span = childSpan(operation, SpanKind.CLIENT, {
      'db.system.name': 'postgresql',
      'db.operation.name': operation,
      'db.query.text': text,
    });
    if (!span) return execute.apply(this, args);
    return context
      .with(trace.setSpan(context.active(), span), () => execute.apply(this, args))
      .then(
        (result) => {
          endSpan(span);
          return result;
        },
        (error: unknown) => {
          endSpan(span, error);
          throw error;
        },
      );
  };
  return () => {
    prototype.execute = execute;
  };
}

function diagLogger(log: Logger): DiagLogger {
  const write =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (message: string, ...args: unknown[]) =>
      log[level](`tracing: ${message}`, args.length ? { details: args } : {});
  return {
    verbose: write('debug'),
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
  };
}
