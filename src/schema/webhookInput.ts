import { z } from 'zod';
import { WEBHOOK_EVENT_KINDS } from '../db/schema.ts';
import { MAX_WEBHOOK_URL_LENGTH, webhookUrlProblem } from '../webhooks/outbound/url.ts';
import { builder } from './builder.ts';

export const WebhookEvent = builder.enumType('WebhookEvent', {
  description:
    'What a webhook reports: STARTED (Atlas took the job), UPDATED (any other change while it runs), COMPLETED (any final state).',
  values: WEBHOOK_EVENT_KINDS,
});

export const WebhookInput = builder.inputType('WebhookInput', {
  description:
    "Your backend, told of this job's changes by signed POSTs (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature), retried for 24 hours.",
  fields: (t) => ({
    url: t.string({
      required: true,
      description: `https (plain http only to localhost outside production), at most ${MAX_WEBHOOK_URL_LENGTH} characters, no user or password. Private and loopback addresses are refused unless the gateway allows them.`,
    }),
    events: t.field({ type: [WebhookEvent], description: 'Which events to send; default [COMPLETED].' }),
  }),
});

/**
 * The rules that do not depend on the gateway's configuration; generate.ts adds those that do (a
 * signing secret is set; loopback only outside production).
 */
export const webhookInputRules = z.object({
  url: z.string().superRefine((url, ctx) => {
    const problem = webhookUrlProblem(url, { allowLoopback: true });
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }),
  events: z
    .array(z.enum(WEBHOOK_EVENT_KINDS))
    .min(1, 'must name at least one event (leave it out for COMPLETED only)')
    .nullish(),
});
