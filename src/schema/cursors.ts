/**
 * The `predictions` connection's cursors: a row's position in the newest-first order (its creation
 * time, then its id), opaque to clients. A cursor not made here is refused as bad input.
 */
import type { PredictionPosition } from '../db/queries/listPredictions.ts';
import type { PredictionRow } from '../db/schema.ts';
import { isPredictionId } from '../predictions/service.ts';
import { badUserInput } from './errors.ts';

export function encodeCursor(row: PredictionRow): string {
  return Buffer.from(`${row.createdAt.toISOString()}|${row.id}`).toString('base64url');
}

export function decodeCursor(cursor: string, arg: string): PredictionPosition {
  const [at, id] = Buffer.from(cursor, 'base64url').toString().split('|');
  const createdAt = new Date(at ?? '');
  if (!id || !isPredictionId(id) || Number.isNaN(createdAt.getTime()))
    throw badUserInput(arg, 'is not a cursor from this connection');
  return { createdAt, id };
}
