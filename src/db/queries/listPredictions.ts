import { and, asc, desc, eq, gt, inArray, lt, or, type SQL } from 'drizzle-orm';
import type { Mode, PredictionStatus } from '../../vocabulary.ts';
import type { Db } from '../database.ts';
import { type PredictionRow, predictions } from '../schema.ts';
import { type Viewer, visibleTo } from './visibility.ts';

/** A position in the newest-first order: (createdAt, id) is unique where createdAt alone is not. */
export interface PredictionPosition {
  createdAt: Date;
  id: string;
}

export interface ListPredictionsOptions {
  /** Only what this caller may see. */
  viewer: Viewer;
  statuses?: readonly PredictionStatus[];
  modes?: readonly Mode[];
  /** Only rows older than this position. */
  olderThan?: PredictionPosition;
  /** Only rows newer than this position. */
  newerThan?: PredictionPosition;
  limit: number;
  /** Oldest first instead of newest first (for paging backwards). */
  oldestFirst?: boolean;
}

export async function listPredictions(db: Db, options: ListPredictionsOptions): Promise<PredictionRow[]> {
  const { createdAt, id } = predictions;
  const conditions: (SQL | undefined)[] = [visibleTo(options.viewer)];
  if (options.statuses) {
    if (options.statuses.length === 0) return [];
    conditions.push(inArray(predictions.status, [...options.statuses]));
  }
  if (options.modes) {
    if (options.modes.length === 0) return [];
    conditions.push(inArray(predictions.mode, [...options.modes]));
  }
  if (options.olderThan) {
    const p = options.olderThan;
    conditions.push(or(lt(createdAt, p.createdAt), and(eq(createdAt, p.createdAt), lt(id, p.id)))!);
  }
  if (options.newerThan) {
    const p = options.newerThan;
    conditions.push(or(gt(createdAt, p.createdAt), and(eq(createdAt, p.createdAt), gt(id, p.id)))!);
  }
  const order = options.oldestFirst ? [asc(createdAt), asc(id)] : [desc(createdAt), desc(id)];
  return db
    .select()
    .from(predictions)
    .where(and(...conditions))
    .orderBy(...order)
    .limit(options.limit);
}
