import type { VideoRequest } from '../atlas/happyhorse.ts';
import type { Config } from '../config.ts';
import { ErrorCode } from '../errorCodes.ts';

export type Prices = Config['prices'];

/** What a job costs if charged: per second for its resolution when that price is set, else per run. */
export function priceOf(request: Pick<VideoRequest, 'resolution' | 'duration'>, prices: Prices): number {
  const perSecond = prices.perSecondUsd[request.resolution];
  return roundUsd(perSecond === undefined ? prices.perRunUsd : perSecond * request.duration);
}

/**
 * Whether a finished job counts as paid: it succeeded, or Atlas may have run and billed it without
 * us seeing the end (a lost submission answer; our own deadline passed while it ran; a cancel, which
 * Atlas does not have). Jobs Atlas refused or failed are not charged.
 */
export function isCharged(status: string, errorCode: string | null | undefined): boolean {
  return (
    status === 'SUCCEEDED' ||
    status === 'CANCELED' ||
    (status === 'FAILED' && (errorCode === ErrorCode.SUBMISSION_UNKNOWN || errorCode === ErrorCode.TIMED_OUT))
  );
}

export const roundUsd = (usd: number) => Math.round(usd * 1e6) / 1e6;
