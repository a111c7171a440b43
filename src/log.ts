export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

const rank: Record<LogLevel | 'silent', number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

/** JSON lines, one per event. Nothing here ever receives a request header, so no secret can reach it. */
export function createLogger(
  level: LogLevel | 'silent' = 'info',
  write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): Logger {
  const emit = (at: LogLevel) => (msg: string, fields?: LogFields) => {
    if (rank[at] < rank[level]) return;
    write(JSON.stringify({ time: new Date().toISOString(), level: at, msg, ...fields }, errorsAsObjects));
  };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
}

function errorsAsObjects(_key: string, value: unknown) {
  if (!(value instanceof Error)) return value;
  const { code } = value as { code?: unknown };
  // `cause` goes through this replacer again, so a chain of causes is kept whole.
  return { name: value.name, message: value.message, ...(code === undefined ? {} : { code }), ...(value.cause ? { cause: value.cause } : {}) };
}
