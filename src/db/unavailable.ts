/** postgres.js codes for a connection that failed or went away, and Node's socket errors under them. */
const CONNECTION_CODES = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  // SQLSTATE: admin/crash shutdown, cannot connect now, too many connections, read-only after failover.
  '57P01',
  '57P02',
  '57P03',
  '53300',
  '25006',
]);

/** Whether an error, or anything in its cause chain (AggregateErrors included), carries a code that `matches`. */
function hasCode(error: unknown, matches: (code: string) => boolean): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 8; current = current.cause, depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && matches(code)) return true;
    if (current instanceof AggregateError && current.errors.some((inner) => hasCode(inner, matches))) return true;
  }
  return false;
}

/**
 * Whether an error (or anything in its cause chain) means the database could not be reached, as
 * opposed to a query that is wrong: the first is worth retrying, the second is a bug.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  // SQLSTATE class 08: connection exception.
  return hasCode(error, (code) => CONNECTION_CODES.has(code) || code.startsWith('08'));
}

/** Codes for a connection that was open and has just been lost, as opposed to one that cannot be made. */
const CUT_CODES = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'ECONNRESET',
  'EPIPE',
  '57P01',
  '57P02',
]);

/**
 * Whether an error means the connection the query went out on was cut (the server ended it, or the
 * socket died): a pool may have several such connections left to hand out before it notices, while a
 * new one would work.
 */
export function isConnectionCut(error: unknown): boolean {
  return hasCode(error, (code) => CUT_CODES.has(code));
}
