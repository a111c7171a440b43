/**
 * Every request goes through @whatwg-node/promise-helpers' handleMaybePromise and iterateAsync (Yoga,
 * its server adapter and envelop chain each step with them), which patches/ changes so that
 * synchronous steps run without fake-promise wrappers. These hold the patched copy to the contract
 * its callers rely on: synchronous in, synchronous out; only the input's failure reaches the error
 * step; hooks run in order, stop when one ends early, and carry on in order past an asynchronous one.
 */
import { handleMaybePromise, iterateAsync } from '@whatwg-node/promise-helpers';
import { describe, expect, it } from 'vitest';

describe('handleMaybePromise (patched: a synchronous fast path)', () => {
  it('answers synchronously when the input and the step are synchronous', () => {
    expect(
      handleMaybePromise(
        () => 1,
        (value) => value + 1,
      ),
    ).toBe(2);
  });

  it('hands a thrown input to the error step, and throws it without one', () => {
    const failure = new Error('input');
    const thrower = (): number => {
      throw failure;
    };
    expect(
      handleMaybePromise(
        thrower,
        () => 'ok',
        (error) => `caught ${(error as Error).message}`,
      ),
    ).toBe('caught input');
    expect(() => handleMaybePromise(thrower, () => 'ok')).toThrow(failure);
  });

  it('does not hand a throw of the success step to the error step', () => {
    const onError = (): string => 'wrongly caught';
    expect(() =>
      handleMaybePromise(
        () => 1,
        () => {
          throw new Error('success step');
        },
        onError,
      ),
    ).toThrow('success step');
  });

  it('follows a promise: its value to the success step, its rejection to the error step', async () => {
    await expect(
      handleMaybePromise(
        () => Promise.resolve(1),
        (value) => value + 1,
      ),
    ).resolves.toBe(2);
    await expect(
      handleMaybePromise(
        () => Promise.reject(new Error('later')),
        () => 'ok',
        (error) => `caught ${(error as Error).message}`,
      ),
    ).resolves.toBe('caught later');
  });

  it('runs the finally step after a success and after a failure', () => {
    const ran: string[] = [];
    expect(
      handleMaybePromise(
        () => 1,
        (value) => value,
        undefined,
        () => void ran.push('after success'),
      ),
    ).toBe(1);
    expect(() =>
      handleMaybePromise(
        () => {
          throw new Error('no');
        },
        (value) => value,
        undefined,
        () => void ran.push('after failure'),
      ),
    ).toThrow('no');
    expect(ran).toEqual(['after success', 'after failure']);
  });
});

describe('iterateAsync (patched: a loop while hooks answer synchronously)', () => {
  it('runs synchronous hooks in order, at once, collecting what they return', () => {
    const seen: Array<[string, number]> = [];
    const results: string[] = [];
    const outcome = iterateAsync(
      ['a', 'b', 'c'],
      (hook, _endEarly, index) => {
        seen.push([hook, index]);
        return hook === 'b' ? undefined : hook.toUpperCase();
      },
      results,
    );
    expect(outcome).toBeUndefined();
    expect(seen).toEqual([
      ['a', 0],
      ['b', 1],
      ['c', 2],
    ]);
    expect(results).toEqual(['A', 'C']);
  });

  it('stops after the hook that ends early', () => {
    const seen: string[] = [];
    iterateAsync(['a', 'b', 'c'], (hook, endEarly) => {
      seen.push(hook);
      if (hook === 'b') endEarly();
    });
    expect(seen).toEqual(['a', 'b']);
  });

  it('carries on in order past an asynchronous hook, and its result is a promise', async () => {
    const seen: string[] = [];
    const outcome = iterateAsync(['a', 'b', 'c'], async (hook) => {
      seen.push(hook);
    });
    expect(seen).toEqual(['a']);
    await outcome;
    expect(seen).toEqual(['a', 'b', 'c']);
  });

  it('throws a synchronous hook’s error at once', () => {
    expect(() =>
      iterateAsync(['a'], () => {
        throw new Error('hook');
      }),
    ).toThrow('hook');
  });

  it('goes through a long list of synchronous hooks without deepening the stack (1.3.2 unpatched overflows)', () => {
    let sum = 0;
    iterateAsync(
      Array.from({ length: 50_000 }, (_, index) => index),
      (value) => {
        sum += value;
      },
    );
    expect(sum).toBe((49_999 * 50_000) / 2);
  });
});
