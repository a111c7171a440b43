import { readFileSync } from 'node:fs';
import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import { z } from 'zod';

/** The manifest codegen writes next to the typed client: hash -> document. */
const manifest = z
  .record(z.string(), z.string())
  .parse(JSON.parse(readFileSync(new URL('./client/generated/persisted-documents.json', import.meta.url), 'utf8')));

/**
 * Hashes from the manifest are always accepted. With `only`, nothing else runs, on every endpoint and
 * transport (SSE subscriptions go through the same Yoga pipeline, so the same check applies).
 */
export function persistedOperations(mode: 'open' | 'only') {
  return usePersistedOperations({
    getPersistedOperation: (hash) => manifest[hash] ?? null,
    allowArbitraryOperations: mode === 'open',
    customErrors: {
      persistedQueryOnly: {
        message: 'This gateway runs only persisted operations: send the hash of a document from its manifest',
        extensions: { code: 'PERSISTED_QUERY_ONLY' },
      },
      notFound: {
        message: 'No persisted operation has this hash',
        extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' },
      },
      keyNotFound: {
        message: 'This gateway runs only persisted operations: the request names no document hash',
        extensions: { code: 'PERSISTED_QUERY_ONLY' },
      },
    },
  });
}
