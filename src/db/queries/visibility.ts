import { and, eq, isNull, type SQL } from 'drizzle-orm';
import { predictions } from '../schema.ts';

/** Whose predictions a caller may see. */
export interface Viewer {
  id: string;
  tenantId: string | null;
  admin: boolean;
}

/**
 * The rows a caller may see: their own (within their tenant); a tenant admin sees the tenant's; a
 * global admin (no tenant) sees all. Undefined means no restriction.
 */
export function visibleTo(viewer: Viewer): SQL | undefined {
  const tenant = viewer.tenantId === null ? isNull(predictions.tenantId) : eq(predictions.tenantId, viewer.tenantId);
  if (viewer.admin) return viewer.tenantId === null ? undefined : tenant;
  return and(eq(predictions.ownerId, viewer.id), tenant);
}
