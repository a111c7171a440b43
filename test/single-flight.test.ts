/** One run at a time, and exactly one more for the calls made meanwhile (src/background/singleFlight.ts). */
import { describe, expect, it } from 'vitest';
import { SingleFlight } from '../src/background/singleFlight.ts';

/** A task whose runs each wait until the test lets them end. */
function gatedTask() {
  const gates: Array<() => void> = [];
  let running = 0;
  let mostAtOnce = 0;
  const task = async () => {
    running++;
    mostAtOnce = Math.max(mostAtOnce, running);
    await new Promise<void>((resolve) => gates.push(resolve));
    running--;
  };
  return { task, gates, stats: () => ({ runs: gates.length, mostAtOnce }) };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('SingleFlight', () => {
  it('runs one call at a time, and the calls made meanwhile as exactly one more run after it', async () => {
    const { task, gates, stats } = gatedTask();
    const flight = new SingleFlight(task);
    flight.run();
    await settle();
    flight.run();
    flight.run();
    flight.run();
    await settle();
    expect(stats()).toEqual({ runs: 1, mostAtOnce: 1 });
    gates[0]!();
    await settle();
    expect(stats()).toEqual({ runs: 2, mostAtOnce: 1 });
    gates[1]!();
    await settle();
    // Nothing was asked during the second run: no third.
    expect(stats()).toEqual({ runs: 2, mostAtOnce: 1 });
    flight.run();
    await settle();
    expect(stats().runs).toBe(3);
    gates[2]!();
  });

  it('counts a call the task makes itself as one made meanwhile', async () => {
    let runs = 0;
    const flight = new SingleFlight(async () => {
      runs++;
      if (runs === 1) flight.run();
    });
    flight.run();
    await settle();
    expect(runs).toBe(2);
  });

  it('on stop, waits for the run under way and starts no more', async () => {
    const { task, gates, stats } = gatedTask();
    const flight = new SingleFlight(task);
    flight.run();
    await settle();
    flight.run();
    let stopped = false;
    const stopping = flight.stop().then(() => (stopped = true));
    await settle();
    expect(stopped).toBe(false);
    gates[0]!();
    await stopping;
    flight.run();
    await settle();
    expect(stats().runs).toBe(1);
  });
});
