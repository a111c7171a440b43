/**
 * happyhorse-gateway/webhooks' verifyWebhook on the gateway's real outbound deliveries (a receiver
 * over real HTTP, the fake Atlas): the typed event from a genuine one, whichever form the body and
 * headers come in; a tampered body, a wrong secret, missing headers and an old timestamp refused, each
 * with its reason.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import {
  type PredictionWebhookData,
  type PredictionWebhookEvent,
  verifyWebhook,
  WebhookVerificationError,
} from '../packages/client/src/webhooks/index.ts';
import type { PredictionData } from '../src/webhooks/outbound/event.ts';
import { post } from './support/auth.ts';
import { wrapped } from './support/fakeAtlas.ts';
import { eventually, gatewayFixture } from './support/gateway.ts';
import { type ReceivedWebhook, WebhookReceiver } from './support/webhookReceiver.ts';

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;

type Generated = { generateVideo: { prediction: { id: string } } };
const GENERATE = 'mutation G($input: GenerateVideoInput!) { generateVideo(input: $input) { prediction { id } } }';

/** The refusal verifyWebhook throws for these options (fails the test if it returns). */
function refusal(options: Parameters<typeof verifyWebhook>[0]): WebhookVerificationError {
  try {
    verifyWebhook(options);
  } catch (error) {
    expect(error).toBeInstanceOf(WebhookVerificationError);
    return error as WebhookVerificationError;
  }
  throw new Error('verifyWebhook accepted it');
}

describe('verifyWebhook on the gateway’s real deliveries', () => {
  const t = gatewayFixture('pglite', { WEBHOOK_SIGNING_SECRET: SECRET, WEBHOOK_SWEEP_MS: '60000' });
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    receiver = await WebhookReceiver.start(SECRET);
  });
  afterAll(() => receiver?.close());
  beforeEach(async () => {
    await t.db.truncate();
    receiver.reset();
    t.fake.reset();
  });
  afterEach(() => vi.useRealTimers());

  /** Submit a job with a webhook for these events, and wait for `count` deliveries to this path. */
  async function delivered(path: string, events: string[], count: number): Promise<ReceivedWebhook[]> {
    const reply = await post<Generated>(t.gw.url, undefined, GENERATE, {
      input: { prompt: 'a horse', webhook: { url: `${receiver.url}${path}`, events } },
    });
    expect(reply.body.errors).toBeUndefined();
    return eventually(
      () => receiver.at(path),
      (hooks) => hooks.length >= count,
    );
  }

  it('returns the typed event of a genuine delivery, from a string or the bytes, with Node or fetch headers', async () => {
    const [hook] = await delivered('/done', ['COMPLETED'], 1);
    const event = verifyWebhook({ body: hook!.body, headers: hook!.headers, secret: SECRET });
    expect(event).toEqual(JSON.parse(hook!.body));
    expect(event.type).toBe('prediction.completed');
    expect(event.data).toMatchObject({ status: 'SUCCEEDED', videoUrl: 'https://cdn.example/job_1.mp4' });

    // A Buffer from express.raw() and a fetch Request's Headers (Next.js, Hono, workers) do the same.
    const fromBytes = verifyWebhook({ body: Buffer.from(hook!.body), headers: hook!.headers, secret: SECRET });
    const fetchHeaders = new Headers(hook!.headers as Record<string, string>);
    const fromFetch = verifyWebhook({
      body: new TextEncoder().encode(hook!.body),
      headers: fetchHeaders,
      secret: SECRET,
    });
    expect(fromBytes).toEqual(event);
    expect(fromFetch).toEqual(event);
  });

  it('types every event the gateway sends, STARTED included', async () => {
    t.fake.newJob = (n) => ({ id: `held_${n}`, script: [wrapped({ id: `held_${n}`, status: 'processing' })] });
    const [started] = await delivered('/started', ['STARTED'], 1);
    const event = verifyWebhook({ body: started!.body, headers: started!.headers, secret: SECRET });
    expect(event).toMatchObject({ type: 'prediction.started', data: { status: 'PROCESSING', upstreamId: 'held_1' } });
  });

  it('refuses a tampered body and a wrong secret as BAD_SIGNATURE', async () => {
    const [hook] = await delivered('/tamper', ['COMPLETED'], 1);
    const tampered = hook!.body.replace('"status":"SUCCEEDED"', '"status":"FAILED"');
    expect(tampered).not.toBe(hook!.body);
    const changed = refusal({ body: tampered, headers: hook!.headers, secret: SECRET });
    expect(changed.reason).toBe('BAD_SIGNATURE');
    expect(changed.message).toContain('a body changed on the way (verify the raw bytes, before parsing JSON)');

    const other = `whsec_${randomBytes(32).toString('base64')}`;
    const wrongSecret = refusal({ body: hook!.body, headers: hook!.headers, secret: other });
    expect(wrongSecret.reason).toBe('BAD_SIGNATURE');
    expect(wrongSecret.message).toContain("a wrong secret (use the gateway's WEBHOOK_SIGNING_SECRET)");

    const { 'webhook-signature': _dropped, ...unsigned } = hook!.headers;
    const missing = refusal({ body: hook!.body, headers: unsigned, secret: SECRET });
    expect(missing).toMatchObject({
      reason: 'MISSING_HEADERS',
      message: 'Not a signed webhook: missing the webhook-signature header',
    });
  });

  it('refuses the same genuine delivery when it comes more than 5 minutes after it was signed', async () => {
    const [hook] = await delivered('/late', ['COMPLETED'], 1);
    // The signature still matches: only the age refuses it (a replay).
    expect(verifyWebhook({ body: hook!.body, headers: hook!.headers, secret: SECRET }).type).toBe(
      'prediction.completed',
    );
    const signedAt = Number(hook!.headers['webhook-timestamp']);
    vi.useFakeTimers({ toFake: ['Date'], now: (signedAt + 301) * 1000 });
    const late = refusal({ body: hook!.body, headers: hook!.headers, secret: SECRET });
    expect(late.reason).toBe('TIMESTAMP_TOO_OLD');
    expect(late.message).toBe(
      "The webhook was signed 301 s ago, more than the 300 s allowed: a replay, or this machine's clock is off",
    );
  });

  it("carries the gateway's event fields, no more and no fewer (checked by tsc)", () => {
    expectTypeOf<keyof PredictionWebhookData>().toEqualTypeOf<keyof PredictionData>();
    // What the gateway builds (its model a union of known ids) fits the published type.
    expectTypeOf<PredictionData extends PredictionWebhookData ? true : false>().toEqualTypeOf<true>();
    expectTypeOf<PredictionWebhookEvent['type']>().toEqualTypeOf<
      'prediction.started' | 'prediction.updated' | 'prediction.completed'
    >();
  });
});
