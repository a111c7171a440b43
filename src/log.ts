import { SecretRedactor } from './redact.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

export interface LoggerOptions {
  /**
   * Text that must never be written (the API key), redacted from every string of every line in any
   * spelling SecretRedactor knows. A last line of defence: upstream text is redacted where it is read.
   */
  secrets?: readonly string[];
}

const rank: Record<LogLevel | 'silent', number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

/** How many errors of one chain (causes, and GraphQL's originalError) are written; a cycle ends it too. */
const MAX_CHAIN = 8;

/** JSON lines, one per event. Nothing here ever receives a request header, so no secret can reach it. */
export function createLogger(
  level: LogLevel | 'silent' = 'info',
  write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  options: LoggerOptions = {},
): Logger {
  const redactors = (options.secrets ?? []).filter(Boolean).map((secret) => new SecretRedactor(secret));
  const replacer = function (this: Record<string, unknown>, key: string, value: unknown) {
    // `this[key]`, not `value`: JSON.stringify hands over toJSON()'s result, and GraphQLError's
    // toJSON keeps only what a client may see.
    const raw = this[key];
    if (raw instanceof Error) return errorAsObject(raw, new Set());
    if (typeof value === 'string') return redactors.reduce((text, redactor) => redactor.redact(text), value);
    return value;
  };
  const emit = (at: LogLevel) => (msg: string, fields?: LogFields) => {
    if (rank[at] < rank[level]) return;
    const time = new Date().toISOString();
    let line: string;
    try {
      line = JSON.stringify({ time, level: at, msg, ...fields }, replacer);
    } catch (error) {
      // A field JSON cannot hold (a BigInt, a cycle) must not cost the event itself.
      line = JSON.stringify({ time, level: at, msg, unserializable: String(error) }, replacer);
    }
    write(line);
  };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
}

/**
 * An error as plain data: name, message, code, stack and its causes, each in full. GraphQL wraps what
 * went wrong in `originalError`, so that is written as the cause (it is one in all but name).
 */
function errorAsObject(error: Error, seen: Set<Error>): Record<string, unknown> {
  seen.add(error);
  const extra = error as Error & { code?: unknown; detail?: unknown; path?: unknown; originalError?: unknown; errors?: unknown };
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
    ...(Array.isArray(extra.errors) ? { errors: extra.errors.slice(0, MAX_CHAIN).map((each: unknown) => causeAsData(each, seen)) } : {}),
  };
}

function causeAsData(cause: unknown, seen: Set<Error>): unknown {
  if (!(cause instanceof Error)) return cause;
  if (seen.has(cause)) return '[cycle]';
  if (seen.size >= MAX_CHAIN) return '[more causes not written]';
  return errorAsObject(cause, seen);
}
