import type { PredictionStatus } from './generated/graphql.ts';

/** Apart from index.ts (which loads graphql), so the CLI can use them before it needs a client. */
export const TERMINAL_STATUSES: readonly PredictionStatus[] = ['SUCCEEDED', 'FAILED', 'CANCELED'];
export const isFinished = (prediction: { status: PredictionStatus }) => TERMINAL_STATUSES.includes(prediction.status);
