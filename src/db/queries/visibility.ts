import { and, eq, isNull, type SQL } from 'drizzle-orm';
import { type PredictionRow, predictions } from '../schema.ts';

/** Whose predictions a caller may see. */
export interface Viewer {
  id: string;
  tenantId: string | null;
  admin: boolean;
}

/**
 * A caller's own rows: the same subject in another tenant is another caller (their jobs, limits and
 * idempotency keys are apart).
 */
export function ownedBy(caller: Pick<Viewer, 'id' | 'tenantId'>): SQL {
  return and(eq(predictions.ownerId, caller.id), inTenant(caller.tenantId))!;
}

function inTenant(tenantId: string | null): SQL {
  return tenantId === null ? isNull(predictions.tenantId) : eq(predictions.tenantId, tenantId);
}

/**
 * The rows a caller may see: their own; a tenant admin sees the tenant's; a global admin (no
 * tenant) sees all. Undefined means no restriction.
 */
export function visibleTo(viewer: Viewer): SQL | undefined {
  if (viewer.admin) return viewer.tenantId === null ? undefined : inTenant(viewer.tenantId);
  return ownedBy(viewer);
}

/** visibleTo, for one row already read: the same rule, in memory. */
export function canSee(viewer: Viewer, row: Pick<PredictionRow, 'ownerId' | 'tenantId'>): boolean {
  if (viewer.admin) return viewer.tenantId === null || row.tenantId === viewer.tenantId;
  return row.ownerId === viewer.id && row.tenantId === viewer.tenantId;
}
