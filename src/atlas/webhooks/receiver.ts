import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { ATLAS_WEBHOOK_PATH } from '../../config.ts';
import type { Db } from '../../db/database.ts';
import { findByAtlasWebhookToken } from '../../db/queries/findByAtlasWebhookToken.ts';
import { pruneAtlasWebhookDeliveries } from '../../db/queries/pruneAtlasWebhookDeliveries.ts';
import { recordAtlasWebhookDelivery } from '../../db/queries/recordAtlasWebhookDelivery.ts';
import { isDatabaseUnavailable } from '../../db/unavailable.ts';
import type { Logger } from '../../log.ts';
import type { JobMetrics } from '../../observability/metrics.ts';
import { type Transitions, withTransitions } from '../../predictions/transitions.ts';
import { changeFromUpstream } from '../../predictions/upstreamChange.ts';
import type { SecretRedactor } from '../../redact.ts';
import { isTerminal } from '../../vocabulary.ts';
import { requestIdFrom } from '../untrusted.ts';
import { readDelivery } from './delivery.ts';
import type { AtlasWebhookKeys } from './keys.ts';
import { hashAtlasWebhookToken } from './token.ts';

/** Bodies are a few hundred bytes; nothing past this is read. */
export const MAX_ATLAS_WEBHOOK_BYTES = 1024 * 1024;
/** Deliveries signed more than this far from our clock, either way, are refused (replay window). */
export const ATLAS_WEBHOOK_TOLERANCE_S = 5 * 60;
/** Delivery ids are kept this long: well past the replay window, whatever the clocks of other gateways say. */
const KEEP_DELIVERY_IDS_MS = 60 * 60_000;
const PRUNE_EVERY_MS = 5 * 60_000;
/**
 * A delivery can overtake the create call's reply (a job that fails at once): its job's upstream id
 * is then about to be stored, so it is read again for this long before the delivery is turned away.
 */
const UPSTREAM_ID_WAIT_MS = 3_000;

export const ATLAS_WEBHOOK_HEADERS = {
  signature: 'x-atlascloud-webhook-signature-ed25519',
  keyId: 'x-atlascloud-webhook-key-id',
  timestamp: 'x-atlascloud-webhook-timestamp',
  deliveryId: 'x-atlascloud-webhook-id',
  event: 'x-atlascloud-webhook-event',
} as const;

export interface AtlasWebhookReceiverOptions {
  db: Db;
  log: Logger;
  keys: AtlasWebhookKeys;
  /** Cleans our API key out of the body, as for every upstream reply. */
  redactor: SecretRedactor;
  /** Epoch milliseconds. */
  clock?: () => number;
  /** Jobs ended here, for metrics. */
  metrics?: JobMetrics;
}

/** Why a delivery was not applied; `status` is the HTTP answer. */
class DeliveryRefused extends Error {
  constructor(
    readonly status: 400 | 401 | 405 | 409 | 413 | 503,
    readonly reason: string,
  ) {
    super(reason);
  }
}

/**
 * POST /webhooks/atlas/<token>: one signed delivery from Atlas at a job's end. Believed only once
 * verified, in this order: the size (1 MB), the timestamp (5 minutes either way), the Ed25519
 * signature over `<timestamp>.<raw body>` with the key the JWKS has for the key id, then the token
 * (it names the job) and the body's session id (it must be that job's upstream id; a job with none,
 * whose submitter died mid-create, adopts it). Only then is the
 * body parsed as a prediction and applied exactly as a poll result would be (Transitions.apply: a
 * version bump and NOTIFY, a no-op on a finished job), in one transaction with the note of its
 * delivery id and its body's hash, so a repeat, on any gateway, changes nothing: the same id, or the
 * same signed body replayed under a new id (ids are not signed). Anything refused is logged with why.
 */
