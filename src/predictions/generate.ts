import { randomUUID } from 'node:crypto';
import type { AtlasClient } from '../atlas/client.ts';
import { AtlasError } from '../atlas/errors.ts';
import type { VideoRequest } from '../atlas/happyhorse.ts';
import type { Db } from '../db/database.ts';
import { insertPrediction } from '../db/queries/insertPrediction.ts';
import { updatePrediction } from '../db/queries/updatePrediction.ts';
import type { PredictionRow } from '../db/schema.ts';
import type { Logger } from '../log.ts';
import { changeFromUpstream } from './observe.ts';

export interface GenerateDeps {
  db: Db;
  atlas: AtlasClient;
  log: Logger;
  pollIntervalMs: number;
  /** Longest a create call can take; a STARTING row older than this was abandoned by a crash. */
  upstreamTimeoutMs: number;
}

/** The submission failed; the prediction is stored as FAILED and `cause` says why. */
export class SubmissionFailed extends Error {
  constructor(
    readonly prediction: PredictionRow,
    override readonly cause: AtlasError,
  ) {
    super(cause.message);
  }
}

/**
 * Store the job first, then submit it upstream exactly once. If this process dies between the two,
 * the row's first poll comes due after the create call could have finished, and the poller ends it
 * as SUBMISSION_UNKNOWN rather than submitting again.
 */
export async function generateVideo(deps: GenerateDeps, request: VideoRequest): Promise<PredictionRow> {
  const { db, atlas, log } = deps;
  const stored = await insertPrediction(db, {
    id: randomUUID(),
    status: 'STARTING',
    ...request,
    seed: request.seed ?? null,
    nextPollAt: new Date(Date.now() + deps.upstreamTimeoutMs + 5_000),
  });

  let failure: AtlasError;
  try {
    const { prediction, requestId } = await atlas.createVideo(request);
    const now = new Date();
    const submitted = await updatePrediction(db, stored.id, {
      nextPollAt: new Date(now.getTime() + deps.pollIntervalMs),
      // Any running word, "starting" included, reads as PROCESSING: the job exists upstream now.
      ...changeFromUpstream(prediction, now),
      upstreamId: prediction.id,
      upstreamRequestId: requestId ?? null,
    });
    log.info('prediction submitted', { predictionId: stored.id, upstreamId: prediction.id, requestId });
    return submitted ?? stored;
  } catch (error) {
    failure =
      error instanceof AtlasError
        ? error
        : new AtlasError('SUBMISSION_UNKNOWN', 'The submission failed in an unexpected way; the job may have been created and billed');
    if (!(error instanceof AtlasError)) log.error('unexpected submission error', { predictionId: stored.id, error });
  }

  const failed = await updatePrediction(db, stored.id, {
    status: 'FAILED',
    errorCode: failure.code,
    error: failure.message,
    upstreamRequestId: failure.details.requestId ?? null,
    completedAt: new Date(),
    nextPollAt: null,
  });
  log.warn('prediction submission failed', { predictionId: stored.id, code: failure.code, requestId: failure.details.requestId });
  throw new SubmissionFailed(failed ?? stored, failure);
}
