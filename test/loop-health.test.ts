/** Which background loops /ready names as stuck, on a clock the test moves. */
import { describe, expect, it } from 'vitest';
import { LoopHealth } from '../src/background/loopHealth.ts';

describe('LoopHealth', () => {
  const setUp = () => {
    let now = 0;
    const health = new LoopHealth(() => now);
    return { health, advance: (ms: number) => (now += ms) };
  };

  it('names a loop after three of its intervals without a completed cycle, never sooner than 10 s', () => {
    const { health, advance } = setUp();
    const poller = health.register('poller', 250);
    const dispatcher = health.register('webhook dispatcher', 5_000);
    advance(10_000);
    expect(health.stuck()).toEqual([]);
    advance(1);
    expect(health.stuck()).toEqual(['poller: no cycle completed in 10 s']);
    poller.completed();
    advance(4_000);
    expect(health.stuck()).toEqual([]);
    dispatcher.completed();
    advance(15_001);
    expect(health.stuck()).toEqual([
      'poller: no cycle completed in 19 s',
      'webhook dispatcher: no cycle completed in 15 s',
    ]);
  });

  it('gives /metrics what the GatewayLoopStopped alert compares: time since a cycle, past its allowance exactly when /ready names it', () => {
    const { health, advance } = setUp();
    const poller = health.register('poller', 250);
    health.register('webhook dispatcher', 5_000);
    advance(10_001);
    expect(health.ages()).toEqual([
      { name: 'poller', sinceCycleMs: 10_001, staleAfterMs: 10_000 },
      { name: 'webhook dispatcher', sinceCycleMs: 10_001, staleAfterMs: 15_000 },
    ]);
    expect(health.stuck()).toEqual(['poller: no cycle completed in 10 s']);
    poller.completed();
    expect(health.ages()[0]).toEqual({ name: 'poller', sinceCycleMs: 0, staleAfterMs: 10_000 });
  });

  it('counts a cycle that failed because the database is away as waiting, not stuck; any other failure as stuck', () => {
    const { health, advance } = setUp();
    const poller = health.register('poller', 250);
    advance(9_000);
    poller.failed(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }));
    advance(9_000);
    expect(health.stuck()).toEqual([]);
    poller.failed(new Error('no answer in 5000 ms'));
    advance(2_000);
    expect(health.stuck()).toEqual(['poller: no cycle completed in 11 s']);
  });
});
