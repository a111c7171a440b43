import { isDatabaseUnavailable } from '../db/unavailable.ts';
import { LOOP_QUERY_DEADLINE_MS } from './leasedWrite.ts';

/**
 * A loop counts as stuck after this many of its intervals without a completed cycle, and never
 * sooner than two of its database calls' deadlines: one slow call on a busy database is not trouble.
 */
const INTERVALS_BEFORE_STALE = 3;
const MIN_STALE_MS = 2 * LOOP_QUERY_DEADLINE_MS;

export interface Loop {
  /** A cycle completed: the loop reached the database and did its work (or had none to do). */
  completed(): void;
  /**
   * A cycle failed. When the database could not be reached the loop is waiting for it, not stuck:
   * /ready says so from its own check, and the loop gets a fresh allowance from here, so it is not
   * reported the moment the database is back, before it could run.
   */
  failed(error: unknown): void;
}

/**
 * The background loops of this process (poller, copier, webhook dispatcher), each with the time it
 * last completed a cycle. /ready names a loop that has not completed one within a few of its
 * intervals: the process may answer requests while its jobs are not being followed.
 */
export class LoopHealth {
  readonly #loops = new Map<string, { intervalMs: number; completedAt: number; cycles: number }>();

  constructor(private readonly clock: () => number = Date.now) {}

  /** `intervalMs`: how often the loop runs a cycle when all is well. */
  register(name: string, intervalMs: number): Loop {
    const loop = { intervalMs, completedAt: this.clock(), cycles: 0 };
    this.#loops.set(name, loop);
    return {
      completed: () => {
        loop.completedAt = this.clock();
        loop.cycles++;
      },
      failed: (error) => {
        if (isDatabaseUnavailable(error)) loop.completedAt = this.clock();
      },
    };
  }

  /** Cycles the named loop has completed so far (0 for a loop not running here). */
  cycles(name: string): number {
    return this.#loops.get(name)?.cycles ?? 0;
  }

  /** Each loop's time since it last completed a cycle, and how long until it counts as stuck (for /metrics). */
  ages(): Array<{ name: string; sinceCycleMs: number; staleAfterMs: number }> {
    const now = this.clock();
    return [...this.#loops].map(([name, { intervalMs, completedAt }]) => ({
      name,
      sinceCycleMs: Math.max(0, now - completedAt),
      staleAfterMs: staleAfter(intervalMs),
    }));
  }

  /** Each stuck loop, as "name: no cycle completed in N s". */
  stuck(): string[] {
    const now = this.clock();
    const stuck: string[] = [];
    for (const [name, { intervalMs, completedAt }] of this.#loops) {
      if (now - completedAt > staleAfter(intervalMs))
        stuck.push(`${name}: no cycle completed in ${Math.round((now - completedAt) / 1000)} s`);
    }
    return stuck;
  }
}

const staleAfter = (intervalMs: number) => Math.max(MIN_STALE_MS, INTERVALS_BEFORE_STALE * intervalMs);
