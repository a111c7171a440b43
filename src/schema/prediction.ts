import { type ResolveCursorConnectionArgs, resolveCursorConnection } from '@pothos/plugin-relay';
import { z } from 'zod';
import { DEFAULTS, rules } from '../atlas/happyhorse.ts';
import type { PredictionPosition } from '../db/queries/listPredictions.ts';
import type { PredictionRow } from '../db/schema.ts';
import { isPredictionId } from '../predictions/service.ts';
import type { OutputFileView } from '../storage/index.ts';
import {
  ASPECT_RATIO_ENUM,
  ASPECT_RATIOS,
  PREDICTION_STATUSES,
  RESOLUTION_ENUM,
  RESOLUTIONS,
  TERMINAL_STATUSES,
  UNFINISHED_STATUSES,
} from '../vocabulary.ts';
import { builder } from './builder.ts';
import { badUserInput, notFound } from './errors.ts';
import { withProgressTicks } from './progressTicks.ts';
import { WebhookInput, webhookInputRules } from './webhookInput.ts';

export const Resolution = builder.enumType('Resolution', { values: enumValues(RESOLUTION_ENUM) });

export const AspectRatio = builder.enumType('AspectRatio', { values: enumValues(ASPECT_RATIO_ENUM) });

/** A name → value map (vocabulary.ts) in the form Pothos takes an enum's values. */
function enumValues<const Names extends Record<string, string>>(names: Names) {
  return Object.fromEntries(Object.entries(names).map(([name, value]) => [name, { value }])) as {
    [Name in keyof Names]: { value: Names[Name] };
  };
}

/** "A", "A and B", "A, B and C". */
const inWords = (words: readonly string[]) =>
  words.length > 1 ? `${words.slice(0, -1).join(', ')} and ${words.at(-1)}` : (words[0] ?? '');

export const PredictionStatus = builder.enumType('PredictionStatus', {
  description: `${inWords(UNFINISHED_STATUSES)} are unfinished; ${inWords(TERMINAL_STATUSES)} are final.`,
  values: PREDICTION_STATUSES,
});

const OutputFile = builder.objectRef<OutputFileView>('OutputFile').implement({
  description: "One output video: the gateway's copy once mirrored, else Atlas Cloud's link.",
  fields: (t) => ({
    url: t.exposeString('url', {
      description:
        "Plays in a <video src> as is (byte ranges supported). The gateway's copies are signed links that expire at expiresAt: read the prediction again for a fresh one.",
    }),
    contentType: t.exposeString('contentType', { nullable: true, description: 'Known once copied, e.g. video/mp4.' }),
    sizeBytes: t.float({ nullable: true, description: 'Known once copied.', resolve: (file) => file.sizeBytes }),
    expiresAt: t.expose('expiresAt', {
      type: 'DateTime',
      nullable: true,
      description: "When url stops working; null for Atlas' own links, which Atlas expires (at most 14 days).",
    }),
  }),
});

