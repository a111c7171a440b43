import type { WebhookAttemptRow } from '../db/schema.ts';
import { builder } from './builder.ts';
import { notFound } from './errors.ts';
import { Prediction } from './prediction.ts';
import { WebhookEvent } from './webhookInput.ts';

const PredictionWebhook = builder
  .objectRef<{ url: string; events: Array<'STARTED' | 'UPDATED' | 'COMPLETED'> }>('PredictionWebhook')
  .implement({
    description: "Where this job's events go.",
    fields: (t) => ({
      url: t.exposeString('url'),
      events: t.expose('events', { type: [WebhookEvent] }),
    }),
  });

const WebhookDelivery = builder.objectRef<WebhookAttemptRow>('WebhookDelivery').implement({
  description: "One attempt at sending a webhook message to the caller's backend.",
  fields: (t) => ({
    messageId: t.string({
      description:
        'The webhook-id header: the same on every retry of one message; redeliverWebhook makes a new message.',
      resolve: (attempt) => `msg_${attempt.messageId}`,
    }),
    event: t.expose('event', { type: WebhookEvent }),
    attemptedAt: t.expose('attemptedAt', { type: 'DateTime' }),
    httpStatus: t.exposeInt('httpStatus', {
      nullable: true,
      description: "The receiver's answer; null when none came.",
    }),
    error: t.exposeString('error', {
      nullable: true,
      description:
        'Why it did not count as delivered: a non-2xx status, a redirect (never followed), a timeout, a refused address, a connection error.',
    }),
    durationMs: t.exposeInt('durationMs'),
    delivered: t.exposeBoolean('delivered', { description: 'The receiver answered 2xx.' }),
    nextAttemptAt: t.expose('nextAttemptAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When this message is tried again; null once delivered, or when retries have run out (24 hours).',
    }),
  }),
});

builder.objectFields(Prediction, (t) => ({
  webhook: t.field({
    type: PredictionWebhook,
    nullable: true,
    description: 'The webhook given at submission; null if none.',
    resolve: (p) => (p.webhookUrl ? { url: p.webhookUrl, events: p.webhookEvents ?? ['COMPLETED'] } : null),
  }),
  webhookDeliveries: t.field({
    type: [WebhookDelivery],
    description: "Every attempt at this job's webhook messages, oldest first (the latest 200).",
    // Reached only through a prediction the caller may see, so the attempts are theirs to see too.
    resolve: (p, _args, { predictions }) => predictions.webhookAttempts(p),
  }),
}));

builder.mutationField('redeliverWebhook', (t) =>
  t.field({
    type: Prediction,
    description:
      "Send the job's last webhook event again, as a new message (a new webhook-id) with retries of its own. Refused (BAD_USER_INPUT) when the job has no webhook or no event yet.",
    args: { predictionId: t.arg.id({ required: true }) },
    resolve: async (_root, { predictionId }, { predictions, principal }) => {
      const row = await predictions.redeliverWebhook(principal, String(predictionId));
      if (!row) throw notFound(`Prediction ${predictionId}`);
      return row;
    },
  }),
);
