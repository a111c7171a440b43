import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { GraphQLError, getNamedType, isIntrospectionType, type ValidationContext, type ValidationRule } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ErrorCode } from './errorCodes.ts';

/** Which of graphql-armor's limits a document broke; sent as `extensions.limit`. */
export type QueryLimit = 'tokens' | 'directives' | 'aliases' | 'cost' | 'depth';

/**
 * graphql-armor refuses documents that are too big or too costly, with an error that has no
 * `extensions.code` and a message that calls it a "Syntax Error". Each limit's onReject callback
 * throws our own error in its place: code QUERY_TOO_COMPLEX, the limit in `extensions.limit`.
 * (propagateOnRejection stays at its default, true: were a callback ever not to throw, armor
 * would still refuse the document, with its own error.)
 */
/** Above graphql-armor's default of 6; see below. */
export const MAX_DEPTH = 8;

export function queryLimits(): Plugin {
  const refuse =
    (limit: QueryLimit) =>
    (_context: ValidationContext | null, error: GraphQLError): never => {
      throw new GraphQLError(error.message.replace(/^Syntax Error: /, ''), {
        extensions: { code: ErrorCode.QUERY_TOO_COMPLEX, limit },
      });
    };
  return EnvelopArmorPlugin({
    maxTokens: { onReject: [refuse('tokens')] },
    maxDirectives: { onReject: [refuse('directives')] },
    maxAliases: { onReject: [refuse('aliases')] },
    costLimit: { onReject: [refuse('cost')] },
    // graphql-armor counts each fragment as a level: the client's own Predictions query (a list of
    // PredictionFields with media { role }) is 7 deep, so 8 leaves it one level to spare.
    maxDepth: { n: MAX_DEPTH, onReject: [refuse('depth')] },
  });
}

/**
 * Refuses `__schema` and `__type` (under any alias), like graphql-js' NoSchemaIntrospectionCustomRule
 * but with a code. `__typename` stays: clients such as urql ask for it.
 */
const noIntrospection: ValidationRule = (context) => ({
  Field(node) {
    const type = context.getType();
    if (type && isIntrospectionType(getNamedType(type))) {
      context.reportError(
        new GraphQLError(`Introspection is turned off on this gateway ("${node.name.value}" is not allowed)`, {
          nodes: node,
          extensions: { code: ErrorCode.INTROSPECTION_DISABLED },
        }),
      );
      return false; // once per field asked for, not again for everything under it
    }
    return undefined;
  },
});

/** Introspection off: the schema is published in the client package, so production need not serve it. */
export function disableIntrospection(): Plugin {
  return { onValidate: ({ addValidationRule }) => addValidationRule(noIntrospection) };
}
