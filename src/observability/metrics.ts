import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { type ExecutionResult, getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { PredictionRow } from '../db/schema.ts';
import type { Logger } from '../log.ts';
import { isTerminal } from '../vocabulary.ts';
import { withTimeout } from './timeout.ts';

/** One upstream call as the Atlas client saw it. `status`: the HTTP status, or why there was none. */
export interface UpstreamCall {
  endpoint: 'create' | 'status';
  status: number | 'timeout' | 'network_error' | 'aborted';
  seconds: number;
}

/** What the parts that store and finish jobs report; a no-op where no metrics are wanted (tests, CLI). */
export interface JobMetrics {
  /** A new job was stored, to be submitted upstream. */
  submitted(): void;
  /** `row` as this process' write just ended it (the update that made it terminal). */
  finished(row: PredictionRow): void;
}

export const NO_JOB_METRICS: JobMetrics = { submitted: () => {}, finished: () => {} };

/** A GraphQL operation's answer: its first result (a subscription's first event, or its refusal). */
export interface AnsweredOperation {
  name: string | undefined;
  /** query, mutation or subscription; undefined when the document was refused before it was read. */
  type: string | undefined;
  errors: ReadonlyArray<{ extensions?: Record<string, unknown> }> | undefined;
  seconds: number;
}

/** What the scrape-time gauges read. Each is asked at most once per scrape. */
export interface GaugeSources {
  /** Subscription streams open in this process. */
  openStreams(): number;
  /**
   * One cheap database read: unfinished jobs and how overdue the most overdue one's poll is (all
   * processes), and this pool's connections busy right now.
   */
  readDatabase(): Promise<DatabaseReadings>;
  poolSize: number;
  /** This process' background loops: how long since each completed a cycle, and when it counts as stuck. */
  loops(): Array<{ name: string; sinceCycleMs: number; staleAfterMs: number }>;
  /** The daily budgets configured (LIMIT_DAILY_SPEND_USD_TOTAL, LIMIT_DAILY_SPEND_USD); unset: none. */
  budgets: { totalUsd: number | undefined; perCallerUsd: number | undefined };
}

export interface DatabaseReadings {
  unfinishedJobs: number;
  pollOverdueSeconds: number;
  poolInUse: number;
  /** Spent or reserved on jobs created since 00:00 UTC: by everyone, and by the caller who spent most. */
  spentTodayUsd: number;
  topCallerSpentTodayUsd: number;
}

/** The most a scrape waits on the database before reporting its gauges as unknown (NaN). */
const DATABASE_READ_TIMEOUT_MS = 1_000;
/** Distinct values a client-controlled label may take before the rest count as `other`. */
const MAX_LABEL_VALUES = 200;

/** Buckets, in seconds. */
const UPSTREAM_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const JOB_BUCKETS = [5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200, 1800, 3600];
const POLL_LAG_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const GRAPHQL_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * A label whose values come from clients (operation names) or from Atlas (error codes): the first
 * MAX_LABEL_VALUES distinct values are kept, anything after is `other`, so no caller can make the
 * metrics grow without bound.
 */
class BoundedLabel {
  readonly #seen = new Set<string>();
  of(value: string | undefined, fallback: string): string {
    const label = (value || fallback).slice(0, 100);
    if (this.#seen.has(label)) return label;
    if (this.#seen.size >= MAX_LABEL_VALUES) return 'other';
    this.#seen.add(label);
    return label;
  }
}

/**
 * Every metric of one gateway, in a registry of its own (several gateways share a process in tests).
 * Counters are per process; `gateway_unfinished_jobs` reads the shared database, so every process
 * reports the same value (aggregate it with max, not sum).
 */
export class GatewayMetrics implements JobMetrics {
  readonly registry = new Registry();
  readonly #operationNames = new BoundedLabel();
  readonly #errorCodes = new BoundedLabel();
  #sources: GaugeSources | undefined;
  #reading: Promise<DatabaseReadings | undefined> | undefined;

  readonly #operations = new Counter({
    name: 'gateway_graphql_operations_total',
    help: 'GraphQL operations answered, by operation name, type and outcome (ok, or the first error code)',
    labelNames: ['operation', 'type', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly #operationDurations = new Histogram({
    name: 'gateway_graphql_operation_duration_seconds',
    help: 'Time answering GraphQL operations, from the request to its result (a subscription: to its first), by operation name, type and outcome',
    labelNames: ['operation', 'type', 'outcome'] as const,
    buckets: GRAPHQL_BUCKETS,
    registers: [this.registry],
  });
  readonly #upstream = new Histogram({
    name: 'gateway_upstream_request_duration_seconds',
    help: 'Atlas Cloud calls by endpoint (create, status) and HTTP status (or timeout, network_error, aborted); _count is the number of calls',
    labelNames: ['endpoint', 'status'] as const,
    buckets: UPSTREAM_BUCKETS,
    registers: [this.registry],
  });
  readonly #submitted = new Counter({
    name: 'gateway_jobs_submitted_total',
    help: 'Jobs stored for submission upstream by this process (repeats of an idempotency key are not counted)',
    registers: [this.registry],
  });
  readonly #finished = new Counter({
    name: 'gateway_jobs_finished_total',
    help: 'Jobs this process ended, by status and error code (none for SUCCEEDED)',
    labelNames: ['status', 'error_code'] as const,
    registers: [this.registry],
  });
  readonly #wallTime = new Histogram({
    name: 'gateway_job_duration_seconds',
    help: 'Wall time of each job this process ended, from creation to completion, by status',
    labelNames: ['status'] as const,
    buckets: JOB_BUCKETS,
    registers: [this.registry],
  });
  readonly #pollLag = new Histogram({
    name: 'gateway_poll_lag_seconds',
    help: 'How late each status poll started after it was due',
    buckets: POLL_LAG_BUCKETS,
    registers: [this.registry],
  });
  readonly #reconnects = new Counter({
    name: 'gateway_listen_reconnects_total',
    help: 'Times the LISTEN connection for change notices came back after a drop (notices sent meanwhile were re-read)',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    const reading = () => this.#readDatabase();
    new Gauge({
      name: 'gateway_unfinished_jobs',
      help: 'Jobs not yet finished (STARTING or PROCESSING), in the whole database; NaN when the database did not answer in time',
      registers: [this.registry],
      async collect() {
        this.set((await reading())?.unfinishedJobs ?? Number.NaN);
      },
    });
    new Gauge({
      name: 'gateway_poll_overdue_seconds',
      help: 'Of the unfinished jobs being polled (all processes), the longest any has gone without a poll beyond its interval (0: none is late); NaN when the database did not answer in time',
      registers: [this.registry],
      async collect() {
        this.set((await reading())?.pollOverdueSeconds ?? Number.NaN);
      },
    });
    new Gauge({
      name: 'gateway_db_pool_in_use',
      help: "This process' database connections busy with a query or transaction (PGlite: always 1); NaN when unknown",
      registers: [this.registry],
      async collect() {
        this.set((await reading())?.poolInUse ?? Number.NaN);
      },
    });
    new Gauge({
      name: 'gateway_spend_today_usd',
      help: 'Spent or reserved on jobs created since 00:00 UTC, by everyone (what LIMIT_DAILY_SPEND_USD_TOTAL holds), in the whole database; NaN when the database did not answer in time',
      registers: [this.registry],
      async collect() {
        this.set((await reading())?.spentTodayUsd ?? Number.NaN);
      },
    });
    new Gauge({
      name: 'gateway_spend_today_top_caller_usd',
      help: 'Spent or reserved on jobs created since 00:00 UTC by the one caller who spent most (what LIMIT_DAILY_SPEND_USD holds per caller); NaN when the database did not answer in time',
      registers: [this.registry],
      async collect() {
        this.set((await reading())?.topCallerSpentTodayUsd ?? Number.NaN);
      },
    });
    const sources = () => this.#sources;
    new Gauge({
      name: 'gateway_daily_budget_usd',
      help: 'The daily budgets configured, by scope: total (LIMIT_DAILY_SPEND_USD_TOTAL) and per_caller (LIMIT_DAILY_SPEND_USD, the default a key may override); absent when unset',
      labelNames: ['scope'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        const budgets = sources()?.budgets;
        if (budgets?.totalUsd !== undefined) this.set({ scope: 'total' }, budgets.totalUsd);
        if (budgets?.perCallerUsd !== undefined) this.set({ scope: 'per_caller' }, budgets.perCallerUsd);
      },
    });
    new Gauge({
      name: 'gateway_loop_seconds_since_cycle',
      help: 'Seconds since each background loop of this process (poller, copier, webhook dispatcher, upload sweeper) last completed a cycle',
      labelNames: ['loop'] as const,
      registers: [this.registry],
      collect() {
        for (const loop of sources()?.loops() ?? []) this.set({ loop: loop.name }, loop.sinceCycleMs / 1000);
      },
    });
    new Gauge({
      name: 'gateway_loop_stale_after_seconds',
      help: 'How long each background loop may go without a completed cycle before /ready names it as stuck',
      labelNames: ['loop'] as const,
      registers: [this.registry],
      collect() {
        for (const loop of sources()?.loops() ?? []) this.set({ loop: loop.name }, loop.staleAfterMs / 1000);
      },
    });
    new Gauge({
      name: 'gateway_db_pool_size',
      help: "This process' database connections at most (PGlite: 1)",
      registers: [this.registry],
      collect() {
        this.set(sources()?.poolSize ?? Number.NaN);
      },
    });
    new Gauge({
      name: 'gateway_subscription_streams_open',
      help: 'Subscription streams open in this process',
      registers: [this.registry],
      collect() {
        this.set(sources()?.openStreams() ?? 0);
      },
    });
  }

  /** The parts the scrape-time gauges read; set once they exist. */
  watch(sources: GaugeSources): void {
    this.#sources = sources;
  }

  upstreamCall({ endpoint, status, seconds }: UpstreamCall): void {
    this.#upstream.observe({ endpoint, status: String(status) }, seconds);
  }

  submitted(): void {
    this.#submitted.inc();
  }

  finished(row: PredictionRow): void {
    if (!isTerminal(row.status)) return;
    this.#finished.inc({ status: row.status, error_code: this.#errorCodes.of(row.errorCode ?? undefined, 'none') });
    const end = row.completedAt ?? new Date();
    this.#wallTime.observe({ status: row.status }, Math.max(0, (end.getTime() - row.createdAt.getTime()) / 1000));
  }

  pollStarted({ dueAt, startedAt }: { dueAt: Date; startedAt: Date }): void {
    this.#pollLag.observe(Math.max(0, (startedAt.getTime() - dueAt.getTime()) / 1000));
  }

  listenReconnected(): void {
    this.#reconnects.inc();
  }

  /**
   * One GraphQL operation answered, over HTTP, SSE (Yoga's hooks, below) or WebSocket (websocket.ts):
   * counted and timed by its name, type and outcome (ok, or its first error's code).
   */
  operationAnswered({ name, type, errors, seconds }: AnsweredOperation): void {
    const code = errors?.[0]?.extensions?.code;
    const labels = {
      operation: this.#operationNames.of(name, 'anonymous'),
      type: type ?? 'unknown',
      outcome: errors?.length ? this.#errorCodes.of(typeof code === 'string' ? code : undefined, 'error') : 'ok',
    };
    this.#operations.inc(labels);
    this.#operationDurations.observe(labels, seconds);
  }

  /** The GraphQL operations counter and their timings. */
  yogaPlugins(): Plugin[] {
    return [this.#operationsPlugin()];
  }

  /**
   * Counts and times every GraphQL answer, early refusals (401, validation, persisted-only) included:
   * from the request's arrival to its result (for a subscription, its first). Why not Yoga's Prometheus
   * plugin, which the gateway used first: hooked into every phase, it cost a third of the CPU of a
   * small read (about 95 µs a request, measured by bench/readPath.ts), for timings of parsing and
   * validation, which are cached per document anyway.
   */
  #operationsPlugin(): Plugin {
    const operations = new WeakMap<
      Request,
      { name: string | undefined; type: string | undefined; startedAt: number }
    >();
    return {
      onRequest({ request }) {
        operations.set(request, { name: undefined, type: undefined, startedAt: performance.now() });
      },
      onParams({ params, request }) {
        const operation = operations.get(request);
        if (operation) operation.name = params.operationName ?? undefined;
      },
      onParse({ context }) {
        const request = (context as { request?: Request }).request;
        if (!request) return undefined;
        return ({ result }) => {
          if (result instanceof Error || !result) return;
          const known = operations.get(request);
          const operation = getOperationAST(result, known?.name);
          if (known && operation) {
            known.name = operation.name?.value;
            known.type = operation.operation;
          }
        };
      },
      onResultProcess: ({ request, result }) => {
        const operation = operations.get(request);
        const seconds = operation ? (performance.now() - operation.startedAt) / 1000 : 0;
        for (const each of Array.isArray(result) ? result : [result]) {
          this.operationAnswered({
            name: operation?.name,
            type: operation?.type,
            errors: isExecutionResult(each) ? each.errors : undefined,
            seconds,
          });
        }
      },
    };
  }

  async #readDatabase() {
    // The two database gauges share the read in flight (a scrape collects them at once); a later scrape reads afresh.
    this.#reading ??= (async () => {
      try {
        const sources = this.#sources;
        return sources ? await withTimeout(sources.readDatabase(), DATABASE_READ_TIMEOUT_MS) : undefined;
      } catch {
        return undefined;
      } finally {
        this.#reading = undefined;
      }
    })();
    return this.#reading;
  }
}

