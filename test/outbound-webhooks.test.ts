/**
 * Signed outbound webhooks to callers' backends: a receiver over real HTTP that verifies every request
 * with the standardwebhooks package, the fake Atlas, real Postgres (PGlite and the server).
 */
import { randomBytes } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { lookup } from 'node:dns/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { eq } from 'drizzle-orm';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';
import { webhookAttempts, webhookOutbox } from '../src/db/schema.ts';
import { type AddressRules, classify, rangeOf, refusalOf } from '../src/webhooks/outbound/addressPolicy.ts';
import { retryDelayMs } from '../src/webhooks/outbound/dispatcher.ts';
import { PREDICTION_DATA_FIELDS } from '../src/webhooks/outbound/event.ts';
import { sendWebhook } from '../src/webhooks/outbound/send.ts';
import { isLoopbackHost, webhookUrlProblem } from '../src/webhooks/outbound/url.ts';
import { countPredictions, hs256Token, post, type Reply } from './support/auth.ts';
import { type Child, children, startChild } from './support/childGateway.ts';
import { FakeAtlas, wrapped } from './support/fakeAtlas.ts';
import {
  BACKENDS,
  eventually,
  gatewayFixture,
  openTestDatabase,
  startGateway,
  type TestDatabase,
} from './support/gateway.ts';
import { settledOutbox, WebhookReceiver } from './support/webhookReceiver.ts';

const SIGNING_SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const JWT_SECRET = 'outbound-webhooks-test-secret-0123456789abcdef';
const token = (sub: string) => hs256Token(JWT_SECRET, sub);

/** Short timings, so retries, time-outs and giving up happen within a test. */
const FAST_WEBHOOKS = {
  WEBHOOK_SIGNING_SECRET: SIGNING_SECRET,
  // Long enough that a receiver's ordinary answer on a loaded machine is not taken for none (and sent again).
  WEBHOOK_TIMEOUT_MS: '1500',
  WEBHOOK_RETRY_BASE_MS: '100',
  WEBHOOK_RETRY_MAX_MS: '1000',
  WEBHOOK_RETRY_FOR_MS: '3000',
  // Long: a delivery that comes at once was woken by its notice, not found by the sweep.
  WEBHOOK_SWEEP_MS: '60000',
};
const AUTH = { AUTH_MODE: 'jwt', AUTH_JWT_SECRET: JWT_SECRET };

/** Every field the body's `data` carries, asked of the GraphQL Prediction type. */
const DATA_FIELDS = PREDICTION_DATA_FIELDS.join(' ');
const GENERATE =
  'mutation G($input: GenerateVideoInput!) { generateVideo(input: $input) { prediction { id webhook { url events } } } }';
const DELIVERIES = `query D($id: ID!) { prediction(id: $id) { status webhookDeliveries {
  messageId event attemptedAt httpStatus error durationMs delivered nextAttemptAt } } }`;
const REDELIVER = 'mutation R($id: ID!) { redeliverWebhook(predictionId: $id) { id } }';

interface Delivery {
  messageId: string;
  event: string;
  attemptedAt: string;
  httpStatus: number | null;
  error: string | null;
  durationMs: number;
  delivered: boolean;
  nextAttemptAt: string | null;
}
interface WebhookEventBody {
  type: string;
  timestamp: string;
  data: Record<string, unknown> & { id: string; status: string; predictTime: number | null };
}
type Generated = { generateVideo: { prediction: { id: string; webhook: { url: string; events: string[] } | null } } };

async function submit(url: string, credential: string | undefined, input: Record<string, unknown>): Promise<string> {
  const reply = await post<Generated>(url, credential, GENERATE, { input: { prompt: 'a horse', ...input } });
  expect(reply.body.errors).toBeUndefined();
  return reply.body.data!.generateVideo.prediction.id;
}

async function deliveries(url: string, credential: string | undefined, id: string): Promise<Delivery[]> {
  const reply = await post<{ prediction: { webhookDeliveries: Delivery[] } | null }>(url, credential, DELIVERIES, {
    id,
  });
  expect(reply.body.errors).toBeUndefined();
  return reply.body.data!.prediction!.webhookDeliveries;
}

