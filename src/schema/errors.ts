import type { StandardSchemaV1 } from '@pothos/plugin-validation';
import { GraphQLError } from 'graphql';
import { ERROR_CODES, ErrorCode } from '../errorCodes.ts';
import type { AdmissionRefused } from '../predictions/admission.ts';
import type { SubmissionFailed } from '../predictions/generate.ts';

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
export function submissionError(failure: SubmissionFailed): GraphQLError {
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
export function refusedError(refusal: AdmissionRefused): GraphQLError {
  return new GraphQLError(refusal.message, { extensions: { code: refusal.code, ...refusal.details } });
}
