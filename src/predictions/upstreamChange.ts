import type { UpstreamPrediction } from '../atlas/replies.ts';
import type { PredictionRow } from '../db/schema.ts';
import { ErrorCode, upstreamErrorCode } from '../errorCodes.ts';
import type { PredictionChange } from './transitions.ts';

/** Atlas' numeric error codes that mean something to our users; others are passed on as UPSTREAM_<code>. */
const CODES_OF_ATLAS_CODES: Readonly<Record<string, ErrorCode>> = { '1039': ErrorCode.CONTENT_POLICY };

/**
 * What an upstream reading means for our row. Running words (and unknown ones) keep the job
 * PROCESSING; "done" without a video URL is a failure, not a success.
 */
export function changeFromUpstream(upstream: UpstreamPrediction, now: Date): PredictionChange {
  const common = { upstreamStatus: upstream.rawStatus, predictTime: upstream.predictTime };
  const finished = { completedAt: upstream.completedAt ?? now, nextPollAt: null };
  switch (upstream.state) {
    case 'running':
    case 'unknown':
      return { ...common, status: 'PROCESSING' };
    case 'succeeded':
      if (upstream.outputs.length === 0) {
        return {
          ...common,
          ...finished,
          status: 'FAILED',
          errorCode: ErrorCode.NO_OUTPUT,
          // "Usable": URLs that are not http(s), or that carried our key, were dropped on reading.
          error: 'Atlas Cloud reported the job done but gave no usable video URL',
        };
      }
      return { ...common, ...finished, status: 'SUCCEEDED', outputs: upstream.outputs };
    case 'failed':
      return {
        ...common,
        ...finished,
        status: 'FAILED',
        errorCode: upstream.errorCode
          ? (CODES_OF_ATLAS_CODES[upstream.errorCode] ?? upstreamErrorCode(upstream.errorCode))
          : ErrorCode.UPSTREAM_FAILED,
        error: upstream.error ?? 'Atlas Cloud reported the job failed',
      };
    case 'timed_out':
      return {
        ...common,
        ...finished,
        status: 'FAILED',
        errorCode: ErrorCode.UPSTREAM_TIMED_OUT,
        error: upstream.error ?? 'Atlas Cloud gave up on the job',
      };
    case 'canceled':
      return { ...common, ...finished, status: 'CANCELED', error: upstream.error };
  }
}

/** Whether applying `change` would show clients anything new (the raw upstream word is not shown). */
export function isVisibleChange(
  row: Pick<PredictionRow, 'status' | 'predictTime' | 'outputs'>,
  change: PredictionChange,
): boolean {
  return (
    (change.status !== undefined && change.status !== row.status) ||
    (change.predictTime !== undefined && change.predictTime !== row.predictTime) ||
    (change.outputs !== undefined && change.outputs.join('\n') !== row.outputs.join('\n'))
  );
}
