import { and, eq, inArray } from 'drizzle-orm';
import type { Db } from '../database.ts';
import { type NewPredictionRow, type PredictionRow, predictions } from '../schema.ts';
import { COPYABLE_STATUSES } from './claimMirrors.ts';
import { visibleChange } from './visibleChange.ts';

/** The columns a copy's outcome may write (the rules are the domain's: predictions/transitions.ts). */
export type CopyWrite = Partial<
  Pick<
    NewPredictionRow,
    | 'status'
    | 'outputs'
    | 'completedAt'
    | 'outputFiles'
    | 'mirroredAt'
    | 'mirrorError'
    | 'mirrorAttempts'
    | 'mirrorNextAt'
  >
> & {
  /** Fix what the job cost: its price (true) or nothing (false); left as it is when absent. */
  charged?: boolean;
};

/**
 * Write a copy's outcome, fenced by the copy lease (the mirror_next_at its claim wrote) while the job
 * is waiting for its copy or has succeeded, with a version bump. Undefined, and nothing written, when
 * another gateway has the copy now (or the job was cancelled meanwhile). Announcing the change is the
 * caller's, in the same transaction (announcePredictionChange).
 */
export async function updateUnderCopyLease(
  tx: Db,
  id: string,
  lease: Date,
  { charged, ...write }: CopyWrite,
): Promise<PredictionRow | undefined> {
  const [row] = await tx
    .update(predictions)
    .set(visibleChange(write, charged))
    .where(
      and(eq(predictions.id, id), eq(predictions.mirrorNextAt, lease), inArray(predictions.status, COPYABLE_STATUSES)),
    )
    .returning();
  return row;
}
