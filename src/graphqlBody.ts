import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';

/** The largest GraphQL request body taken: a query with its variables is a few KiB; 1 MiB is ample. */
export const MAX_GRAPHQL_BODY_BYTES = 1024 * 1024;

/** A Node request carrying its body already read, as body parsers leave it; Yoga's server adapter takes it as is. */
type WithBody = IncomingMessage & { body?: unknown };

/**
 * Reads a JSON POST to /graphql (at most MAX_GRAPHQL_BODY_BYTES) and leaves it parsed on `req.body`,
 * which Yoga's Node adapter hands to its JSON parser directly, as it does behind Express's body parser.
 * Why: otherwise Yoga limits the body by piping it through a web TransformStream, and that stream, its
 * pipeline and the AbortController it makes were the largest single cost of a small read. Anything that
 * is not a JSON object (invalid JSON, an array, a scalar) is handed on as it came, for Yoga to answer as
 * it always has. Answers 413 itself, and resolves false, for a body over the limit.
 */
export async function readGraphQLJsonBody(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<boolean> {
  const declared = Number(req.headers['content-length']);
  if (declared > MAX_GRAPHQL_BODY_BYTES) return tooLarge(req, res, requestId);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_GRAPHQL_BODY_BYTES) return tooLarge(req, res, requestId);
    chunks.push(chunk);
  }
  const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  // Not an object: the bytes again, as a stream (a string would cost the adapter a key per character).
  (req as WithBody).body = parsedObject(bytes.toString()) ?? Readable.from([bytes]);
  return true;
}

/** Only a POST whose body Yoga would read as JSON; GET, multipart and the rest go to Yoga untouched. */
export function isGraphQLJsonPost(req: IncomingMessage): boolean {
  return req.method === 'POST' && (req.headers['content-type']?.startsWith('application/json') ?? false);
}

function parsedObject(text: string): object | undefined {
  try {
    const value: unknown = JSON.parse(text);
    // The adapter takes a parsed body only when it is an object with keys (`{}` would look like none).
    return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length > 0 ? value : undefined;
  } catch {
    return undefined;
  }
}

function tooLarge(req: IncomingMessage, res: ServerResponse, requestId: string): false {
  const message = `Request body too large: at most ${MAX_GRAPHQL_BODY_BYTES} bytes`;
  // The rest of the body is discarded as it comes, and the connection closed after the answer.
  res.writeHead(413, { 'content-type': 'application/json; charset=utf-8', connection: 'close' });
  res.end(JSON.stringify({ errors: [{ message, extensions: { code: 'REQUEST_ENTITY_TOO_LARGE', requestId } }] }));
  req.resume();
  return false;
}
