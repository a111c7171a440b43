import { Repeater } from 'graphql-yoga';
import type { PredictionRow } from '../db/schema.ts';
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
    const timer = setInterval(() => {
      if (latest && !isTerminal(latest.status)) void push(latest);
    }, everyMs);
    const stopped = stop.then(() => ({ done: true as const, value: undefined }));
    try {
      for (;;) {
        const next = await Promise.race([source.next(), stopped]);
        if (next.done) break;
        latest = next.value;
        await push(next.value);
      }
    } finally {
      clearInterval(timer);
      await source.return?.();
      stop();
    }
  });
}
