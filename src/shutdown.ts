/**
 * How the gateway stops, in an order that loses nothing on a deploy: traffic is turned away first,
 * submissions under way are finished and recorded, live streams are cut (not completed) so their
 * clients reconnect to the next gateway, and only then do the background loops hand back their leases
 * and the connections close.
 */
import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from './log.ts';
import type { GatewayServices } from './services.ts';
import type { GraphQLWebSocket } from './websocket.ts';

export interface Running {
  services: GatewayServices;
  server: Server;
  webSocket: GraphQLWebSocket;
  /** How long submissions under way may take to finish and be recorded. */
  drainMs: number;
  /** False when the caller lent the database and closes it itself. */
  ownsDatabase: boolean;
  log: Logger;
  /** What asked for the stop (SIGTERM), for the log. */
  reason?: string | undefined;
}

export async function shutDown({
  services,
  server,
  webSocket,
  drainMs,
  ownsDatabase,
  log,
  reason,
}: Running): Promise<void> {
  const startedAt = Date.now();
  const {
    readiness,
    predictions,
    events,
    credentials,
    poller,
    dispatcher,
    mirror,
    uploads,
    atlas,
    recorder,
    simulator,
    tracing,
  } = services;
  // Said first, so an operator watching a deploy knows what the pause that follows is waiting for.
  const submissions = predictions.submitting;
  log.info('gateway draining', {
    reason,
    submissionsUnderWay: submissions,
    openStreams: events.openStreams,
    waitsUpToMs: drainMs,
    waitsFor:
      submissions > 0
        ? 'submissions under way to be recorded; then streams are cut and background work hands back its leases'
        : 'streams to be cut and background work to hand back its leases',
  });
  // First of all, tell the load balancer to send no more traffic here.
  readiness.drain();
  webSocket.refuseNew();
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  // Submissions under way finish and are recorded: a paid job is never left half-stored.
  await predictions.drain(drainMs);
  if (predictions.submitting > 0)
    log.warn('stopping with submissions still under way after the drain time', {
      submissionsUnderWay: predictions.submitting,
      drainMs,
    });
  // Cut the SSE streams rather than complete them: a completed stream tells a client the
  // subscription is over, a cut one makes it reconnect (to this gateway's successor) and get
  // the current state first, so a deploy loses no client.
  server.closeAllConnections();
  // WebSockets the same way: 1001 Going Away, which graphql-ws clients answer by reconnecting.
  await webSocket.close();
  await events.stop();
  credentials.stop();
  await readiness.stop();
  await Promise.race([closed, sleep(1_000)]);
  await poller.stop();
  // Messages not yet delivered stay in the outbox for any other gateway, or the next one.
  await dispatcher?.stop();
  await mirror.stop();
  await uploads.stop();
  atlas.close();
  // What is still unrecorded stays in the journal on disk for the next process.
  recorder.stop();
  await simulator?.close();
  if (ownsDatabase) await services.database.close();
  // Last: the spans of everything above are sent before the process ends.
  await tracing.close();
  log.info('gateway stopped', { reason, ms: Date.now() - startedAt });
}
