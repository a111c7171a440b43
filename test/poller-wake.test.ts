/**
 * The wiring in services.ts that wakes the poller: every change announced (a new job, from this
 * process or another on the same database) reaches `poller.wake()`, which ends an idle poller's
 * spaced-out claims (ClaimPace, up to 750 ms apart) so it claims again within a tick. What wake() does
 * to the pace is poll-schedule.test.ts' subject; here, that the gateway calls it at all.
 *
 * Observed by counting calls on the gateway's poller (services.ts calls `poller.wake()` on the object
 * each time), not by timing claims: at the tests' 40 ms interval the idle cap is 40 ms too, and at any
 * interval the difference a wake makes is at most 750 ms, too little to tell by a clock on a loaded machine.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestGateway } from './support/gateway.ts';
import { twoGatewaysFixture } from './support/gateway.ts';

const GENERATE =
  'mutation G($input: GenerateVideoInput!) { generateVideo(input: $input) { prediction { id status } } }';
const UPDATES = 'subscription W($id: ID!) { predictionUpdated(id: $id) { id status } }';

/** Counts the calls of the gateway's poller.wake(), still waking it. */
function countWakes(gw: TestGateway): { count: number; restore(): void } {
  const poller = gw.gateway.poller;
  const wake = poller.wake.bind(poller);
  const counter = {
    count: 0,
    restore: () => {
      poller.wake = wake;
    },
  };
  poller.wake = () => {
    counter.count++;
    wake();
  };
  return counter;
}

/** Follows a job on `gw` until it ends: the gateway has heard of each change by then. */
async function followToEnd(gw: TestGateway, id: string): Promise<string[]> {
  const statuses: string[] = [];
  for await (const result of gw.subscribe<{ predictionUpdated: { status: string } }>(UPDATES, { id })) {
    if (!result.data) throw new Error(`stream error: ${JSON.stringify(result.errors)}`);
    statuses.push(result.data.predictionUpdated.status);
  }
  return statuses;
}

describe('the poller wakes on every change announced', () => {
  const t = twoGatewaysFixture({ AUTH_MODE: 'none' });
  let wakes: { a: ReturnType<typeof countWakes>; b: ReturnType<typeof countWakes> };
  beforeAll(() => {
    wakes = { a: countWakes(t.a), b: countWakes(t.b) };
  });
  afterAll(() => {
    wakes?.a.restore();
    wakes?.b.restore();
  });

  it("on a new job: the submitting gateway's poller, and another gateway's on the same database", async () => {
    expect([wakes.a.count, wakes.b.count]).toEqual([0, 0]);
    const submitted = await t.a.request<{ generateVideo: { prediction: { id: string } } }>(GENERATE, {
      input: { prompt: 'wake the poller' },
    });
    expect(submitted.errors).toBeUndefined();
    const { id } = submitted.data!.generateVideo.prediction;
    // A gateway hears a change, and wakes its poller, before it sends the change to any stream.
    const [onA, onB] = await Promise.all([followToEnd(t.a, id), followToEnd(t.b, id)]);
    expect(onA.at(-1)).toBe('SUCCEEDED');
    expect(onB.at(-1)).toBe('SUCCEEDED');
    expect(wakes.a.count).toBeGreaterThan(0);
    expect(wakes.b.count).toBeGreaterThan(0);
  });
});
