/**
 * The wiring in services.ts that wakes the poller: a change announced (from this process or another on
 * the same database) that makes a row due before an idle poller's next claim reaches `poller.wake()`,
 * which ends the idle pace (ClaimPace, claims up to 750 ms apart) so it claims again within a tick. A
 * new job's notice does not: its first poll is due only after its create call could have finished,
 * and a stream of submissions would otherwise keep every poller claiming each tick for nothing. What
 * wake() does to the pace, and which due times wake it (wakesPoller), are poll-schedule.test.ts'
 * subject; here, that the gateway calls it for the right notices.
 *
 * Observed by counting calls on the gateway's poller (services.ts calls `poller.wake()` on the object
 * each time), not by timing claims: at the tests' 40 ms interval the idle cap is 40 ms too, and at any
 * interval the difference a wake makes is at most 750 ms, too little to tell by a clock on a loaded machine.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PredictionNotice } from '../src/db/notify.ts';
import { FakeAtlas, wrapped } from './support/fakeAtlas.ts';
import type { TestGateway } from './support/gateway.ts';
import { eventually, twoGatewaysFixture } from './support/gateway.ts';

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

/** Every notice the gateway hears, in order; services.ts' listener, registered first, has had each by then. */
function noticesHeard(gw: TestGateway): PredictionNotice[] {
  const heard: PredictionNotice[] = [];
  gw.gateway.events.onAnyChange((notice) => heard.push(notice));
  return heard;
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

describe('the poller wakes on a change that makes a job due now', () => {
  const t = twoGatewaysFixture({ AUTH_MODE: 'none' });
  let wakes: { a: ReturnType<typeof countWakes>; b: ReturnType<typeof countWakes> };
  beforeAll(() => {
    wakes = { a: countWakes(t.a), b: countWakes(t.b) };
  });
  afterAll(() => {
    wakes?.a.restore();
    wakes?.b.restore();
  });

  it("not on a new job's notice; on the create reply's change (first poll due a 40 ms interval on), on both gateways", async () => {
    const heard = { a: noticesHeard(t.a), b: noticesHeard(t.b) };
    // The create call stays open until both gateways have heard of the new job.
    let answer = () => {};
    const upstreamId = 'job_wake';
    t.fake.createReplies.push({
      ...wrapped({ id: upstreamId, status: 'starting' }),
      heldUntil: new Promise<void>((resolve) => (answer = resolve)),
    });
    t.fake.statusScripts.set(upstreamId, [
      wrapped({ id: upstreamId, status: 'processing' }),
      wrapped({ id: upstreamId, ...FakeAtlas.done(upstreamId) }),
    ]);
    const submitting = t.a.request<{ generateVideo: { prediction: { id: string } } }>(GENERATE, {
      input: { prompt: 'wake the poller' },
    });

    const isNewJob = (notice: PredictionNotice) => notice.version === 1;
    await eventually(
      () => [heard.a, heard.b],
      (both) => both.every((notices) => notices.some(isNewJob)),
    );
    expect([heard.a.filter(isNewJob), heard.b.filter(isNewJob)].map((notices) => notices.length)).toEqual([1, 1]);
    expect([wakes.a.count, wakes.b.count]).toEqual([0, 0]);

    answer();
    const submitted = await submitting;
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