export const Prediction = builder.objectRef<PredictionRow>('Prediction').implement({
  description: 'One video job, as stored by the gateway.',
  fields: (t) => ({
    id: t.exposeID('id'),
    status: t.expose('status', { type: PredictionStatus }),
    ownerId: t.exposeString('ownerId', {
      description: 'Who submitted it: a JWT subject, key:<API key id>, or anonymous.',
    }),
    tenantId: t.exposeString('tenantId', { nullable: true }),
    prompt: t.exposeString('prompt'),
    model: t.exposeString('model'),
    resolution: t.expose('resolution', { type: Resolution }),
    aspectRatio: t.expose('aspectRatio', { type: AspectRatio }),
    duration: t.exposeInt('duration', { description: 'Seconds.' }),
    seed: t.exposeInt('seed', { nullable: true }),
    upstreamId: t.exposeString('upstreamId', { nullable: true, description: "Atlas Cloud's id for the job." }),
    outputs: t.stringList({
      description:
        "Video URLs once SUCCEEDED: the gateway's copies (signed links; see outputFiles for when they expire) once mirrored, else Atlas Cloud's, which expire there.",
      resolve: async (p, _args, { videos }) => (await videos.links.files(p, videos.origin)).map((file) => file.url),
    }),
    videoUrl: t.string({
      nullable: true,
      description: 'The first of outputs.',
      resolve: async (p, _args, { videos }) => (await videos.links.files(p, videos.origin))[0]?.url ?? null,
    }),
    outputFiles: t.field({
      type: [OutputFile],
      description: 'The outputs with their type, size and link expiry.',
      resolve: (p, _args, { videos }) => videos.links.files(p, videos.origin),
    }),
    sourceUrls: t.exposeStringList('sourceUrls', {
      description: "Atlas Cloud's own links to the outputs; they expire there (at most 14 days).",
    }),
    mirrored: t.boolean({
      description:
        "The outputs are copied into the gateway's storage: outputs and videoUrl point at the copies, which do not expire.",
      resolve: (p) => p.mirroredAt !== null,
    }),
    mirrorError: t.exposeString('mirrorError', {
      nullable: true,
      description:
        "Why the last copy failed (outputs then keep Atlas' links, and the copy is retried unless it says otherwise); null once copied.",
    }),
    error: t.exposeString('error', { nullable: true }),
    errorCode: t.exposeString('errorCode', {
      nullable: true,
      description:
        'Why it failed: CONTENT_POLICY, TIMED_OUT, SUBMISSION_UNKNOWN (may have been billed), NO_OUTPUT, UPSTREAM_*, or an upstream error code.',
    }),
    predictTime: t.exposeFloat('predictTime', { nullable: true, description: 'Upstream compute time in seconds.' }),
    priceUsd: t.exposeFloat('priceUsd', {
      description: 'What the job costs if charged, from the configured prices at submission.',
    }),
    costUsd: t.exposeFloat('costUsd', {
      nullable: true,
      description:
        'What it was charged once finished: its price for SUCCEEDED, and for FAILED with SUBMISSION_UNKNOWN or TIMED_OUT (Atlas may have billed it); 0 otherwise; null while unfinished.',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    completedAt: t.expose('completedAt', { type: 'DateTime', nullable: true }),
    deadlineAt: t.expose('deadlineAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When an unfinished job ends FAILED with TIMED_OUT (timeoutSeconds, or the gateway default).',
    }),
    elapsedMs: t.int({
      description: 'Milliseconds from submission to now, or to the end once finished.',
      resolve: async (p, _args, { predictions }) => (await predictions.progress(p)).elapsedMs,
    }),
    estimatedProgress: t.float({
      nullable: true,
      description:
        'From 0 to 1, estimated from how long recent jobs of the same resolution and length took (Atlas reports no progress); below 1 until SUCCEEDED; null once FAILED or CANCELED.',
      resolve: async (p, _args, { predictions }) => (await predictions.progress(p)).estimatedProgress,
    }),
    estimatedCompletionAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the job is likely to finish, estimated like estimatedProgress; null once finished.',
      resolve: async (p, _args, { predictions }) => (await predictions.progress(p)).estimatedCompletionAt,
    }),
    progressIsEstimate: t.boolean({
      description: "True: the progress fields are the gateway's estimate, not reported by the model.",
      resolve: () => true,
    }),
  }),
});

const GenerateVideoInput = builder.inputType('GenerateVideoInput', {
  fields: (t) => ({
    prompt: t.string({ required: true, description: 'What to film: 1 to 2500 characters after trimming.' }),
    resolution: t.field({ type: Resolution, defaultValue: DEFAULTS.resolution }),
    aspectRatio: t.field({ type: AspectRatio, defaultValue: DEFAULTS.aspectRatio }),
    duration: t.int({ defaultValue: DEFAULTS.duration, description: 'Whole seconds, 3 to 15.' }),
    seed: t.int({ description: '0 to 2147483647; the same seed gives a closer rerun.' }),
    model: t.string({ defaultValue: DEFAULTS.model }),
    timeoutSeconds: t.int({
      description:
        'End the job FAILED with TIMED_OUT if it has not finished after this many seconds (30 to 3600), instead of the gateway default.',
    }),
    idempotencyKey: t.string({
      description:
        'Your key for this submission (1 to 255 characters): a repeat with the same key within 24 hours returns the same prediction instead of a second paid job; the same key with a different request is refused (IDEMPOTENCY_KEY_REUSED).',
    }),
    webhook: t.field({
      type: WebhookInput,
      description:
        "Tell your backend of this job's changes: signed, retried POSTs. Needs WEBHOOK_SIGNING_SECRET on the gateway.",
    }),
  }),
});

/** The model's rules over the whole input, so every broken rule is reported at once. */
const GenerateVideoArgs = z.object({
  input: z.object({
    prompt: rules.prompt,
    resolution: z.enum(RESOLUTIONS).nullish(),
    aspectRatio: z.enum(ASPECT_RATIOS).nullish(),
    duration: rules.duration.nullish(),
    seed: rules.seed.nullish(),
    model: rules.model.nullish(),
    timeoutSeconds: z
      .number()
      .int('must be whole seconds')
      .min(30, 'must be from 30 to 3600 seconds')
      .max(3600, 'must be from 30 to 3600 seconds')
      .nullish(),
    idempotencyKey: z
      .string()
      .min(1, 'must be 1 to 255 characters')
      .max(255, 'must be 1 to 255 characters')
      .regex(/^[^\p{Cc}]*$/u, 'must not contain control characters')
      .nullish(),
    webhook: webhookInputRules.nullish(),
  }),
});

