/** The rows of a raw `db.execute(sql…)`: postgres.js answers an array of them, PGlite an object holding `rows`. */
export function executedRows<Row>(result: unknown): Row[] {
  return (Array.isArray(result) ? result : (result as { rows: Row[] }).rows) as Row[];
}
