import { context, isSpanContextValid, trace } from '@opentelemetry/api';
import { type DestinationStream, pino, stdTimeFunctions } from 'pino';
import { REDACTED, SecretRedactor } from './redact.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that writes `bindings` (a request id) on every line, besides its own fields. */
  child(bindings: LogFields): Logger;
}

export interface LoggerOptions {
  /**
   * Text that must never be written (the API key), redacted from every string of every line in any
   * spelling SecretRedactor knows. A last line of defence: upstream text is redacted where it is read.
   */
  secrets?: readonly string[];
}

/**
 * Fields that hold credentials, wherever a caller might log them: censored by pino before the line is
 * written. The one place such paths are configured; the key itself is also cut from whole lines below.
 */
export const REDACTED_PATHS = [
  'authorization',
  'apiKey',
  'token',
  'headers.authorization',
  'headers.cookie',
  '*.authorization',
  '*.apiKey',
  '*.token',
  '*.headers.authorization',
  '*.headers.cookie',
];

/** How many errors of one chain (causes, and GraphQL's originalError) are written; a cycle ends it too. */
const MAX_CHAIN = 8;
/** Deeper than this, a field is written as a placeholder: log fields are small, so this is a runaway. */
const MAX_DEPTH = 10;

/**
 * JSON lines through pino, one per event: `level` as a word, `time` in ISO 8601, `msg`, the fields.
 * `write` receives each line without its newline (tests capture lines with it); stdout by default.
 */
export function createLogger(
  level: LogLevel | 'silent' = 'info',
  write?: (line: string) => void,
  options: LoggerOptions = {},
): Logger {
  // Lines are cut after JSON escaped them: a key with a quote or a backslash is looked for as escaped, too.
  const spellings = (options.secrets ?? [])
    .filter(Boolean)
    .flatMap((secret) => [secret, JSON.stringify(secret).slice(1, -1)]);
  const redactors = [...new Set(spellings)].map((secret) => new SecretRedactor(secret));
  const destination: DestinationStream = write
    ? { write: (line: string) => write(line.endsWith('\n') ? line.slice(0, -1) : line) }
    : level === 'silent'
      ? { write: () => {} }
      : // Synchronous: a line is out before the next one, and before a crash ends the process.
        pino.destination({ fd: 1, sync: true });
  const logger = pino(
    {
      level,
      timestamp: stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        // Errors anywhere in the fields, with their stack, code and causes; pino's own serialiser
        // only looks at one top-level key.
        log: (fields) => plain(withErrKey(fields), 0, new Set()) as Record<string, unknown>,
      },
      // The trace a line was written in (observability/tracing.ts). Without tracing, the API's context is
      // a no-op that has no span: one call per line, and no fields.
      mixin: activeTrace,
      // `err` is already plain data here (above), with its cause chain: pino's serialiser would
      // flatten the causes into its message and lose their codes (ECONNREFUSED).
      serializers: { err: (value: unknown) => value },
      redact: { paths: REDACTED_PATHS, censor: REDACTED },
      hooks: { streamWrite: (line) => redactLine(line, redactors) },
    },
    destination,
  );
  return wrap(logger);
}

/** `trace_id` and `span_id` of the span active where the line is written, as OpenTelemetry names them in logs. */
function activeTrace(): Record<string, string> {
  const span = trace.getSpan(context.active());
  if (!span) return {};
  const { traceId, spanId } = span.spanContext();
  return isSpanContextValid(span.spanContext()) ? { trace_id: traceId, span_id: spanId } : {};
}

function wrap(logger: pino.Logger): Logger {
  return {
    debug: (msg, fields) => logger.debug(fields ?? {}, msg),
    info: (msg, fields) => logger.info(fields ?? {}, msg),
    warn: (msg, fields) => logger.warn(fields ?? {}, msg),
    error: (msg, fields) => logger.error(fields ?? {}, msg),
    child: (bindings) => wrap(logger.child(bindings)),
  };
}

