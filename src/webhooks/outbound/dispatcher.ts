import { randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { Claims, leasedWrite, logLeaseLost, retryClaimInMs } from '../../background/leasedWrite.ts';
import type { LoopHealth } from '../../background/loopHealth.ts';
import { SingleFlight } from '../../background/singleFlight.ts';
import { WakeTimes } from '../../background/wakeTimes.ts';
import type { Database } from '../../db/database.ts';
import { type ClaimedWebhook, claimDueWebhooks, releaseWebhookLease } from '../../db/queries/claimDueWebhooks.ts';
import { WEBHOOK_CHANNEL } from '../../db/queries/enqueueWebhook.ts';
import { recordWebhookAttempt, releaseWebhook } from '../../db/queries/recordWebhookAttempt.ts';
import type { Logger } from '../../log.ts';
import { sendWebhook } from './send.ts';

export interface DispatcherOptions {
  database: Database;
  log: Logger;
  /** WEBHOOK_SIGNING_SECRET, `whsec_…`. */
  signingSecret: string;
  allowPrivate: boolean;
  allowLoopback: boolean;
  timeoutMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /** How long after it was queued a message is still retried. */
  retryForMs: number;
  /** Deliveries in flight at once, per process. */
  concurrency: number;
  /** How often to look for due messages without a notice: retries, and messages whose lease ran out. */
  sweepMs: number;
  /** Past the attempt's own timeout, for the database writes around it: a live deliverer never loses its lease. */
  leaseMarginMs: number;
  /** Where the dispatcher reports each completed claim, for /ready. */
  health?: LoopHealth;
}

export interface Dispatcher {
  stop(): Promise<void>;
}

/**
 * A claim also takes messages due this soon: a timer set for a retry can fire a millisecond before
 * Date.now() reaches it, and would then find nothing and leave the retry to the sweep.
 */
const DUE_SLACK_MS = 25;
/** At stop, how long deliveries under way may take to finish before they are cut and handed back. */
const STOP_GRACE_MS = 2_000;

/**
 * The delay before attempt n+1 after n failed ones: retryBaseMs doubling, capped at retryMaxMs, then
 * ±25 % jitter so receivers coming back up are not hit by every message at once.
 */
export function retryDelayMs(
  failedAttempts: number,
  { retryBaseMs, retryMaxMs }: Pick<DispatcherOptions, 'retryBaseMs' | 'retryMaxMs'>,
  random = Math.random,
): number {
  const delay = Math.min(retryMaxMs, retryBaseMs * 2 ** Math.min(failedAttempts - 1, 30));
  return Math.round(delay * (0.75 + random() / 2));
}

/**
 * Delivers the outbox. Each gateway process runs one; they share messages through leases in the
 * database (claimDueWebhooks). A notice on WEBHOOK_CHANNEL (sent on commit of the change) wakes it at
 * once; a timer for each of this process' own retries, and a sweep every `sweepMs`, catch the rest.
 */
export async function startWebhookDispatcher(options: DispatcherOptions): Promise<Dispatcher> {
  const { database, log, concurrency } = options;
  const signer = new Webhook(options.signingSecret);
  const running = new Map<string, { done: Promise<void>; abort: AbortController }>();
  let stopped = false;
  const loop = options.health?.register('webhook dispatcher', options.sweepMs);
  const claims = new Claims({
    onHandBackFailed: (error) =>
      log.error('handing back an unanswered webhook claim failed; its messages wait out their lease', { error }),
  });
  const claiming = new SingleFlight(() =>
    claim().catch((error: unknown) => {
      if (stopped) return;
      log.error('claiming webhook deliveries failed', { error });
      loop?.failed(error);
      // Soon, rather than at the next notice or sweep: messages may be due now.
      retries.at(Date.now() + retryClaimInMs());
    }),
  );

  /** Claim due messages now, or right after the claim under way. */
  const wake = () => claiming.run();
  /** This process' own retries, each claimed when due rather than at the next sweep. */
  const retries = new WakeTimes(wake);

  async function claim(): Promise<void> {
    const room = concurrency - running.size;
    if (room <= 0) return loop?.completed();
    const now = Date.now();
    const lease = new Date(now + options.timeoutMs + options.leaseMarginMs);
    const claimed = await claims.take(
      lease,
      () => claimDueWebhooks(database.db, { limit: room, now: new Date(now + DUE_SLACK_MS), leaseUntil: lease }),
      () => releaseWebhookLease(database.db, lease),
    );
    loop?.completed();
    for (const message of claimed) start(message);
    // A full claim may have left more behind: claim again once this one ends.
    if (claimed.length === room) wake();
  }

  function start(claimed: ClaimedWebhook): void {
    const abort = new AbortController();
    const done = deliver(claimed, abort.signal)
      .catch((error: unknown) => {
        // The lease runs out and the message is tried again: nothing is lost.
        if (!stopped) log.error('webhook delivery failed unexpectedly', { messageId: claimed.message.id, error });
      })
      .finally(() => {
        running.delete(claimed.message.id);
        wake();
      });
    running.set(claimed.message.id, { done, abort });
  }

  async function deliver(claimed: ClaimedWebhook, stopping: AbortSignal): Promise<void> {
    const { message } = claimed;
    const attemptedAt = new Date();
    const messageId = `msg_${message.id}`;
    // Signed at each attempt: the timestamp is part of the signature and receivers refuse old ones.
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'happyhorse-gateway-webhooks/1',
      'webhook-id': messageId,
      'webhook-timestamp': String(Math.floor(attemptedAt.getTime() / 1000)),
      'webhook-signature': signer.sign(messageId, attemptedAt, message.body),
    };
    const result = await sendWebhook({
      url: message.url,
      body: message.body,
      headers,
      timeoutMs: options.timeoutMs,
      allowPrivate: options.allowPrivate,
      allowLoopback: options.allowLoopback,
      signal: stopping,
    });
    if (stopping.aborted && !result.delivered) {
      // Cut short by shutdown: another deliverer sends it again (receivers drop repeats by webhook-id).
      await releaseWebhook(database.db, claimed);
      return;
    }
    const durationMs = Date.now() - attemptedAt.getTime();
    const failures = message.attempts + 1;
    let nextAttemptAt: Date | null = null;
    let gaveUp = false;
    if (!result.delivered) {
      const next = Date.now() + retryDelayMs(failures, options);
      if (next > message.createdAt.getTime() + options.retryForMs) gaveUp = true;
      else nextAttemptAt = new Date(next);
    }
    const attempt = {
      id: randomUUID(),
      attemptedAt,
      httpStatus: result.status,
      error: result.error,
      durationMs,
      delivered: result.delivered,
      nextAttemptAt,
      gaveUp,
    };
    const { result: held, retried } = await leasedWrite(() => recordWebhookAttempt(database.db, claimed, attempt), {
      leaseUntil: claimed.lease,
      onRetry: (error, n) =>
        log.warn('recording a webhook attempt failed; retrying while the lease lasts', {
          messageId,
          attempt: n,
          error,
        }),
    });
    const fields = {
      messageId,
      predictionId: message.predictionId,
      event: message.event,
      host: new URL(message.url).host,
      attempt: failures,
    };
    if (!held)
      logLeaseLost(
        log,
        retried,
        {
          lost: 'webhook lease lost; another deliverer has the message',
          retried: 'a retried webhook attempt record found its fence moved (applied before, or the lease passed on)',
        },
        fields,
      );
    if (result.delivered) log.info('webhook delivered', { ...fields, status: result.status, durationMs });
    else if (gaveUp) log.warn('webhook given up', { ...fields, status: result.status, error: result.error });
    else
      log.info('webhook attempt failed; will retry', {
        ...fields,
        status: result.status,
        error: result.error,
        nextAttemptAt,
      });
    if (held && nextAttemptAt) retries.at(nextAttemptAt.getTime());
  }

  const unlisten = await database.listen(
    WEBHOOK_CHANNEL,
    () => wake(),
    () => wake(),
  );
  const sweep = setInterval(wake, options.sweepMs);
  wake();

  return {
    async stop() {
      if (stopped) return;
      stopped = true;
      const claimEnded = claiming.stop();
      clearInterval(sweep);
      retries.stop();
      await unlisten().catch(() => {});
      await claimEnded;
      const inFlight = [...running.values()];
      const grace = new Promise<void>((resolve) => setTimeout(resolve, STOP_GRACE_MS).unref());
      await Promise.race([Promise.allSettled(inFlight.map((delivery) => delivery.done)), grace]);
      for (const delivery of inFlight) delivery.abort.abort();
      await Promise.allSettled(inFlight.map((delivery) => delivery.done));
    },
  };
}
