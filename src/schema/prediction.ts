/** The Prediction type (a stored video job) and the queries that read it. */
import { type ResolveCursorConnectionArgs, resolveCursorConnection } from '@pothos/plugin-relay';
import type { PredictionRow } from '../db/schema.ts';
import { viewableUploadUrl } from '../predictions/mediaUrls.ts';
import type { OutputFileView } from '../storage/index.ts';
import { builder } from './builder.ts';
import { decodeCursor, encodeCursor } from './cursors.ts';
import { AspectRatio, Mode, PredictionStatus, Resolution } from './enums.ts';
import { badUserInput } from './errors.ts';

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

interface MediaView {
  role: string;
  uploadId: string | null;
  callerUrl: string | null;
}

const MediaRole = builder.enumType('MediaRole', {
  description:
    "What a piece of media is to the model: IMAGE (image-to-video's first frame), REFERENCE (a reference image), VIDEO (the video edited).",
  values: { IMAGE: { value: 'image' }, REFERENCE: { value: 'reference' }, VIDEO: { value: 'video' } } as const,
});

const PredictionMedia = builder.objectRef<MediaView>('PredictionMedia').implement({
  description: 'One image or video the job was given, in the order the model took them.',
  fields: (t) => ({
    role: t.field({ type: MediaRole, resolve: (media) => media.role as 'image' }),
    url: t.string({
      nullable: true,
      description:
        "Your URL as you gave it; for an upload, a signed link to its bytes that works for an hour at least (read the prediction again for a fresh one); null for an upload that is not yours (an admin reading another caller's job).",
      resolve: async (media, _args, { uploads, principal, videos }) => {
        if (media.callerUrl !== null) return media.callerUrl;
        const upload = media.uploadId ? await uploads.find(principal, media.uploadId) : undefined;
        return upload ? viewableUploadUrl(uploads, upload, videos.origin) : null;
      },
    }),
    uploadId: t.id({
      nullable: true,
      description: 'The upload, when the media came from one.',
      resolve: (media) => media.uploadId,
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
    prompt: t.exposeString('prompt', {
      nullable: true,
      description: 'Null for an image-to-video job given none (the prompt is optional there).',
    }),
    model: t.exposeString('model'),
    mode: t.expose('mode', { type: Mode }),
    media: t.field({
      type: [PredictionMedia],
      description: 'The images or video the job was given (none for TEXT_TO_VIDEO).',
      resolve: (p) =>
        (p.input?.media ?? []).map((media) => ({
          role: media.role,
          uploadId: 'uploadId' in media ? media.uploadId : null,
          callerUrl: 'url' in media ? media.url : null,
        })),
    }),
    resolution: t.expose('resolution', { type: Resolution }),
    aspectRatio: t.expose('aspectRatio', {
      type: AspectRatio,
      nullable: true,
      description: 'Null where the media sets it (IMAGE_TO_VIDEO, VIDEO_EDIT).',
    }),
    duration: t.exposeInt('duration', {
      nullable: true,
      description: 'Seconds; null for VIDEO_EDIT, whose length follows its source.',
    }),
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
      args: {
        status: t.arg({ type: [PredictionStatus], description: 'Only these statuses.' }),
        mode: t.arg({ type: [Mode], description: 'Only these modes.' }),
      },
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
              modes: args.mode ?? undefined,
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