/**
 * `log.child(bindings)`, made when the first line is written. Why: the gateway gives every request a
 * logger and most requests write nothing, while a pino child (its bindings serialised and redacted)
 * is a measurable share of a small read's CPU. The lines are the same as the child's would be.
 */
export function lazyChild(log: Logger, bindings: LogFields): Logger {
  let made: Logger | undefined;
  const child = () => (made ??= log.child(bindings));
  return {
    debug: (msg, fields) => child().debug(msg, fields),
    info: (msg, fields) => child().info(msg, fields),
    warn: (msg, fields) => child().warn(msg, fields),
    error: (msg, fields) => child().error(msg, fields),
    child: (more) => child().child(more),
  };
}

/**
 * The key cut out of a whole line, so no field, message or binding can carry it. A line that still
 * carries it after that (in a spelling the pattern does not know) is replaced by a notice: losing a
 * line beats leaking the key, and the output stays JSON.
 */
function redactLine(line: string, redactors: SecretRedactor[]): string {
  let text = line;
  for (const redactor of redactors) text = redactor.redact(text);
  if (text !== REDACTED) return text;
  return `${JSON.stringify({ level: 'error', time: new Date().toISOString(), msg: 'a log line was withheld: it carried the API key in a form that could not be cut out' })}\n`;
}

/**
 * The error of a line under pino's conventional `err` key, where log tooling looks for it: call sites
 * write `{ error }`, and an Error there is moved (a string `error`, such as a webhook's reason, stays).
 */
function withErrKey(fields: Record<string, unknown>): Record<string, unknown> {
  if (!(fields.error instanceof Error) || 'err' in fields) return fields;
  const { error, ...rest } = fields;
  return { ...rest, err: error };
}

/** A copy of `value` in which every Error is plain data; cycles and runaway depth end in a placeholder. */
function plain(value: unknown, depth: number, seen: Set<object>): unknown {
  if (value instanceof Error) return errorAsObject(value, new Set());
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[cycle]';
  if (depth >= MAX_DEPTH) return '[too deep]';
  // Only arrays and plain objects are walked: anything else (a Date, a Buffer) keeps its own toJSON.
  const isArray = Array.isArray(value);
  if (!isArray && Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null)
    return value;
  seen.add(value);
  const copy = isArray
    ? value.map((item: unknown) => plain(item, depth + 1, seen))
    : Object.fromEntries(Object.entries(value).map(([key, item]) => [key, plain(item, depth + 1, seen)]));
  seen.delete(value);
  return copy;
}

/**
 * An error as plain data: name, message, code, stack and its causes, each in full. GraphQL wraps what
 * went wrong in `originalError`, so that is written as the cause (it is one in all but name).
 */
function errorAsObject(error: Error, seen: Set<Error>): Record<string, unknown> {
  seen.add(error);
  const extra = error as Error & {
    code?: unknown;
    detail?: unknown;
    path?: unknown;
    originalError?: unknown;
    errors?: unknown;
  };
  const cause = error.cause ?? extra.originalError ?? undefined;
  // GraphQLError copies its original's stack: write it once, with the original.
  const ownStack = cause instanceof Error && cause.stack === error.stack ? undefined : error.stack;
  return {
    name: error.name,
    message: error.message,
    ...(extra.code === undefined ? {} : { code: extra.code }),
    ...(typeof extra.detail === 'string' ? { detail: extra.detail } : {}),
    ...(Array.isArray(extra.path) ? { path: extra.path } : {}),
    ...(ownStack === undefined ? {} : { stack: ownStack }),
    ...(cause === undefined ? {} : { cause: causeAsData(cause, seen) }),
    ...(Array.isArray(extra.errors)
      ? { errors: extra.errors.slice(0, MAX_CHAIN).map((each: unknown) => causeAsData(each, seen)) }
      : {}),
  };
}

function causeAsData(cause: unknown, seen: Set<Error>): unknown {
  if (!(cause instanceof Error)) return cause;
  if (seen.has(cause)) return '[cycle]';
  if (seen.size >= MAX_CHAIN) return '[more causes not written]';
  return errorAsObject(cause, seen);
}