const GenerateVideoPayload = builder.objectRef<{ prediction: PredictionRow }>('GenerateVideoPayload').implement({
  fields: (t) => ({ prediction: t.expose('prediction', { type: Prediction }) }),
});

builder.mutationField('generateVideo', (t) =>
  t.field({
    type: GenerateVideoPayload,
    description:
      'Store a job and submit it to Atlas Cloud once. Upstream refusals come back as errors whose extensions carry the code and the stored predictionId.',
    args: t.validate({ input: t.arg({ type: GenerateVideoInput, required: true }) }, GenerateVideoArgs),
    // Refusals, upstream errors and shutting down are mapped to GraphQL errors in one place (schema/errors.ts).
    resolve: async (_root, { input }, { predictions, principal, log }) => {
      const prediction = await predictions.generate(
        principal,
        {
          request: {
            prompt: input.prompt,
            model: input.model ?? DEFAULTS.model,
            resolution: input.resolution ?? DEFAULTS.resolution,
            aspectRatio: input.aspectRatio ?? DEFAULTS.aspectRatio,
            duration: input.duration ?? DEFAULTS.duration,
            seed: input.seed,
          },
          idempotencyKey: input.idempotencyKey,
          timeoutSeconds: input.timeoutSeconds,
          webhook: input.webhook,
        },
        { log },
      );
      return { prediction };
    },
  }),
);

builder.queryField('prediction', (t) =>
  t.field({
    type: Prediction,
    nullable: true,
    description: "The stored state of one prediction; null for an unknown id (and for someone else's).",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, { predictions, principal }) =>
      predictions.find(principal, String(id)).then((row) => row ?? null),
  }),
);

const MAX_PAGE = 100;

builder.queryField('predictions', (t) =>
  t.connection(
    {
      type: Prediction,
      description: `The predictions the caller may see (their own; a tenant's for its admin; all for a global admin), newest first, ${MAX_PAGE} at most per page.`,
      args: { status: t.arg({ type: [PredictionStatus], description: 'Only these statuses.' }) },
      resolve: (_root, args, { predictions, principal }) => {
        for (const name of ['first', 'last'] as const) {
          const size = args[name];
          if (size != null && (size < 0 || size > MAX_PAGE)) throw badUserInput(name, `must be from 0 to ${MAX_PAGE}`);
        }
        return resolveCursorConnection(
          { args, toCursor: encodeCursor, defaultSize: 20, maxSize: MAX_PAGE },
          ({ before, after, limit, inverted }: ResolveCursorConnectionArgs) =>
            predictions.list(principal, {
              statuses: args.status ?? undefined,
              olderThan: after === undefined ? undefined : decodeCursor(after, 'after'),
              newerThan: before === undefined ? undefined : decodeCursor(before, 'before'),
              oldestFirst: inverted,
              limit,
            }),
        );
      },
    },
    { name: 'PredictionConnection' },
    { name: 'PredictionEdge' },
  ),
);

builder.mutationField('cancelPrediction', (t) =>
  t.field({
    type: Prediction,
    description:
      'End an unfinished job as CANCELED at once: polling stops, subscribers get the final state. Atlas Cloud has no cancel, so the job may still run and be billed there (it is charged as such). A finished job is returned unchanged.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, { predictions, principal }) => {
      const row = await predictions.cancel(principal, String(id));
      if (!row) throw notFound(`Prediction ${id}`);
      return row;
    },
  }),
);

/** How often a `progress: true` subscription repeats the state of a running job, for a progress bar. */
export const PROGRESS_EVERY_MS = 2_000;

builder.subscriptionField('predictionUpdated', (t) =>
  t.field({
    type: Prediction,
    description: 'The current state at once, then every change; completes after SUCCEEDED, FAILED or CANCELED.',
    args: {
      id: t.arg.id({ required: true }),
      progress: t.arg.boolean({
        defaultValue: false,
        description: `Also repeat the state every ${PROGRESS_EVERY_MS / 1000} s while the job runs, so estimatedProgress moves.`,
      }),
    },
    subscribe: async (_root, { id, progress }, { predictions, principal }) => {
      const current = await predictions.find(principal, String(id));
      if (!current) throw notFound(`Prediction ${id}`);
      const updates = predictions.watch(current);
      return progress ? withProgressTicks(updates, PROGRESS_EVERY_MS) : updates;
    },
    resolve: (prediction) => prediction,
  }),
);

function encodeCursor(row: PredictionRow): string {
  return Buffer.from(`${row.createdAt.toISOString()}|${row.id}`).toString('base64url');
}

function decodeCursor(cursor: string, arg: string): PredictionPosition {
  const [at, id] = Buffer.from(cursor, 'base64url').toString().split('|');
  const createdAt = new Date(at ?? '');
  if (!id || !isPredictionId(id) || Number.isNaN(createdAt.getTime()))
    throw badUserInput(arg, 'is not a cursor from this connection');
  return { createdAt, id };
}
