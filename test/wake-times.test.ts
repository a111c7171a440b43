/** A loop woken at each of its own retry times, however they interleave (src/background/wakeTimes.ts). */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WakeTimes } from '../src/background/wakeTimes.ts';

describe('WakeTimes', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** The times (ms from the start) at which `wake` was called. */
  function recorder() {
    const start = Date.now();
    const woken: number[] = [];
    const times = new WakeTimes(() => woken.push(Date.now() - start));
    return { times, woken, at: (ms: number) => times.at(start + ms) };
  }

  it('keeps a later time given while an earlier one waits, and wakes at both', async () => {
    const { at, woken } = recorder();
    at(100);
    at(300);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(woken).toEqual([100, 300]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('wakes at an earlier time given while a later one waits, and still at the later one', async () => {
    const { at, woken } = recorder();
    at(300);
    at(100);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(woken).toEqual([100, 300]);
  });

  it('wakes once for times that fall due together, and at once for a time already past', async () => {
    const { at, woken } = recorder();
    at(200);
    at(200);
    at(-50);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(woken).toEqual([0, 200]);
  });

  it('wakes no more once stopped, and ignores times given after', async () => {
    const { at, woken, times } = recorder();
    at(100);
    times.stop();
    at(200);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(woken).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });
});
