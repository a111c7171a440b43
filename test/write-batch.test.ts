/** src/db/writeBatch.ts: concurrent writes share one call, and one that fails fails only its own caller. */
import { describe, expect, it } from 'vitest';
import { WriteBatch } from '../src/db/writeBatch.ts';

/** A write that records each call it gets; `bad` inputs make any call that holds them throw. */
function recordingWrite(bad: ReadonlySet<number> = new Set()) {
  const calls: number[][] = [];
  let release = () => {};
  let held: Promise<void> | undefined;
  const check = (inputs: number[]) => {
    const refused = inputs.find((input) => bad.has(input));
    if (refused !== undefined) throw new Error(`refused ${refused}`);
  };
  return {
    calls,
    /** The next call waits until `release()`. */
    hold() {
      held = new Promise<void>((resolve) => (release = resolve));
    },
    release: () => release(),
    write: {
      async many(inputs: number[]) {
        calls.push(inputs);
        await held;
        check(inputs);
        return inputs.map((input) => input * 10);
      },
      async one(input: number) {
        calls.push([input]);
        check([input]);
        return input * 10;
      },
    },
  };
}

describe('WriteBatch', () => {
  it('writes what is asked for in the same turn in one call, each caller getting its own answer', async () => {
    const recording = recordingWrite();
    const batch = new WriteBatch(recording.write);
    expect(await Promise.all([1, 2, 3].map((n) => batch.add(n)))).toEqual([10, 20, 30]);
    expect(recording.calls).toEqual([[1, 2, 3]]);
  });

  it('fails only the caller whose write fails: the others are written again on their own', async () => {
    const recording = recordingWrite(new Set([2]));
    const batch = new WriteBatch(recording.write);
    const results = await Promise.allSettled([1, 2, 3].map((n) => batch.add(n)));
    expect(results.map((result) => (result.status === 'fulfilled' ? result.value : String(result.reason)))).toEqual([
      10,
      'Error: refused 2',
      30,
    ]);
    expect(recording.calls).toEqual([[1, 2, 3], [1], [2], [3]]);
  });

  it('sends one batch at a time: what is asked for meanwhile goes out together in the next', async () => {
    const recording = recordingWrite();
    const batch = new WriteBatch(recording.write);
    recording.hold();
    const first = [batch.add(1), batch.add(2)];
    // The first batch is on its way (and held there) once its call is recorded.
    await new Promise((resolve) => setImmediate(resolve));
    expect(recording.calls).toEqual([[1, 2]]);
    const second = [batch.add(3), batch.add(4)];
    await new Promise((resolve) => setImmediate(resolve));
    expect(recording.calls).toEqual([[1, 2]]);
    recording.release();
    expect(await Promise.all([...first, ...second])).toEqual([10, 20, 30, 40]);
    expect(recording.calls).toEqual([
      [1, 2],
      [3, 4],
    ]);
  });
});
