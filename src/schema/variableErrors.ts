import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ErrorCode } from '../errorCodes.ts';

// graphql-js words variable coercion errors like:
//   Variable "$input" got invalid value 2.5 at "input.duration"; Int cannot represent non-integer value: 2.5
//   Variable "$input" got invalid value {...}; Field "prompt" of required type "String!" was not provided.
const INVALID_VARIABLE = /^Variable "\$(\w+)" got invalid value .*?(?: at "([^"]+)")?; ([\s\S]*)$/;
const MISSING_FIELD = /^Field "(\w+)" of required type "[^"]+" was not provided\.$/;
//   Variable "$id" of required type "ID!" was not provided.
const MISSING_VARIABLE = /^Variable "\$(\w+)" of required type "[^"]+" was not provided\.$/;

/**
 * A variable that GraphQL itself refuses (2.5 for an Int, an unknown enum value, a missing field) is
 * bad user input like any other: give it the same code and the same `issues`, naming the field.
 */
export function useVariableErrorsAsBadInput(): Plugin {
  return {
    onExecute: () => ({
      onExecuteDone({ result, setResult }) {
        if (!('errors' in result) || !result.errors?.length) return;
        setResult({ ...result, errors: result.errors.map(asBadUserInput) });
      },
    }),
    // A subscription's variables are coerced before any event: the refusal is its one result.
    onSubscribe: () => ({
      onSubscribeResult({ result, setResult }) {
        if (!('errors' in result) || !result.errors?.length) return;
        setResult({ ...result, errors: result.errors.map(asBadUserInput) });
      },
    }),
  };
}

function asBadUserInput(error: GraphQLError): GraphQLError {
  // Ours already name the field; Yoga marks some of graphql-js' own BAD_USER_INPUT without naming it.
  if (error.extensions.issues || (error.extensions.code && error.extensions.code !== ErrorCode.BAD_USER_INPUT))
    return error;
  const missingVariable = MISSING_VARIABLE.exec(error.message);
  if (missingVariable) {
    const field = missingVariable[1]!;
    return new GraphQLError(`${field} is required`, {
      nodes: error.nodes,
      extensions: { code: ErrorCode.BAD_USER_INPUT, issues: [{ field, message: 'is required' }] },
    });
  }
  const match = INVALID_VARIABLE.exec(error.message);
  if (!match) return error;
  const [, variable = '', at, reason = ''] = match;
  const missing = MISSING_FIELD.exec(reason);
  const field = missing ? `${at ?? variable}.${missing[1]}` : (at ?? variable);
  const message = missing ? 'is required' : reason;
  return new GraphQLError(`${field} ${message}`, {
    nodes: error.nodes,
    extensions: { code: ErrorCode.BAD_USER_INPUT, issues: [{ field, message }] },
  });
}
