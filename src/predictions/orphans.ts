import type { PolledRow } from '../db/queries/claimDuePredictions.ts';
import { ErrorCode } from '../errorCodes.ts';
import type { PredictionChange } from './transitions.ts';

/**
 * What the poller does with a stored job that has no upstream id and whose submitter is gone (killed
 * mid-create): it may or may not have reached Atlas, and without an id there is nothing to ask.
 *
 * With an Atlas webhook token on the row (PUBLIC_URL was set), Atlas calls back for the job if it
 * made it, naming its id (atlas/webhooks/receiver.ts adopts it): so the job waits, unpolled, until
 * its deadline (`waitUntil`, one millisecond past it, so that look ends it). Without a token, or
 * once the deadline has passed, it ends FAILED SUBMISSION_UNKNOWN, charged (Atlas may have billed it).
 */
export function orphanedSubmission(
  row: Pick<PolledRow, 'hasAtlasWebhook'>,
  deadline: Date,
  now: number,
): { waitUntil: Date } | { failure: PredictionChange } {
  if (row.hasAtlasWebhook && now <= deadline.getTime()) return { waitUntil: new Date(deadline.getTime() + 1) };
  return {
    failure: {
      status: 'FAILED',
      errorCode: ErrorCode.SUBMISSION_UNKNOWN,
      error: row.hasAtlasWebhook
        ? 'The gateway stopped while submitting this job, and Atlas Cloud did not report it before its deadline; it may have been created and billed upstream'
        : 'The gateway stopped while submitting this job; it may have been created and billed upstream',
    },
  };
}
