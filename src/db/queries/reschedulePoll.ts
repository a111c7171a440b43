import { and, eq, isNotNull } from 'drizzle-orm';
import type { Db } from '../database.ts';
import { predictions } from '../schema.ts';

/**
 * Set when a prediction is next due for polling, and note the raw upstream word.
 * Not a visible change: no version bump, no notice.
 */
export async function reschedulePoll(
  db: Db,
  id: string,
  { nextPollAt, pollFailures, upstreamStatus }: { nextPollAt: Date; pollFailures: number; upstreamStatus?: string | null },
): Promise<void> {
  await db
    .update(predictions)
    .set({ nextPollAt, pollFailures, upstreamStatus })
    .where(and(eq(predictions.id, id), isNotNull(predictions.nextPollAt)));
}
