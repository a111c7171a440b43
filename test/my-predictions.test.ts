/**
 * myPredictionsUpdated: a caller's stream of their own jobs' changes, over SSE, with two gateways on
 * one Postgres (a job changed through one reaches a stream on the other). Each caller sees every
 * change of their own jobs (new ones and cancels included) and never another caller's: not one in
 * the same tenant, not the same subject in another tenant, and an admin only their own.
 */
import { createClient } from 'graphql-sse';
import { SignJWT } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { authHeaders, post } from './support/auth.ts';
import { wrapped } from './support/fakeAtlas.ts';
import { twoGatewaysFixture } from './support/gateway.ts';

const SECRET = 'my-predictions-tests-hs256-secret-0123456789';
const JWT_ENV = {
  AUTH_MODE: 'jwt',
  AUTH_JWT_SECRET: SECRET,
  AUTH_TENANT_CLAIM: 'org',
  AUTH_ADMIN_CLAIM: 'role',
  AUTH_ADMIN_VALUE: 'admin',
};
const CALLERS = {
  alice: { sub: 'alice', org: 'acme' },
  bob: { sub: 'bob', org: 'acme' },
  aliceAtGlobex: { sub: 'alice', org: 'globex' },
  acmeAdmin: { sub: 'ann', org: 'acme', role: 'admin' },
};
type Caller = keyof typeof CALLERS;

const GENERATE =
  'mutation G($input: GenerateVideoInput!) { generateVideo(input: $input) { prediction { id status } } }';
const CANCEL = 'mutation C($id: ID!) { cancelPrediction(id: $id) { id status } }';
const MINE = 'subscription { myPredictionsUpdated { id status prompt } }';
type Change = { id: string; status: string; prompt: string };

/** A caller's myPredictionsUpdated stream, read as far as a test asks. */
function streamOf(url: string, token: string) {
  const client = createClient({ url, singleConnection: false, retryAttempts: 0, headers: authHeaders(token) });
  const events = client.iterate({ query: MINE })[Symbol.asyncIterator]();
  const seen: Change[] = [];
  return {
    seen,
    /** Reads until a change satisfies `ok`, and returns it. */
    async until(ok: (change: Change) => boolean): Promise<Change> {
      for (;;) {
        const next = await events.next();
        if (next.done) throw new Error(`the stream ended; seen ${JSON.stringify(seen)}`);
        const result = next.value as { data?: { myPredictionsUpdated: Change }; errors?: unknown };
        if (!result.data) throw new Error(`stream error: ${JSON.stringify(result.errors)}`);
        seen.push(result.data.myPredictionsUpdated);
        if (ok(result.data.myPredictionsUpdated)) return result.data.myPredictionsUpdated;
      }
    },
    close() {
      void events.return?.();
      client.dispose();
    },
  };
}

describe('myPredictionsUpdated', () => {
  const t = twoGatewaysFixture(JWT_ENV);
  const streams: ReturnType<typeof streamOf>[] = [];
  afterAll(() => {
    for (const stream of streams) stream.close();
  });

  it("streams every change of the caller's own jobs, through either gateway, and never another caller's", async () => {
    const tokens = {} as Record<Caller, string>;
    for (const caller of Object.keys(CALLERS) as Caller[]) {
      tokens[caller] = await new SignJWT(CALLERS[caller])
        .setProtectedHeader({ alg: 'HS256' })
        .setExpirationTime('1h')
        .sign(new TextEncoder().encode(SECRET));
    }
    const generate = async (caller: Caller, prompt: string) => {
      const reply = await post<{ generateVideo: { prediction: { id: string } } }>(t.a.url, tokens[caller], GENERATE, {
        input: { prompt },
      });
      expect(reply.body.errors).toBeUndefined();
      return reply.body.data!.generateVideo.prediction.id;
    };

    // Each caller first has a job that keeps running: a stream begins with it, which shows it is live.
    t.fake.newJob = (n) => ({ id: `job_${n}`, script: [wrapped({ id: `job_${n}`, status: 'processing' })] });
    const running = {} as Record<Caller, string>;
    const stream = {} as Record<Caller, ReturnType<typeof streamOf>>;
    for (const caller of Object.keys(CALLERS) as Caller[]) {
      running[caller] = await generate(caller, `${caller} running`);
      stream[caller] = streamOf(t.b.url, tokens[caller]);
      streams.push(stream[caller]);
      await stream[caller].until((change) => change.id === running[caller]);
    }

    // Then jobs that finish: Bob's, and the admin's, then Alice's, and Alice cancels her running one.
    t.fake.newJob = (n) => ({
      id: `job_${n}`,
      script: [
        wrapped({ id: `job_${n}`, status: 'processing' }),
        wrapped({ id: `job_${n}`, status: 'completed', outputs: [`https://cdn.example/${n}.mp4`] }),
      ],
    });
    const bobs = await generate('bob', 'bob finishes');
    const admins = await generate('acmeAdmin', 'admin finishes');
    await stream.bob.until((change) => change.id === bobs && change.status === 'SUCCEEDED');
    await stream.acmeAdmin.until((change) => change.id === admins && change.status === 'SUCCEEDED');

    const alices = await generate('alice', 'alice finishes');
    await stream.alice.until((change) => change.id === alices && change.status === 'SUCCEEDED');
    const cancel = await post(t.a.url, tokens.alice, CANCEL, { id: running.alice });
    expect(cancel.body.errors).toBeUndefined();
    await stream.alice.until((change) => change.id === running.alice && change.status === 'CANCELED');
    // Alice's new job, from its first state to its end, and her cancel.
    const aliceStatuses = stream.alice.seen.filter((change) => change.id === alices).map((change) => change.status);
    expect(aliceStatuses[0]).toMatch(/STARTING|PROCESSING/);
    expect(aliceStatuses.at(-1)).toBe('SUCCEEDED');

    // Last, a job each that ends: by then every earlier change (everyone else's too) has reached
    // every stream, so a stream that shows none of another caller's never will.
    const own: Record<Caller, string[]> = {
      alice: [running.alice, alices],
      bob: [running.bob, bobs],
      aliceAtGlobex: [running.aliceAtGlobex],
      acmeAdmin: [running.acmeAdmin, admins],
    };
    for (const caller of Object.keys(CALLERS) as Caller[]) {
      const last = await generate(caller, `${caller} last`);
      own[caller].push(last);
      await stream[caller].until((change) => change.id === last && change.status === 'SUCCEEDED');
    }
    for (const caller of Object.keys(CALLERS) as Caller[]) {
      const ids = new Set(stream[caller].seen.map((change) => change.id));
      expect(
        [...ids].filter((id) => !own[caller].includes(id)),
        caller,
      ).toEqual([]);
    }
  }, 60_000);
});
