import { Repeater } from 'graphql-yoga';
import type { PredictionRow } from '../db/schema.ts';
import { unreadCounted } from '../predictions/events.ts';
import { isTerminal } from '../vocabulary.ts';

/**
 * The updates as they come, and between them the latest state again every `everyMs` while the job
 * runs: its progress fields are derived when read, so each repeat shows the bar further along.
 */
export function withProgressTicks(
  updates: AsyncIterable<PredictionRow>,
  everyMs: number,
): AsyncIterable<PredictionRow> {
  return new Repeater<PredictionRow>(async (push, stop) => {
    const source = updates[Symbol.asyncIterator]();
    let latest: PredictionRow | undefined;
    // A repeat goes only to a subscriber that took the last row: one that stopped reading (its socket's
    // buffers full) would otherwise gain a repeat every tick until Repeater throws at 1,024, inside this
    // timer, which would end the process.
    const pushes = unreadCounted(push);
    const timer = setInterval(() => {
      if (latest && !isTerminal(latest.status) && pushes.unread === 0) void pushes.send(latest);
    }, everyMs);
    const stopped = stop.then(() => ({ done: true as const, value: undefined }));
    try {
      for (;;) {
        const next = await Promise.race([source.next(), stopped]);
        if (next.done) break;
        latest = next.value;
        await pushes.send(next.value);
      }
    } finally {
      clearInterval(timer);
      await source.return?.();
      stop();
    }
  });
}