function isExecutionResult(value: unknown): value is ExecutionResult {
  return typeof value === 'object' && value !== null && !(Symbol.asyncIterator in value);
}

/**
 * Serves GET /metrics in Prometheus' text format; with a token, only to `Authorization: Bearer <token>`
 * (compared in constant time). False for any other request.
 */
export function metricsRoute(metrics: GatewayMetrics, token: string | undefined, log: Logger) {
  const expected = token ? digest(token) : undefined;
  return async (req: IncomingMessage, res: ServerResponse, requestLog: Logger = log): Promise<boolean> => {
    if ((req.url ?? '').split('?')[0] !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
    if (expected) {
      const given = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
      // Digests of equal length, so the comparison takes the same time whatever was sent.
      if (!given || !timingSafeEqual(digest(given), expected)) {
        res.writeHead(401, {
          'content-type': 'text/plain',
          'www-authenticate': 'Bearer realm="metrics"',
          'cache-control': 'no-store',
        });
        res.end('metrics need Authorization: Bearer <METRICS_TOKEN>\n');
        return true;
      }
    }
    try {
      const text = await metrics.registry.metrics();
      res.writeHead(200, { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : text);
    } catch (error) {
      requestLog.error('collecting metrics failed', { error });
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('collecting metrics failed\n');
    }
    return true;
  };
}

const digest = (text: string) => createHash('sha256').update(text).digest();
