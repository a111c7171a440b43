import { sql } from 'drizzle-orm';
import { predictions } from '../schema.ts';

/**
 * The SET of a visible change to a prediction: its columns, its cost when the change fixes it (the
 * price, or nothing), and the version bump subscribers order changes by.
 */
export function visibleChange<T extends object>(write: T, charged: boolean | undefined) {
  return {
    ...write,
    ...(charged === undefined ? {} : { costUsd: charged ? sql`${predictions.priceUsd}` : 0 }),
    updatedAt: new Date(),
    version: sql`${predictions.version} + 1`,
  };
}
