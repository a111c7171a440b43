import { eq } from 'drizzle-orm';
import type { Db } from '../database.ts';
import { predictions } from '../schema.ts';

/** Whether this job's outputs are to be copied before it is SUCCEEDED (fixed at submission); undefined if it is gone. */
export async function mirrorsOutputs(db: Db, id: string): Promise<boolean | undefined> {
  const [row] = await db
    .select({ mirrorOutputs: predictions.mirrorOutputs })
    .from(predictions)
    .where(eq(predictions.id, id));
  return row?.mirrorOutputs;
}
