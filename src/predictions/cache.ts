import type { PredictionRow } from '../db/schema.ts';

/**
 * Prediction rows by id, per process, for the read path. Every change to a row bumps its version and
 * sends a notice that every gateway hears (PredictionEvents): a notice drops the cached row unless it
 * is already that new, and a read that raced a notice is not cached older than what was announced.
 * So no process serves a version older than a change it was told of. A lost LISTEN connection
 * clears everything, as notices sent meanwhile are gone.
 */
export class PredictionCache {
  /** In least-recently-used order (a Map keeps insertion order). */
  readonly #rows = new Map<string, PredictionRow>();
  /** The newest version announced per id, so a slow read cannot put back an older row. */
  readonly #announced = new Map<string, number>();

  constructor(private readonly capacity = 10_000) {}

  get(id: string): PredictionRow | undefined {
    const row = this.#rows.get(id);
    if (row) {
      this.#rows.delete(id);
      this.#rows.set(id, row);
    }
    return row;
  }

  /** Keep a row just read, unless something newer is cached or has been announced. */
  offer(row: PredictionRow): void {
    if (row.version < (this.#announced.get(row.id) ?? 0)) return;
    const cached = this.#rows.get(row.id);
    if (cached && cached.version > row.version) return;
    this.#rows.delete(row.id);
    this.#rows.set(row.id, row);
    evictOldest(this.#rows, this.capacity);
  }

  /** A change to this row was announced. */
  announce(id: string, version: number): void {
    if (version > (this.#announced.get(id) ?? 0)) {
      this.#announced.delete(id);
      this.#announced.set(id, version);
      evictOldest(this.#announced, this.capacity);
    }
    const cached = this.#rows.get(id);
    if (cached && cached.version < version) this.#rows.delete(id);
  }

  /** Notices may have been missed: trust nothing cached. */
  clear(): void {
    this.#rows.clear();
  }
}

function evictOldest(map: Map<string, unknown>, capacity: number): void {
  while (map.size > capacity) map.delete(map.keys().next().value!);
}
