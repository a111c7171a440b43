import { GraphQLError } from 'graphql';

/**
 * The same error with other extensions: a copy, as Yoga caches validation errors per document and
 * the same object may answer other requests.
 */
export function withExtensions(error: GraphQLError, extensions: GraphQLError['extensions']): GraphQLError {
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions,
  });
}
