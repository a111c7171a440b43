/**
 * Helpers for tests of callers and their credentials: an identity provider's JWKS over real HTTP,
 * token signing, and GraphQL over POST, GET and SSE with an Authorization header.
 */
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { count, sql } from 'drizzle-orm';
import type { ExecutionResult } from 'graphql';
import { createClient } from 'graphql-sse';
import { exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';
import type { Db } from '../../src/db/database.ts';
import { executedRows } from '../../src/db/rows.ts';
import { predictions } from '../../src/db/schema.ts';

/** A caller's HS256 JWT for a gateway with AUTH_MODE=jwt and this AUTH_JWT_SECRET, valid for an hour. */
export function hs256Token(secret: string, sub: string): Promise<string> {
  return new SignJWT({ sub })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(secret));
}

export interface SigningKey {
  kid: string;
  alg: 'RS256' | 'ES256';
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** The public half as the JWKS publishes it. */
  jwk: JWK;
}

export async function newSigningKey(alg: 'RS256' | 'ES256', kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, publicKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

export interface TokenOptions {
  issuer?: string;
  audience?: string;
  /** Seconds from now; negative means already expired. Default one hour. */
  expiresIn?: number;
  /** Overrides the key's kid in the header (to sign under another key's kid). */
  kid?: string;
}

export function signToken(key: SigningKey, claims: JWTPayload, options: TokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  let jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, kid: options.kid ?? key.kid, typ: 'JWT' })
    .setIssuedAt(now - 60)
    .setExpirationTime(now + (options.expiresIn ?? 3600));
  if (options.issuer) jwt = jwt.setIssuer(options.issuer);
  if (options.audience) jwt = jwt.setAudience(options.audience);
  return jwt.sign(key.privateKey);
}

export const b64url = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** An `alg: none` token, written by hand as an attacker would: no signature at all. */
export function unsignedToken(header: Record<string, unknown>, claims: JWTPayload): string {
  return `${b64url({ alg: 'none', typ: 'JWT', ...header })}.${b64url(claims)}.`;
}

/** An identity provider's key set on 127.0.0.1, whose keys a test changes at will; it counts fetches. */
export class JwksServer {
  keys: JWK[] = [];
  fetches = 0;
  url = '';
  readonly #sockets = new Set<Socket>();
  readonly #server = createServer((req, res) => {
    if (req.url !== '/.well-known/jwks.json') {
      res.writeHead(404).end();
      return;
    }
    this.fetches++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: this.keys }));
  });

  static async start(keys: JWK[]): Promise<JwksServer> {
    const jwks = new JwksServer();
    jwks.keys = keys;
    jwks.#server.on('connection', (socket) => {
      jwks.#sockets.add(socket);
      socket.on('close', () => jwks.#sockets.delete(socket));
    });
    await new Promise<void>((resolve) => jwks.#server.listen(0, '127.0.0.1', resolve));
    jwks.url = `http://127.0.0.1:${(jwks.#server.address() as AddressInfo).port}/.well-known/jwks.json`;
    return jwks;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

export interface GraphQLError {
  message: string;
  extensions?: Record<string, unknown> & { code?: string };
}
export interface Reply<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: { data?: T | null; errors?: GraphQLError[] };
}

/** `Bearer <token>`, a whole header value (e.g. `Basic …`) when it has a space, or none. */
export function authHeaders(credential: string | undefined): Record<string, string> {
  if (credential === undefined) return {};
  return { authorization: credential.includes(' ') ? credential : `Bearer ${credential}` };
}

/** A GraphQL POST over the real socket. `body` may be a request body of the typed client (hash only). */
export async function post<T = Record<string, unknown>>(
  url: string,
  credential: string | undefined,
  query: string | object,
  variables?: Record<string, unknown>,
): Promise<Reply<T>> {
  const body = typeof query === 'string' ? { query, variables } : query;
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      ...authHeaders(credential),
    },
    body: JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: await response.json() };
}

/** A GraphQL GET over the real socket, with the CSRF header unless told otherwise. */
export async function get<T = Record<string, unknown>>(
  url: string,
  credential: string | undefined,
  query: string,
  variables?: Record<string, unknown>,
  { csrf = true }: { csrf?: boolean } = {},
): Promise<{ status: number; headers: Headers; text: string; body: Reply<T>['body'] | undefined }> {
  const params = new URLSearchParams({ query });
  if (variables) params.set('variables', JSON.stringify(variables));
  const response = await fetch(`${url}?${params}`, {
    headers: {
      accept: 'application/graphql-response+json, application/json',
      ...(csrf ? { 'x-graphql-csrf': '1' } : {}),
      ...authHeaders(credential),
    },
  });
  const text = await response.text();
  let body: Reply<T>['body'] | undefined;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response.status, headers: response.headers, text, body };
}

/**
 * Every event of a subscription over SSE (graphql-sse, a connection of its own), until it completes.
 * `request` is a document or a whole request body (a persisted hash).
 */
export async function subscribeAll<T = Record<string, unknown>>(
  url: string,
  credential: string | undefined,
  request: string | { query: string; variables?: Record<string, unknown>; extensions?: Record<string, unknown> },
  variables?: Record<string, unknown>,
): Promise<ExecutionResult<T>[]> {
  const client = createClient({ url, singleConnection: false, retryAttempts: 0, headers: authHeaders(credential) });
  const body = typeof request === 'string' ? { query: request, variables } : request;
  const seen: ExecutionResult<T>[] = [];
  try {
    for await (const event of client.iterate(body as { query: string })) {
      seen.push(event as ExecutionResult<T>);
      if (seen.length >= 100) break;
    }
  } finally {
    client.dispose();
  }
  return seen;
}

/** A raw SSE request, for what graphql-sse's client does not show (status, headers). */
export async function sseRaw(
  url: string,
  credential: string | undefined,
  body: object,
): Promise<{ status: number; text: string; headers: Headers }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...authHeaders(credential) },
    body: JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

export async function countPredictions(db: Db): Promise<number> {
  const [row] = await db.select({ n: count() }).from(predictions);
  return row?.n ?? 0;
}

/**
 * Every row of every table in the database (migrations' bookkeeping included), as JSON text, one
 * entry a row, each prefixed with its table: for checks that a secret is stored nowhere.
 */
export async function dumpDatabase(db: Db): Promise<{ tables: string[]; rows: string[] }> {
  const tables = executedRows<Record<string, string>>(
    await db.execute(
      sql`select table_schema as schema, table_name as name from information_schema.tables
          where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema') order by 1, 2`,
    ),
  ).map((table) => `${table.schema}.${table.name}`);
  const rows: string[] = [];
  for (const table of tables) {
    const [schema, name] = table.split('.') as [string, string];
    const result = await db.execute(
      sql`select row_to_json(t)::text as row from ${sql.identifier(schema)}.${sql.identifier(name)} t`,
    );
    for (const row of executedRows<Record<string, string>>(result)) rows.push(`${table}: ${row.row}`);
  }
  return { tables, rows };
}
