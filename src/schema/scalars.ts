import { GraphQLError, Kind } from 'graphql';
import { builder } from './builder.ts';

function parseDate(value: unknown): Date {
  const date = typeof value === 'string' ? new Date(value) : undefined;
  if (!date || Number.isNaN(date.getTime())) throw new GraphQLError('DateTime must be an ISO-8601 string');
  return date;
}

builder.scalarType('DateTime', {
  description: 'An instant as an ISO-8601 string in UTC, e.g. 2026-01-31T12:00:00.000Z',
  serialize: (value) => value.toISOString(),
  parseValue: parseDate,
  parseLiteral: (ast) => parseDate(ast.kind === Kind.STRING ? ast.value : undefined),
});