function expectBadInput(reply: Reply, field: string, rule: RegExp) {
  expect(reply.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  const issues = reply.body.errors?.[0]?.extensions?.issues as Array<{ field: string; message: string }>;
  expect(issues).toContainEqual({ field, message: expect.stringMatching(rule) });
}

const bodyOf = (received: { verified: unknown }) => received.verified as WebhookEventBody;

describe.each(BACKENDS)('outbound webhooks on %s', (backend) => {
  const t = gatewayFixture(backend, { ...AUTH, ...FAST_WEBHOOKS });
  let receiver: WebhookReceiver;
  let alice: string;
  let bob: string;
  beforeAll(async () => {
    receiver = await WebhookReceiver.start(SIGNING_SECRET);
    [alice, bob] = await Promise.all([token('alice'), token('bob')]);
  });
  afterAll(() => receiver?.close());
  beforeEach(async () => {
    // The fake numbers jobs from 1 again, and upstream ids are unique: start from empty tables.
    await t.db.truncate();
    receiver.reset();
    t.fake.reset();
  });

  it('a finished job is POSTed once, signed (Standard Webhooks), with the prediction as GraphQL gives it', async () => {
    const submitted = Date.now();
    const id = await submit(t.gw.url, alice, { webhook: { url: `${receiver.url}/done?token=abc` } });
    const [hook] = await eventually(
      () => receiver.at('/done?token=abc'),
      (r) => r.length >= 1,
    );
    const latencyMs = hook!.at - submitted;

    expect(hook!.verifyError).toBeUndefined();
    expect(hook!.headers['webhook-id']).toMatch(/^msg_[0-9a-f-]{36}$/);
    expect(Math.abs(Number(hook!.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
    expect(hook!.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(hook!.headers['content-type']).toBe('application/json');
    // Signed with this secret and no other.
    const other = new Webhook(`whsec_${randomBytes(32).toString('base64')}`);
    expect(() => other.verify(hook!.body, hook!.headers as Record<string, string>)).toThrow();

    const event = bodyOf(hook!);
    const final = await post<{ prediction: Record<string, unknown> }>(
      t.gw.url,
      alice,
      `query($id: ID!) { prediction(id: $id) { ${DATA_FIELDS} } }`,
      { id },
    );
    expect(event.type).toBe('prediction.completed');
    expect(event.data).toEqual(final.body.data!.prediction);
    expect(event.data.status).toBe('SUCCEEDED');
    expect(event.data.videoUrl).toBe('https://cdn.example/job_1.mp4');
    expect(event.timestamp).toBe(final.body.data!.prediction.updatedAt);
    // The 60 s sweep did not find it: the commit's notice woke a deliverer.
    expect(latencyMs).toBeLessThan(5_000);

    const attempts = await eventually(
      () => deliveries(t.gw.url, alice, id),
      (d) => d.length >= 1,
    );
    expect(attempts).toEqual([
      {
        messageId: hook!.headers['webhook-id'],
        event: 'COMPLETED',
        attemptedAt: expect.any(String),
        httpStatus: 204,
        error: null,
        durationMs: expect.any(Number),
        delivered: true,
        nextAttemptAt: null,
      },
    ]);
    // STARTED was not asked for: one message, settled, so nothing else comes.
    expect((await settledOutbox(t.db.database, id)).map((message) => message.event)).toEqual(['COMPLETED']);
    expect(receiver.received).toHaveLength(1);
    // The secret signs; it is never written anywhere.
    expect(t.gw.logs.join('\n')).not.toContain(SIGNING_SECRET.slice('whsec_'.length));
  });

  it('a cancelled job is COMPLETED too, with status CANCELED', async () => {
    t.fake.newJob = (n) => ({ id: `job_${n}`, script: [wrapped({ id: `job_${n}`, status: 'processing' })] });
    const id = await submit(t.gw.url, alice, { webhook: { url: `${receiver.url}/cancel` } });
    await eventually(
      () => t.fake.statusCalls('job_1').length,
      (n) => n >= 1,
    );
    const cancelled = await post(t.gw.url, alice, 'mutation C($id: ID!) { cancelPrediction(id: $id) { status } }', {
      id,
    });
    expect(cancelled.body.errors).toBeUndefined();
    const [hook] = await eventually(
      () => receiver.at('/cancel'),
      (r) => r.length >= 1,
    );
    expect(hook!.verifyError).toBeUndefined();
    expect(bodyOf(hook!)).toMatchObject({
      type: 'prediction.completed',
      data: { id, status: 'CANCELED', errorCode: 'CANCELED' },
    });
  });

  it('STARTED and UPDATED when asked, each with the prediction at that change', async () => {
    t.fake.newJob = (n) => ({
      id: `job_${n}`,
      script: [
        wrapped({ id: `job_${n}`, status: 'processing' }),
        wrapped({ id: `job_${n}`, status: 'processing', metrics: { predict_time: 1.5 } }),
        wrapped({
          id: `job_${n}`,
          status: 'completed',
          outputs: ['https://cdn.example/x.mp4'],
          metrics: { predict_time: 4.2 },
        }),
      ],
    });
    const id = await submit(t.gw.url, alice, {
      webhook: { url: `${receiver.url}/all`, events: ['COMPLETED', 'STARTED', 'UPDATED', 'STARTED'] },
    });
    const received = await eventually(
      () => receiver.at('/all'),
      (r) => r.length >= 3,
    );
    expect(await settledOutbox(t.db.database, id)).toHaveLength(3);
    expect(receiver.at('/all')).toHaveLength(3);
    for (const hook of received) expect(hook.verifyError).toBeUndefined();
    const events = received.map(bodyOf).sort((a, b) => a.timestamp.localeCompare(b.timestamp));
    expect(events.map((e) => [e.type, e.data.status, e.data.predictTime])).toEqual([
      ['prediction.started', 'PROCESSING', null],
      ['prediction.updated', 'PROCESSING', 1.5],
      ['prediction.completed', 'SUCCEEDED', 4.2],
    ]);
    expect(new Set(received.map((hook) => hook.headers['webhook-id'])).size).toBe(3);
    for (const event of events) expect(event.data.id).toBe(id);
    const stored = await post<{ prediction: { webhook: unknown } }>(
      t.gw.url,
      alice,
      'query($id: ID!) { prediction(id: $id) { webhook { url events } } }',
      { id },
    );
    // Stored deduplicated, in a fixed order.
    expect(stored.body.data!.prediction.webhook).toEqual({
      url: `${receiver.url}/all`,
      events: ['STARTED', 'UPDATED', 'COMPLETED'],
    });
  });

  it('a failing receiver is retried with growing delays, the same webhook-id each time, and every attempt is listed', async () => {
    receiver.scripts.set('/flaky', [{ status: 500 }, { status: 503 }, { status: 500 }, { status: 200 }]);
    const id = await submit(t.gw.url, alice, { webhook: { url: `${receiver.url}/flaky` } });
    const received = await eventually(
      () => receiver.at('/flaky'),
      (r) => r.length >= 4,
    );
    for (const hook of received) expect(hook.verifyError).toBeUndefined();
    expect(new Set(received.map((hook) => hook.headers['webhook-id'])).size).toBe(1);
    expect(new Set(received.map((hook) => hook.body)).size).toBe(1);
    const gaps = received.slice(1).map((hook, i) => hook.at - received[i]!.at);
    // 100, 200, 400 ms, each ±25 %.
    expect(gaps[0]).toBeGreaterThanOrEqual(70);
    expect(gaps[1]).toBeGreaterThanOrEqual(145);
    expect(gaps[2]).toBeGreaterThanOrEqual(295);

    const attempts = await eventually(
      () => deliveries(t.gw.url, alice, id),
      (d) => d.length >= 4,
    );
    expect(attempts.map((a) => [a.httpStatus, a.error, a.delivered])).toEqual([
      [500, 'HTTP 500', false],
      [503, 'HTTP 503', false],
      [500, 'HTTP 500', false],
      [200, null, true],
    ]);
    for (const failed of attempts.slice(0, 3))
      expect(Date.parse(failed.nextAttemptAt!)).toBeGreaterThan(Date.parse(failed.attemptedAt));
    expect(attempts[3]!.nextAttemptAt).toBeNull();
    expect(new Set(attempts.map((a) => a.messageId))).toEqual(new Set([received[0]!.headers['webhook-id']]));
  });

  it('retries two failing receivers each on its own schedule, neither waiting for the sweep', async () => {
    // A's fifth attempt waits about 800 ms; B fails meanwhile and is due again about 100 ms later.
    // Each retry must be claimed when due: the sweep here is a minute away.
    receiver.scripts.set('/a', [{ status: 500 }, { status: 500 }, { status: 500 }, { status: 500 }, { status: 200 }]);
    receiver.scripts.set('/b', [{ status: 500 }, { status: 200 }]);
    const attempts = () => ({ a: receiver.at('/a').length, b: receiver.at('/b').length });
    await submit(t.gw.url, alice, { webhook: { url: `${receiver.url}/a` } });
    await eventually(attempts, ({ a }) => a >= 4);
    await submit(t.gw.url, alice, { webhook: { url: `${receiver.url}/b` } });
    expect(await eventually(attempts, ({ a, b }) => a >= 5 && b >= 2)).toEqual({ a: 5, b: 2 });
  });

  it('gives up once the retry window (WEBHOOK_RETRY_FOR_MS) is past', async () => {
    receiver.scripts.set('/down', [{ status: 500 }]);
    const id = await submit(t.gw.url, alice, { webhook: { url: `${receiver.url}/down` } });
    const attempts = await eventually(
      () => deliveries(t.gw.url, alice, id),
      (d) => d.length > 0 && d.at(-1)!.nextAttemptAt === null,
      10_000,
    );
    expect(attempts.every((a) => !a.delivered)).toBe(true);
    // 100, 200, 400, 800, 1000 ms (±25 %) fit in 3 s: five or six attempts, then no more.
    expect(attempts.length).toBeGreaterThanOrEqual(4);
    expect(attempts.length).toBeLessThanOrEqual(7);
    const [message] = await t.db.database.db.select().from(webhookOutbox).where(eq(webhookOutbox.predictionId, id));
    expect(message!.gaveUpAt).not.toBeNull();
    expect(message!.nextAttemptAt).toBeNull();
    // Given up and due never again (settled): every attempt on record reached the receiver, and no more will.
    await settledOutbox(t.db.database, id);
    expect(receiver.at('/down')).toHaveLength(attempts.length);
  });

  it('a slow receiver runs into the timeout', async () => {
    receiver.scripts.set('/slow', [{ status: 200, delayMs: 3_000 }]);
    const id = await submit(t.gw.url, alice, { webhook: { url: `${receiver.url}/slow` } });
    const [attempt] = await eventually(
      () => deliveries(t.gw.url, alice, id),
      (d) => d.length >= 1,
    );
    expect(attempt).toMatchObject({ httpStatus: null, error: 'no answer within 1500 ms', delivered: false });
    expect(attempt!.durationMs).toBeGreaterThanOrEqual(450);
    expect(attempt!.durationMs).toBeLessThan(2_000);
    expect(attempt!.nextAttemptAt).not.toBeNull();
  });

  it('a redirect is not followed: it is a failed attempt', async () => {
    receiver.scripts.set('/moved', [{ status: 302, headers: { location: `${receiver.url}/target` } }]);
    const id = await submit(t.gw.url, alice, { webhook: { url: `${receiver.url}/moved` } });
    const [attempt] = await eventually(
      () => deliveries(t.gw.url, alice, id),
      (d) => d.length >= 1,
    );
    expect(attempt).toMatchObject({ httpStatus: 302, delivered: false });
    expect(attempt!.error).toBe(`HTTP 302: redirects are not followed (to ${receiver.url}/target); give the final URL`);
    // The attempt is recorded after its request returned: a followed redirect would have reached /target by now.
    expect(receiver.at('/target')).toHaveLength(0);
  });

  it('refuses private, link-local, CGNAT and (for a name that is not a loopback host) loopback addresses', async () => {
    const name = hostname();
    // This machine's name resolves to a loopback address (/etc/hosts), which is what makes it a test of the resolved address.
    expect(rangeOf((await lookup(name)).address)).toBe('loopback');
    const cases = [
      [
        'https://10.1.2.3/hook',
        /^refused to connect to 10\.1\.2\.3: a private address \(set WEBHOOK_ALLOW_PRIVATE=true/,
      ],
      ['https://169.254.169.254/latest/meta-data', /^refused to connect to 169\.254\.169\.254: a linkLocal address/],
      ['https://100.64.0.1/hook', /^refused to connect to 100\.64\.0\.1: a carrierGradeNat address/],
      ['https://[fd00::1]/hook', /^refused to connect to fd00::1: a uniqueLocal address/],
      // IPv6 forms that carry an IPv4 address are judged by that address.
      [
        'https://[::10.1.2.3]/hook',
        /^refused to connect to ::a01:203 \(IPv4-compatible form of 10\.1\.2\.3\): a private address/,
      ],
      [
        'https://[64:ff9b::169.254.169.254]/latest/meta-data',
        /^refused to connect to 64:ff9b::a9fe:a9fe \(NAT64 form of 169\.254\.169\.254\): a linkLocal address/,
      ],
      [
        `https://${name}:${new URL(receiver.url).port}/hook`,
        /^refused to connect to (127\.\d+\.\d+\.\d+|::1): a loopback address/,
      ],
    ] as const;
    for (const [url, error] of cases) {
      const id = await submit(t.gw.url, alice, { webhook: { url } });
      const [attempt] = await eventually(
        () => deliveries(t.gw.url, alice, id),
        (d) => d.length >= 1,
      );
      expect(attempt).toMatchObject({ httpStatus: null, delivered: false, error: expect.stringMatching(error) });
    }
    // Only the loopback case could have reached the receiver. (Not `received` as a whole: an earlier
    // test's failed delivery may be retried into this one.)
    expect(receiver.at('/hook')).toHaveLength(0);
  });

  it('redeliverWebhook sends the last event again as a new message; refused without a webhook; NOT_FOUND for another caller', async () => {
    const id = await submit(t.gw.url, alice, { webhook: { url: `${receiver.url}/again` } });
    const [first] = await eventually(
      () => receiver.at('/again'),
      (r) => r.length >= 1,
    );
    await eventually(
      () => deliveries(t.gw.url, alice, id),
      (d) => d.length >= 1,
    );

    const again = await post<{ redeliverWebhook: { id: string } }>(t.gw.url, alice, REDELIVER, { id });
    expect(again.body.errors).toBeUndefined();
    expect(again.body.data!.redeliverWebhook.id).toBe(id);
    const [, second] = await eventually(
      () => receiver.at('/again'),
      (r) => r.length >= 2,
    );
    expect(second!.verifyError).toBeUndefined();
    expect(second!.body).toBe(first!.body);
    expect(second!.headers['webhook-id']).not.toBe(first!.headers['webhook-id']);
    const attempts = await eventually(
      () => deliveries(t.gw.url, alice, id),
      (d) => d.length >= 2,
    );
    expect(attempts.map((a) => [a.event, a.delivered])).toEqual([
      ['COMPLETED', true],
      ['COMPLETED', true],
    ]);

    // Someone else's job: as if it did not exist; nothing is sent.
    const stranger = await post(t.gw.url, bob, REDELIVER, { id });
    expect(stranger.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const plain = await submit(t.gw.url, alice, {});
    expectBadInput(
      await post(t.gw.url, alice, REDELIVER, { id: plain }),
      'predictionId',
      /was submitted without a webhook; there is nothing to redeliver/,
    );
    expect(await settledOutbox(t.db.database, id)).toHaveLength(2);
    expect(receiver.at('/again')).toHaveLength(2);
  });

  it('another caller sees neither the job nor its deliveries', async () => {
    const id = await submit(t.gw.url, alice, { webhook: { url: `${receiver.url}/mine` } });
    await eventually(
      () => deliveries(t.gw.url, alice, id),
      (d) => d.length >= 1,
    );
    const asBob = await post<{ prediction: unknown }>(t.gw.url, bob, DELIVERIES, { id });
    expect(asBob.body.errors).toBeUndefined();
    expect(asBob.body.data!.prediction).toBeNull();
    const list = await post<{ predictions: { edges: unknown[] } }>(
      t.gw.url,
      bob,
      '{ predictions(first: 50) { edges { node { id webhookDeliveries { messageId } } } } }',
    );
    expect(list.body.data!.predictions.edges).toEqual([]);
  });

  it('the webhook is part of an idempotent request: the same key with another webhook is refused', async () => {
    const input = { prompt: 'once', idempotencyKey: 'k-1', webhook: { url: `${receiver.url}/idem` } };
    const first = await submit(t.gw.url, alice, input);
    expect(await submit(t.gw.url, alice, input)).toBe(first);
    const changed = await post(t.gw.url, alice, GENERATE, {
      input: { ...input, webhook: { url: `${receiver.url}/other` } },
    });
    expect(changed.body.errors?.[0]?.extensions?.code).toBe('IDEMPOTENCY_KEY_REUSED');
    await eventually(
      () => receiver.at('/idem'),
      (r) => r.length >= 1,
    );
    expect(await settledOutbox(t.db.database)).toHaveLength(1);
    expect(receiver.received.map((hook) => hook.path)).toEqual(['/idem']);
  });

  it('refuses bad webhook input before anything is stored or sent', async () => {
    await t.db.truncate();
    const long = `https://example.com/${'a'.repeat(2049 - 'https://example.com/'.length)}`;
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ url: 'not a url' }, 'input.webhook.url', /must be an absolute URL/],
      [{ url: 'ftp://example.com/hook' }, 'input.webhook.url', /must use https/],
      [
        { url: 'http://example.com/hook' },
        'input.webhook.url',
        /must use https \(plain http is accepted only to localhost/,
      ],
      [{ url: 'https://user:pass@example.com/hook' }, 'input.webhook.url', /must not contain a user name or password/],
      [{ url: long }, 'input.webhook.url', /must be at most 2048 characters/],
      [{ url: 'https://example.com/hook', events: [] }, 'input.webhook.events', /must name at least one event/],
    ];
    for (const [webhook, field, rule] of cases) {
      expectBadInput(await post(t.gw.url, alice, GENERATE, { input: { prompt: 'a horse', webhook } }), field, rule);
    }
    const unknownEvent = await post(t.gw.url, alice, GENERATE, {
      input: { prompt: 'a horse', webhook: { url: 'https://example.com', events: ['FINISHED'] } },
    });
    expect(unknownEvent.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(await countPredictions(t.db.database.db)).toBe(0);
    expect(t.fake.creates).toHaveLength(0);
  });
});

describe('webhook input on a gateway without WEBHOOK_SIGNING_SECRET', () => {
  const t = gatewayFixture('pglite');
  it('is refused, naming the field and the missing secret', async () => {
    const reply = await post(t.gw.url, undefined, GENERATE, {
      input: { prompt: 'a horse', webhook: { url: 'https://example.com/hook' } },
    });
    expectBadInput(reply, 'input.webhook', /cannot be used here: this gateway has no WEBHOOK_SIGNING_SECRET/);
    expect(await countPredictions(t.db.database.db)).toBe(0);
    expect(t.fake.creates).toHaveLength(0);
    expect(t.gw.gateway.dispatcher).toBeUndefined();
  });
});

describe('webhook URLs in production', () => {
  const t = gatewayFixture('pglite', { NODE_ENV: 'production', AUTH_MODE: 'none', ...FAST_WEBHOOKS });
  it('must be https and must not name this machine', async () => {
    expectBadInput(
      await post(t.gw.url, undefined, GENERATE, {
        input: { prompt: 'a horse', webhook: { url: 'http://127.0.0.1:9/hook' } },
      }),
      'input.webhook.url',
      /^must use https \(plain http is accepted only to localhost, 127\.0\.0\.1 or \[::1\], and not in production\)$/,
    );
    expectBadInput(
      await post(t.gw.url, undefined, GENERATE, {
        input: { prompt: 'a horse', webhook: { url: 'https://localhost:9/hook' } },
      }),
      'input.webhook.url',
      /must not point at this machine/,
    );
    // An IPv6 form of 127.0.0.1 is this machine too.
    for (const url of [
      'https://[::127.0.0.1]/hook',
      'https://[::ffff:127.0.0.1]:9/hook',
      'https://[2002:7f00:1::1]/hook',
    ]) {
      expectBadInput(
        await post(t.gw.url, undefined, GENERATE, { input: { prompt: 'a horse', webhook: { url } } }),
        'input.webhook.url',
        /must not point at this machine/,
      );
    }
    expect(await countPredictions(t.db.database.db)).toBe(0);
  });
});

/** A TCP server that counts connections and drops them: proof that a delivery reached an address, or did not. */
async function countingServer(): Promise<{ server: Server; port: number; connections: () => number }> {
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return { server, port: typeof address === 'object' && address ? address.port : 0, connections: () => connections };
}

describe('WEBHOOK_ALLOW_PRIVATE', () => {
  let fake: FakeAtlas;
  let db: TestDatabase;
  let target: Awaited<ReturnType<typeof countingServer>>;
  beforeAll(async () => {
    [fake, db, target] = await Promise.all([FakeAtlas.start(), openTestDatabase('pglite'), countingServer()]);
  });
  afterAll(async () => {
    target?.server.close();
    await Promise.all([fake?.close(), db?.close()]);
  });

  for (const allowPrivate of ['false', 'true'] as const) {
    it(`${allowPrivate}: a host that resolves to a loopback address is ${allowPrivate === 'true' ? 'connected to' : 'refused before any connection'}`, async () => {
      await db.truncate();
      fake.reset();
      const connectionsBefore = target.connections();
      const gw = await startGateway({
        database: db.database,
        atlasUrl: fake.url,
        env: { ...FAST_WEBHOOKS, WEBHOOK_ALLOW_PRIVATE: allowPrivate },
      });
      try {
        const id = await submit(gw.url, undefined, { webhook: { url: `https://${hostname()}:${target.port}/hook` } });
        const [attempt] = await eventually(
          () => deliveries(gw.url, undefined, id),
          (d) => d.length >= 1,
        );
        expect(attempt!.delivered).toBe(false);
        if (allowPrivate === 'true') {
          // It got through to the address (the TLS handshake then failed: this server speaks no TLS).
          expect(target.connections()).toBeGreaterThan(connectionsBefore);
          expect(attempt!.error).not.toMatch(/refused to connect/);
        } else {
          expect(target.connections()).toBe(connectionsBefore);
          expect(attempt!.error).toMatch(/^refused to connect to .*: a loopback address/);
        }
      } finally {
        await gw.close();
      }
    });
  }
});

/**
 * The processes' lease on a claimed message: an attempt's 5 s timeout plus 3 s for its database writes
 * (15 s in production), so a message orphaned by a killed process is sent again within the test.
 */
const CHILD_LEASE = { WEBHOOK_TIMEOUT_MS: '5000', WEBHOOK_LEASE_MARGIN_MS: '3000', WEBHOOK_SWEEP_MS: '200' };

describe('two gateway processes on one Postgres database', () => {
  let fake: FakeAtlas;
  let db: TestDatabase;
  let receiver: WebhookReceiver;
  let a: Child;
  let b: Child;
  beforeAll(async () => {
    [fake, db, receiver] = await Promise.all([
      FakeAtlas.start(),
      openTestDatabase('postgres'),
      WebhookReceiver.start(SIGNING_SECRET),
    ]);
    // Real `node src/main.ts` processes, configured by environment only. A timeout far above the
    // receiver's 40 ms, so no attempt times out on a busy machine and is (rightly) sent again.
    const start = () =>
      startChild({
        DATABASE_URL: db.url!,
        ATLASCLOUD_BASE_URL: fake.url,
        ...FAST_WEBHOOKS,
        ...CHILD_LEASE,
        WEBHOOK_CONCURRENCY: '4',
        // Not 1 s (the helper's): a create recorded late on a busy machine would be taken for lost
        // (SUBMISSION_UNKNOWN), then found running: a true extra STARTED and COMPLETED, not a repeat.
        UPSTREAM_TIMEOUT_MS: '5000',
      });
    [a, b] = await Promise.all([start(), start()]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all(children.map((child) => child.kill9()));
    await Promise.all([fake?.close(), db?.close(), receiver?.close()]);
  });

  it('deliver each event exactly once between them', async () => {
    // A slow receiver, so that deliveries overlap and both processes are claiming at once.
    receiver.scripts.set('/both', [{ status: 200, delayMs: 40 }]);
    const jobs = 16;
    const ids = await Promise.all(
      Array.from({ length: jobs }, (_, i) =>
        submit(`${(i % 2 ? a : b).base}/graphql`, undefined, {
          prompt: `job ${i}`,
          webhook: { url: `${receiver.url}/both`, events: ['STARTED', 'COMPLETED'] },
        }),
      ),
    );
    await eventually(
      () => receiver.at('/both'),
      (r) => r.length >= 2 * jobs,
      30_000,
    );
    // Every message delivered and due never again: no second delivery can follow.
    expect(await settledOutbox(db.database)).toHaveLength(2 * jobs);
    const received = receiver.at('/both');
    expect(received).toHaveLength(2 * jobs);
    expect(new Set(received.map((hook) => hook.headers['webhook-id'])).size).toBe(2 * jobs);
    for (const hook of received) expect(hook.verifyError).toBeUndefined();
    const byJob = new Map<string, string[]>();
    for (const hook of received) {
      const event = bodyOf(hook);
      byJob.set(event.data.id, [...(byJob.get(event.data.id) ?? []), event.type].sort());
    }
    expect([...byJob.keys()].sort()).toEqual([...ids].sort());
    for (const types of byJob.values()) expect(types).toEqual(['prediction.completed', 'prediction.started']);
    const delivered = (child: Child) =>
      child
        .output()
        .split('\n')
        .filter((line) => line.includes('"webhook delivered"')).length;
    // Each process logs a delivery after recording it; the line reaches us through its stdout pipe,
    // which on a busy machine can trail the database by a while.
    await eventually(
      () => delivered(a) + delivered(b),
      (count) => count >= 2 * jobs,
      10_000,
    );
    expect(delivered(a) + delivered(b)).toBe(2 * jobs);
    const attempts = await db.database.db.select().from(webhookAttempts);
    expect(attempts).toHaveLength(2 * jobs);
    expect(attempts.every((attempt) => attempt.delivered)).toBe(true);
  }, 60_000);

  it('a message whose deliverer was killed mid-request is sent again by another process once its lease runs out', async () => {
    receiver.reset();
    // The first request hangs; every gateway is killed meanwhile, so whichever held the message is gone.
    receiver.scripts.set('/orphan', [{ status: 200, delayMs: 120_000 }, { status: 204 }]);
    const id = await submit(`${a.base}/graphql`, undefined, { webhook: { url: `${receiver.url}/orphan` } });
    const [first] = await eventually(
      () => receiver.at('/orphan'),
      (r) => r.length >= 1,
      20_000,
    );
    await Promise.all([a.kill9(), b.kill9()]);
    const c = await startChild({
      DATABASE_URL: db.url!,
      ATLASCLOUD_BASE_URL: fake.url,
      ...FAST_WEBHOOKS,
      ...CHILD_LEASE,
    });
    const [, second] = await eventually(
      () => receiver.at('/orphan'),
      (r) => r.length >= 2,
      60_000,
    );
    // The same message (receivers drop the repeat by its id), freshly signed, after the lease (5 s + 3 s)
    // ran out: not even when the killed attempt's own timeout (5 s) was up.
    expect(second!.verifyError).toBeUndefined();
    expect(second!.headers['webhook-id']).toBe(first!.headers['webhook-id']);
    expect(second!.body).toBe(first!.body);
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(5_000);
    const attempts = await eventually(
      () => db.database.db.select().from(webhookAttempts).where(eq(webhookAttempts.predictionId, id)),
      (rows) => rows.length >= 1,
    );
    // The killed process recorded nothing; the one attempt on record is the one that got through.
    expect(attempts.map((attempt) => [attempt.httpStatus, attempt.delivered])).toEqual([[204, true]]);
    // The log line follows the attempt's row; under load it may reach the pipe a moment later.
    await eventually(
      () => c.output(),
      (output) => output.includes('"webhook delivered"'),
    );
  }, 120_000);
});

/** "a.b.c.d" as the two hexadecimal groups an IPv6 address writes it in. */
const groups = (ipv4: string) => {
  const [a, b, c, d] = ipv4.split('.').map(Number) as [number, number, number, number];
  return `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
};
const inverted = (ipv4: string) =>
  ipv4
    .split('.')
    .map((octet) => 255 - Number(octet))
    .join('.');
/** The public half of a Teredo address whose other half is under test. */
const TEREDO_OTHER = '8.8.4.4';

/** Every IPv6 form that carries an IPv4 address, writing `ipv4` in it. */
const CARRYING_FORMS: Record<string, (ipv4: string) => string> = {
  'IPv4-mapped': (ipv4) => `::ffff:${ipv4}`,
  'IPv4-translated': (ipv4) => `::ffff:0:${ipv4}`,
  'IPv4-compatible': (ipv4) => `::${ipv4}`,
  NAT64: (ipv4) => `64:ff9b::${ipv4}`,
  '6to4': (ipv4) => `2002:${groups(ipv4)}::1`,
  // 2001:0:<server>:<flags>:<port>:<client>, the client's address and port inverted.
  'Teredo server': (ipv4) => `2001:0:${groups(ipv4)}:0:8000:${groups(inverted(TEREDO_OTHER))}`,
  'Teredo client': (ipv4) => `2001:0:${groups(TEREDO_OTHER)}:0:8000:${groups(inverted(ipv4))}`,
};
const CARRIED: Array<[string, string]> = [
  ['127.0.0.1', 'loopback'],
  ['10.1.2.3', 'private'],
  ['192.168.0.10', 'private'],
  ['169.254.169.254', 'linkLocal'],
  ['100.64.0.1', 'carrierGradeNat'],
  ['8.8.8.8', 'unicast'],
];
const STRICT: AddressRules = { allowPrivate: false, allowLoopback: false };

describe('address policy: an IPv6 form that carries an IPv4 address is judged by that address', () => {
  const table = Object.entries(CARRYING_FORMS).flatMap(([form, write]) =>
    CARRIED.map(([ipv4, range]) => [form, ipv4, range, write(ipv4)] as const),
  );
  it.each(table)('%s of %s: %s (%s)', (form, ipv4, range, address) => {
    if (range === 'unicast') {
      expect(classify(address).range).toBe('unicast');
      expect(refusalOf(address, STRICT)).toBeUndefined();
      return;
    }
    expect(classify(address)).toEqual({ range, carried: { ipv4, form } });
    expect(refusalOf(address, STRICT)).toBe(
      `refused to connect to ${address} (${form} form of ${ipv4}): a ${range} address (set WEBHOOK_ALLOW_PRIVATE=true to allow private addresses)`,
    );
    // Loopback is let through only where loopback is (a loopback host outside production); the rest never.
    expect(refusalOf(address, { allowPrivate: false, allowLoopback: true }) === undefined).toBe(range === 'loopback');
    expect(refusalOf(address, { allowPrivate: true, allowLoopback: false })).toBeUndefined();
  });

  it('Teredo is refused when either address it carries is', () => {
    const both = `2001:0:${groups('10.0.0.1')}:0:8000:${groups(inverted('127.0.0.1'))}`;
    expect(classify(both)).toEqual({ range: 'private', carried: { ipv4: '10.0.0.1', form: 'Teredo server' } });
    // With loopback allowed, the private half still refuses it.
    expect(refusalOf(both, { allowPrivate: false, allowLoopback: true })).toMatch(
      /Teredo server form of 10\.0\.0\.1\): a private address/,
    );
  });

  it.each([
    ['2606:4700:4700::1111', 'unicast'],
    ['2a00:1450:4001:80b::200e', 'unicast'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fd00::1', 'uniqueLocal'],
    ['fe80::1', 'linkLocal'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'reserved'],
    // Outside 2000::/3, where no public address is, and no IPv4 form either.
    ['::1:0:0:1', 'reserved'],
    ['64:ff9b:0:0:1::1', 'reserved'],
    // Local-use NAT64: where the IPv4 address sits is the network's choice, so none is trusted.
    ['64:ff9b:1::808:808', 'nat64LocalUse'],
    ['64:ff9b:1::a00:1', 'nat64LocalUse'],
  ])('IPv6 %s is %s, as itself', (address, range) => {
    expect(classify(address)).toEqual({ range });
    expect(refusalOf(address, STRICT) === undefined).toBe(range === 'unicast');
  });

  it('a URL host written as any IPv6 form of a loopback address is a loopback host (refused at submission in production)', () => {
    const loopbackHosts = Object.values(CARRYING_FORMS).map(
      (write) => new URL(`https://[${write('127.0.0.1')}]/hook`).hostname,
    );
    for (const host of ['localhost', '127.0.0.1', '127.1.2.3', '[::1]', ...loopbackHosts])
      expect(isLoopbackHost(host), host).toBe(true);
    for (const host of ['example.com', '10.0.0.1', '[::ffff:10.0.0.1]', '[2606:4700:4700::1111]', '[::]'])
      expect(isLoopbackHost(host), host).toBe(false);
    for (const host of loopbackHosts) {
      expect(webhookUrlProblem(`https://${host}/hook`, { allowLoopback: false })).toBe(
        'must not point at this machine (a loopback address)',
      );
    }
  });
});

/** The address:port of every connection this process tries while `run` runs. */
async function connectionAttemptsDuring<T>(run: () => Promise<T>): Promise<{ result: T; attempts: string[] }> {
  const attempts: string[] = [];
  const onSocket = (message: unknown) => {
    const { socket } = message as { socket: Socket };
    socket.on('connectionAttempt', (ip: string, port: number) => attempts.push(`${ip}:${port}`));
  };
  subscribe('net.client.socket', onSocket);
  try {
    return { result: await run(), attempts };
  } finally {
    unsubscribe('net.client.socket', onSocket);
  }
}

describe('delivery to an IPv6 form that carries a non-public IPv4 address', () => {
  let target: Awaited<ReturnType<typeof countingServer>>;
  beforeAll(async () => {
    target = await countingServer();
  });
  afterAll(() => target?.server.close());

  // Plain http: an https request opens its socket without the 'net.client.socket' notice. The address check is the same.
  const send = (host: string, allowPrivate: boolean) =>
    sendWebhook({
      url: `http://${host}:${target.port}/hook`,
      body: '{}',
      headers: {},
      timeoutMs: 2_000,
      allowPrivate,
      allowLoopback: false,
    });
  const toTarget = (attempts: string[]) => attempts.filter((attempt) => attempt.endsWith(`:${target.port}`));

  it('is refused before any connection is tried', async () => {
    const cases = [
      ['[::127.0.0.1]', /^refused to connect to ::7f00:1 \(IPv4-compatible form of 127\.0\.0\.1\): a loopback address/],
      [
        '[::ffff:127.0.0.1]',
        /^refused to connect to ::ffff:7f00:1 \(IPv4-mapped form of 127\.0\.0\.1\): a loopback address/,
      ],
      [
        '[::ffff:0:10.1.2.3]',
        /^refused to connect to ::ffff:0:a01:203 \(IPv4-translated form of 10\.1\.2\.3\): a private address/,
      ],
      [
        '[2002:a9fe:a9fe::1]',
        /^refused to connect to 2002:a9fe:a9fe::1 \(6to4 form of 169\.254\.169\.254\): a linkLocal address/,
      ],
    ] as const;
    for (const [host, error] of cases) {
      const { result, attempts } = await connectionAttemptsDuring(() => send(host, false));
      expect(result, host).toEqual({ status: null, delivered: false, error: expect.stringMatching(error) });
      expect(toTarget(attempts), host).toEqual([]);
    }
    expect(target.connections()).toBe(0);
  });

  it('(the check above can see one: with WEBHOOK_ALLOW_PRIVATE the IPv4-mapped loopback address is connected to)', async () => {
    const { result, attempts } = await connectionAttemptsDuring(() => send('[::ffff:127.0.0.1]', true));
    expect(result.delivered).toBe(false);
    expect(result.error).not.toMatch(/refused to connect/);
    expect(toTarget(attempts)).toEqual([`::ffff:7f00:1:${target.port}`]);
    await eventually(
      () => target.connections(),
      (n) => n === 1,
    );
  });
});

describe('retry schedule', () => {
  it('doubles from WEBHOOK_RETRY_BASE_MS up to WEBHOOK_RETRY_MAX_MS, with ±25 % jitter', () => {
    const defaults = { retryBaseMs: 5_000, retryMaxMs: 3_600_000 };
    expect([1, 2, 3, 4, 10, 11, 30].map((n) => retryDelayMs(n, defaults, () => 0.5))).toEqual([
      5_000, 10_000, 20_000, 40_000, 2_560_000, 3_600_000, 3_600_000,
    ]);
    expect(retryDelayMs(1, defaults, () => 0)).toBe(3_750);
    expect(retryDelayMs(1, defaults, () => 0.999999)).toBe(6_250);
  });
});

describe('WEBHOOK_SIGNING_SECRET', () => {
  it('must be whsec_ and 24 to 64 bytes of base64; the message names the variable, never the value', () => {
    for (const bad of [
      'secret',
      'whsec_',
      `whsec_${randomBytes(16).toString('base64')}`,
      `whsec_${randomBytes(80).toString('base64')}`,
      'whsec_not base64!',
    ]) {
      let error: unknown;
      try {
        loadConfig({ WEBHOOK_SIGNING_SECRET: bad });
      } catch (thrown) {
        error = thrown;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(
        /WEBHOOK_SIGNING_SECRET: must be whsec_ followed by 24 to 64 random bytes/,
      );
      if (bad.length > 10) expect((error as Error).message).not.toContain(bad);
    }
    expect(loadConfig({ WEBHOOK_SIGNING_SECRET: SIGNING_SECRET }).webhooks.signingSecret).toBe(SIGNING_SECRET);
    expect(() => loadConfig({ WEBHOOK_ALLOW_PRIVATE: 'yes' })).toThrow(/WEBHOOK_ALLOW_PRIVATE/);
  });
});
