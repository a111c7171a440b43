import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import { GraphQLError } from 'graphql';
import { z } from 'zod';
import { ErrorCode } from './errorCodes.ts';
import { manifest } from './persistedManifest.ts';

const refusals = {
  persistedQueryOnly: {
    message: 'This gateway runs only persisted operations: send the hash of a document from its manifest',
    extensions: { code: ErrorCode.PERSISTED_QUERY_ONLY },
  },
  notFound: {
    message: 'No persisted operation has this hash',
    extensions: { code: ErrorCode.PERSISTED_QUERY_NOT_FOUND },
  },
  keyNotFound: {
    message: 'This gateway runs only persisted operations: the request names no document hash',
    extensions: { code: ErrorCode.PERSISTED_QUERY_ONLY },
  },
} as const;

/** A request with neither a document nor a hash, where documents are welcome: it is simply malformed. */
const noQuery = {
  message: 'The request carries neither a query nor the hash of a persisted document',
  extensions: { code: ErrorCode.BAD_REQUEST },
} as const;

/** The plugin's errors in each mode, made once. */
const REFUSALS_IN = { open: { ...refusals, keyNotFound: noQuery }, only: refusals } as const;

/**
 * Hashes from the manifest are always accepted. With `only`, nothing else runs, on every endpoint and
 * transport (SSE subscriptions go through the same Yoga pipeline, so the same check applies; WebSocket
 * does not, and uses `persistedDocumentOf` below).
 */
export function persistedOperations(mode: 'open' | 'only') {
  return usePersistedOperations({
    getPersistedOperation: (hash) => manifest[hash] ?? null,
    allowArbitraryOperations: mode === 'open',
    customErrors: REFUSALS_IN[mode],
  });
}

/** Where the plugin's default reads the hash from (Apollo's APQ shape, which the typed client sends). */
const persistedQueryExtension = z.object({
  persistedQuery: z.object({ version: z.literal(1), sha256Hash: z.string() }),
});

export interface OperationParams {
  query?: string | null | undefined;
  extensions?: Record<string, unknown> | null | undefined;
}

/**
 * The document a request runs, by the same rules as the Yoga plugin above: a document is run only in
 * `open` mode, otherwise the hash in `extensions.persistedQuery.sha256Hash` must name one in the
 * manifest. For transports that bypass Yoga's `onParams` hook (graphql-ws runs through
 * `yoga.getEnveloped`, which has no such hook). Throws the plugin's errors.
 */
export function persistedDocumentOf(mode: 'open' | 'only', params: OperationParams): string {
  if (params.query) {
    if (mode === 'only')
      throw new GraphQLError(refusals.persistedQueryOnly.message, {
        extensions: refusals.persistedQueryOnly.extensions,
      });
    return params.query;
  }
  const hash = persistedQueryExtension.safeParse(params.extensions).data?.persistedQuery.sha256Hash;
  const { keyNotFound } = REFUSALS_IN[mode];
  if (hash === undefined) throw new GraphQLError(keyNotFound.message, { extensions: keyNotFound.extensions });
  const document = manifest[hash];
  if (document === undefined)
    throw new GraphQLError(refusals.notFound.message, { extensions: refusals.notFound.extensions });
  return document;
}
