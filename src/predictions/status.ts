import type { PredictionStatus } from '../db/schema.ts';

export const TERMINAL_STATUSES = ['SUCCEEDED', 'FAILED', 'CANCELED'] as const satisfies PredictionStatus[];

export function isTerminal(status: PredictionStatus): boolean {
  return (TERMINAL_STATUSES as readonly PredictionStatus[]).includes(status);
}