export function atlasWebhookReceiver(options: AtlasWebhookReceiverOptions) {
  const { db, log, keys, redactor, clock = Date.now } = options;
  let lastPrune = 0;

  async function receive(
    req: IncomingMessage,
  ): Promise<{ status: 200 | 202; outcome: string; predictionId: string; deliveryId: string }> {
    if (req.method !== 'POST') throw new DeliveryRefused(405, `method ${req.method ?? '?'}`);
    // Tokens are base64url, which needs no escaping: anything else simply matches no job.
    const token = new URL(req.url ?? '/', 'http://gateway').pathname.slice(ATLAS_WEBHOOK_PATH.length);
    const rawBody = await readRawBody(req);

    const header = (name: string) => {
      const value = req.headers[name];
      return typeof value === 'string' ? value : undefined;
    };
    // Printable, short, and free of our key, or not taken (they go to the log and the database).
    const keyId = requestIdFrom(header(ATLAS_WEBHOOK_HEADERS.keyId) ?? null, redactor);
    const deliveryId = requestIdFrom(header(ATLAS_WEBHOOK_HEADERS.deliveryId) ?? null, redactor);
    const timestamp = header(ATLAS_WEBHOOK_HEADERS.timestamp);
    const signature = header(ATLAS_WEBHOOK_HEADERS.signature);
    if (!signature) throw new DeliveryRefused(401, `no ${ATLAS_WEBHOOK_HEADERS.signature} header`);
    if (!keyId) throw new DeliveryRefused(401, `no usable ${ATLAS_WEBHOOK_HEADERS.keyId} header`);
    if (!deliveryId) throw new DeliveryRefused(401, `no usable ${ATLAS_WEBHOOK_HEADERS.deliveryId} header`);
    if (!timestamp || !/^\d{1,12}$/.test(timestamp))
      throw new DeliveryRefused(401, `no usable ${ATLAS_WEBHOOK_HEADERS.timestamp} header (Unix seconds)`);
    const skewS = Math.abs(clock() / 1000 - Number(timestamp));
    if (skewS > ATLAS_WEBHOOK_TOLERANCE_S)
      throw new DeliveryRefused(
        401,
        `timestamp ${Math.round(skewS)} s away from now (at most ${ATLAS_WEBHOOK_TOLERANCE_S} s)`,
      );

    const signed = Buffer.concat([Buffer.from(`${timestamp}.`, 'utf8'), rawBody]);
    const check = await keys.verify(keyId, signed, signature);
    if (!check.ok) throw new DeliveryRefused(401, `${check.reason} (key id ${keyId})`);

    // Verified: Atlas sent this body for some job. Which one is the token's to say, and the body must agree.
    const tokenHash = hashAtlasWebhookToken(token);
    let job = tokenHash ? await findByAtlasWebhookToken(db, tokenHash) : undefined;
    if (!job) throw new DeliveryRefused(401, 'the token belongs to no job');
    for (
      const startedAt = clock();
      !job.upstreamId && job.status === 'STARTING' && clock() - startedAt < UPSTREAM_ID_WAIT_MS;
    ) {
      await sleep(50);
      job = (await findByAtlasWebhookToken(db, tokenHash!)) ?? job;
    }
    const delivery = readDelivery(rawBody.toString('utf8'), redactor);
    if (!delivery.ok) throw new DeliveryRefused(400, delivery.reason);
    if (delivery.redacted > 0)
      log.warn('atlas webhook carried the API key; redacted', { predictionId: job.id, strings: delivery.redacted });
    // No id stored: the process submitting it died before it could store Atlas' reply (a kill -9
    // mid-create). Atlas signed this for the job's own token, so its session_id (read and checked
    // like a create reply's id) is that job's id.
    const adopting = !job.upstreamId;
    if (!adopting && delivery.sessionId !== job.upstreamId)
      throw new DeliveryRefused(401, `session_id is not this job's (prediction ${job.id})`);

    const now = new Date(clock());
    const change = changeFromUpstream(delivery.prediction, now);
    // The same body for the same job is applied once, whatever delivery id it comes under (the id is not signed).
    const bodySha256 = createHash('sha256').update(rawBody).digest('hex');
    const source = { via: 'atlas webhook', deliveryId } as const;
    let adopted: Awaited<ReturnType<Transitions['adoptUpstreamId']>>;
    // The job it ends is counted and logged once this commits, as the poller's are.
    const outcome = await withTransitions(db, { log, metrics: options.metrics }, async (transitions) => {
      const received = { deliveryId, predictionId: job.id, bodySha256, receivedAt: now };
      if (!(await recordAtlasWebhookDelivery(transitions.tx, received))) return 'duplicate';
      if (adopting) {
        adopted = await transitions.adoptUpstreamId(job.id, {
          upstreamId: delivery.sessionId,
          upstreamStatus: change.upstreamStatus ?? null,
          now,
        });
        // Stored meanwhile (by its submitter, late): rolled back, and Atlas' retry is matched against it.
        if (!adopted)
          throw new DeliveryRefused(409, `the job's upstream id was stored meanwhile (prediction ${job.id})`);
        // Ended already (SUBMISSION_UNKNOWN at its deadline, say): it keeps its end, see README.
        if (isTerminal(adopted.status)) return 'already finished';
        // Still running upstream: from now on it is polled like any job with an id.
        if (!change.status || !isTerminal(change.status)) {
          await transitions.apply(job.id, { ...change, nextPollAt: now }, { source });
          return 'not terminal';
        }
      }
      if (!change.status || !isTerminal(change.status)) return 'not terminal';
      const finished = await transitions.apply(job.id, { ...change, nextPollAt: null }, { source });
      return finished ? 'applied' : 'already finished';
    });
    if (adopted) {
      // Its submitter died before storing Atlas' reply (or that reply is later than this delivery).
      log.warn('adopted the upstream id an atlas webhook named for a job that had none stored', {
        predictionId: job.id,
        upstreamId: delivery.sessionId,
        // An end other than this webhook's stays (not reopened): then Atlas' job is reachable only by this id.
        ...(isTerminal(adopted.status) ? { keptStatus: adopted.status, keptErrorCode: adopted.errorCode } : {}),
      });
    }
    void prune();
    return { status: outcome === 'not terminal' ? 202 : 200, outcome, predictionId: job.id, deliveryId };
  }

  async function prune(): Promise<void> {
    if (clock() - lastPrune < PRUNE_EVERY_MS) return;
    lastPrune = clock();
    try {
      await pruneAtlasWebhookDeliveries(db, new Date(clock() - KEEP_DELIVERY_IDS_MS));
    } catch (error) {
      log.warn('pruning old atlas webhook delivery ids failed', { error });
    }
  }

  return async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const { status, outcome, predictionId, deliveryId } = await receive(req);
      log.debug('atlas webhook received', { predictionId, deliveryId, outcome });
      send(res, status, { status: outcome });
    } catch (error) {
      const refused =
        error instanceof DeliveryRefused
          ? error
          : isDatabaseUnavailable(error)
            ? new DeliveryRefused(503, 'the database cannot be reached')
            : undefined;
      if (!refused) {
        log.error('atlas webhook failed unexpectedly', { error });
        return send(res, 500, { error: 'internal error' });
      }
      // The token is never logged: it is the job's secret. The reason says what failed.
      log.warn('atlas webhook refused', { httpStatus: refused.status, reason: refused.reason });
      if (refused.status === 413) {
        // The rest of the body is not read: drop the connection once the answer is out.
        res.setHeader('connection', 'close');
        req.resume();
      }
      if (refused.status === 405) res.setHeader('allow', 'POST');
      send(res, refused.status, { error: refused.status === 401 ? 'unverified delivery' : refused.reason });
    }
  };
}

/** The body as bytes, or DeliveryRefused(413) past the cap: at once by Content-Length, else at the first chunk over it. */
async function readRawBody(req: IncomingMessage): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  if (declared > MAX_ATLAS_WEBHOOK_BYTES)
    throw new DeliveryRefused(413, `body of ${declared} bytes (at most ${MAX_ATLAS_WEBHOOK_BYTES})`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_ATLAS_WEBHOOK_BYTES) throw new DeliveryRefused(413, `body over ${MAX_ATLAS_WEBHOOK_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, size);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}
