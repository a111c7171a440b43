/** The repeats of a running job's state for `predictionUpdated(progress: true)` (src/schema/progressTicks.ts). */
import { describe, expect, it } from 'vitest';
import type { PredictionRow } from '../src/db/schema.ts';
import { withProgressTicks } from '../src/schema/progressTicks.ts';

const running = { id: 'p1', status: 'PROCESSING', version: 1 } as PredictionRow;

/** One update, a running job's, and then none: the job runs on. */
function oneUpdate(): AsyncIterable<PredictionRow> {
  let sent = false;
  return {
    [Symbol.asyncIterator]: () => ({
      next: () => {
        if (sent) return new Promise(() => {});
        sent = true;
        return Promise.resolve({ done: false, value: running });
      },
      return: () => Promise.resolve({ done: true, value: undefined }),
    }),
  };
}

/** How many values the stream holds ready: those that arrive before the event loop turns. */
async function ready(stream: AsyncIterator<PredictionRow>): Promise<number> {
  let count = 0;
  for (;;) {
    const turned = new Promise<false>((resolve) => setImmediate(() => resolve(false)));
    if (!(await Promise.race([stream.next().then(() => true), turned]))) return count;
    count++;
  }
}

describe('withProgressTicks', () => {
  it('repeats the running state to a subscriber that reads', async () => {
    const stream = withProgressTicks(oneUpdate(), 5)[Symbol.asyncIterator]();
    const seen = [];
    for (let i = 0; i < 4; i++) seen.push((await stream.next()).value);
    expect(seen).toEqual([running, running, running, running]);
    await stream.return?.();
  });

  it('queues no repeats for a subscriber that stopped reading, not one per tick (Repeater would throw at 1,024)', async () => {
    const stream = withProgressTicks(oneUpdate(), 1)[Symbol.asyncIterator]();
    expect((await stream.next()).value).toBe(running);
    // About 1,500 ticks unread: before the fix, a repeat queued at each until Repeater threw inside the
    // timer, an uncaught exception that ends the gateway.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    // None queued while the last row was not taken; a tick may land as the next read asks.
    expect(await ready(stream)).toBeLessThanOrEqual(1);
    // And the repeats go on once it reads again.
    expect((await stream.next()).value).toBe(running);
    await stream.return?.();
  });
});
