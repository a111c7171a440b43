import type { StandardSchemaV1 } from '@pothos/plugin-validation';
import { GraphQLError } from 'graphql';
import { KeyAdminRefused } from '../auth/keyAdmin.ts';
import { Unauthenticated } from '../auth/principal.ts';
import { ERROR_CODES, ErrorCode } from '../errorCodes.ts';
import { AdmissionRefused } from '../predictions/admission.ts';
import { FieldsRefused, MediaHandoffFailed, SubmissionFailed, WebhookRefused } from '../predictions/generate.ts';
import { NothingToRedeliver, ShuttingDown } from '../predictions/service.ts';
import { UploadInputRefused, UploadLimitExceeded } from '../uploads/service.ts';

/**
 * The one mapping from the domain's errors to what GraphQL clients see, used by Yoga's maskError
 * (server.ts): resolvers and the context throw the domain's errors and catch none of them. An error
 * that is none of these is not expected: undefined here, then masked and logged in full.
 */
export function expectedGraphQLError(error: unknown): GraphQLError | undefined {
  // graphql-js hands maskError the error a resolver threw wrapped in one that says where it happened.
  const located = error instanceof GraphQLError ? error : undefined;
  const meant = graphqlErrorFor(located ? located.originalError : error);
  if (!meant || !located) return meant;
  return new GraphQLError(meant.message, {
    nodes: located.nodes,
    source: located.source,
    positions: located.positions,
    path: located.path,
    extensions: meant.extensions,
  });
}

function graphqlErrorFor(error: unknown): GraphQLError | undefined {
  if (error instanceof AdmissionRefused) return refusedError(error);
  if (error instanceof SubmissionFailed) return submissionError(error);
  if (error instanceof MediaHandoffFailed) {
    const { code, details } = error.cause;
    return new GraphQLError(error.message, {
      extensions: { code, ...(details.requestId ? { upstreamRequestId: details.requestId } : {}) },
    });
  }
  if (error instanceof FieldsRefused)
    return new GraphQLError(error.message, { extensions: { code: ErrorCode.BAD_USER_INPUT, issues: error.issues } });
  if (error instanceof WebhookRefused) return badUserInput(error.field, error.rule);
  if (error instanceof UploadInputRefused) return badUserInput(error.field, error.rule);
  if (error instanceof UploadLimitExceeded)
    return new GraphQLError(error.message, { extensions: { code: error.code, ...error.details } });
  // Only redeliverWebhook can find nothing to redeliver; its argument is predictionId.
  if (error instanceof NothingToRedeliver) return badUserInput('predictionId', error.message);
  if (error instanceof ShuttingDown)
    return new GraphQLError(error.message, { extensions: { code: ErrorCode.SHUTTING_DOWN } });
  if (error instanceof Unauthenticated) return unauthenticated(error.message);
  if (error instanceof KeyAdminRefused) return forbidden(error.message);
  return undefined;
}

/** Input that breaks a rule: one message naming each field and its rule, and the same as data. */
export function invalidInput(result: StandardSchemaV1.FailureResult): GraphQLError {
  const issues = result.issues.map((issue) => ({
    field: (issue.path ?? []).map((part) => (typeof part === 'object' ? String(part.key) : String(part))).join('.'),
    message: issue.message,
  }));
  return new GraphQLError(issues.map((issue) => `${issue.field || 'input'} ${issue.message}`).join('; '), {
    extensions: { code: ErrorCode.BAD_USER_INPUT, issues },
  });
}

export function badUserInput(field: string, message: string): GraphQLError {
  return new GraphQLError(`${field} ${message}`, {
    extensions: { code: ErrorCode.BAD_USER_INPUT, issues: [{ field, message }] },
  });
}

export function notFound(what: string): GraphQLError {
  return new GraphQLError(`${what} was not found`, { extensions: { code: ErrorCode.NOT_FOUND } });
}

/** The job is stored as FAILED; the error says why, and where to find the job. */
function submissionError(failure: SubmissionFailed): GraphQLError {
  return new GraphQLError(failure.message, {
    extensions: {
      code: failure.cause.code,
      predictionId: failure.prediction.id,
      ...(failure.cause.details.requestId ? { upstreamRequestId: failure.cause.details.requestId } : {}),
    },
  });
}

/** A credential was required or given and does not hold: refused before any operation runs. */
export function unauthenticated(reason: string): GraphQLError {
  return new GraphQLError(`Not authenticated: ${reason}`, {
    extensions: {
      code: ErrorCode.UNAUTHENTICATED,
      http: { status: ERROR_CODES.UNAUTHENTICATED.httpStatus, headers: { 'www-authenticate': 'Bearer' } },
    },
  });
}

export function forbidden(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: ErrorCode.FORBIDDEN } });
}

/** A limit or an idempotency key refused the submission; nothing was stored or sent. */
function refusedError(refusal: AdmissionRefused): GraphQLError {
  return new GraphQLError(refusal.message, { extensions: { code: refusal.code, ...refusal.details } });
}
