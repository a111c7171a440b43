import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { ExecutionResult, GraphQLError } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import { ERROR_CODES, ErrorCode } from './errorCodes.ts';
import { errorBody } from './http/routes.ts';
import { withExtensions } from './schema/copyError.ts';

/** The largest GraphQL request body taken: a query with its variables is a few KiB; 1 MiB is ample. */
export const MAX_GRAPHQL_BODY_BYTES = 1024 * 1024;

/**
 * How much of a refused body is still read (and dropped) so that the client gets its 413 rather than
 * a reset connection; past this, the connection is cut. Reading costs bandwidth only, nothing is kept,
 * and the server's request timeout bounds the time.
 */
export const MAX_DISCARDED_BODY_BYTES = 64 * 1024 * 1024;

/** A Node request carrying its body already read, as body parsers leave it; Yoga's server adapter takes it as is. */
type WithBody = IncomingMessage & { body?: unknown };

/**
 * Reads a JSON POST to /graphql (at most MAX_GRAPHQL_BODY_BYTES) and leaves it parsed on `req.body`,
 * which Yoga's Node adapter hands to its JSON parser directly, as it does behind Express's body parser.
 * Why: otherwise Yoga limits the body by piping it through a web TransformStream, and that stream, its
 * pipeline and the AbortController it makes were the largest single cost of a small read. Anything that
 * is not a JSON object (invalid JSON, an array, a scalar) is handed on as it came, for Yoga to answer as
 * it always has. Answers 413 itself, and resolves false, for a body over the limit. Rejects when the
 * client goes away before the body is in (`req.destroyed` is then true).
 */
export async function readGraphQLJsonBody(
  req: IncomingMessage,
  res: ServerResponse,
  requestId: string,
): Promise<boolean> {
  const declared = Number(req.headers['content-length']);
  if (declared > MAX_GRAPHQL_BODY_BYTES) return tooLarge(req, res, requestId);
  const bytes = await readAtMost(req, MAX_GRAPHQL_BODY_BYTES);
  if (!bytes) return tooLarge(req, res, requestId);
  // Not an object: the bytes again, as a stream (a string would cost the adapter a key per character).
  (req as WithBody).body = parsedObject(bytes.toString()) ?? Readable.from([bytes]);
  return true;
}

/** Only a POST whose body Yoga would read as JSON; GET, multipart and the rest go to Yoga untouched. */
export function isGraphQLJsonPost(req: IncomingMessage): boolean {
  return req.method === 'POST' && (req.headers['content-type']?.startsWith('application/json') ?? false);
}

/**
 * The whole body, or undefined as soon as it passes `limit` bytes, the rest left unread (paused).
 * Listeners rather than `for await`: leaving such a loop early destroys the request, and its socket
 * with it, before any answer is out.
 */
function readAtMost(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onGone);
      req.off('close', onGone);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      stop();
      req.pause();
      resolve(undefined);
    };
    const onEnd = () => {
      stop();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    // 'close' before 'end': the client went away mid-body ('error' comes first when it reset).
    const onGone = (error?: Error) => {
      stop();
      reject(error ?? new Error('the client closed the connection before its whole body was in'));
    };
    req.on('data', onData).on('end', onEnd).on('error', onGone).on('close', onGone);
  });
}

function parsedObject(text: string): object | undefined {
  try {
    const value: unknown = JSON.parse(text);
    // The adapter takes a parsed body only when it is an object with keys (`{}` would look like none).
    return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length > 0
      ? value
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * 413, written at once; the connection closes once the client has sent the rest, which is read and
 * dropped. Why not close at once: closing a socket with unread bytes in it makes the kernel reset the
 * connection, and a client still sending (fetch, most HTTP libraries) then sees ECONNRESET or EPIPE
 * instead of this answer. A body declared, or found, larger than MAX_DISCARDED_BODY_BYTES is not worth
 * reading: the connection is closed after the answer regardless.
 */
function tooLarge(req: IncomingMessage, res: ServerResponse, requestId: string): false {
  const body = errorBody(
    `Request body too large: at most ${MAX_GRAPHQL_BODY_BYTES} bytes`,
    ErrorCode.REQUEST_ENTITY_TOO_LARGE,
    requestId,
  );
  res.writeHead(ERROR_CODES.REQUEST_ENTITY_TOO_LARGE.httpStatus, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    connection: 'close',
  });
  if (req.complete || Number(req.headers['content-length']) > MAX_DISCARDED_BODY_BYTES) {
    res.end(body);
    req.resume();
    return false;
  }
  // The whole answer goes out now (a client reading while it sends can stop early); ending the
  // response, which closes the connection, waits for the end of the body.
  res.write(body);
  let discarded = 0;
  const discard = (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded <= MAX_DISCARDED_BODY_BYTES) return;
    req.off('data', discard);
    res.end();
  };
  req.on('data', discard);
  req.once('end', () => res.end());
  req.once('close', () => res.end()); // the client went away: nothing more to wait for
  req.resume();
  return false;
}

/**
 * Yoga answers a malformed JSON body with its parser's own error in `extensions.originalError` (the
 * name and message of the SyntaxError, which quotes the body back). In production the answer says
 * only "POST body sent invalid JSON.", with no parser text and none of the body. Development keeps
 * the details: they say where the JSON broke.
 */
export function withoutParserDetails(): Plugin {
  return {
    onResultProcess({ result, setResult }) {
      if (Array.isArray(result) || isAsyncIterable(result)) return;
      const errors = (result as ExecutionResult).errors;
      if (!errors?.some((error) => error.extensions?.originalError !== undefined)) return;
      setResult({ ...(result as ExecutionResult), errors: errors.map(withoutOriginalError) });
    },
  };
}

function withoutOriginalError(error: GraphQLError): GraphQLError {
  if (error.extensions?.originalError === undefined) return error;
  const { originalError: _parserError, ...extensions } = error.extensions;
  return withExtensions(error, extensions);
}
