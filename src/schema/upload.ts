import { z } from 'zod';
import type { UploadRow } from '../db/schema.ts';
import { UPLOAD_CONTENT_TYPES, UPLOAD_STATUSES, type UploadContentType } from '../vocabulary.ts';
import { builder } from './builder.ts';
import { notFound } from './errors.ts';

const CONTENT_TYPES = Object.keys(UPLOAD_CONTENT_TYPES) as [UploadContentType, ...UploadContentType[]];

export const UploadStatus = builder.enumType('UploadStatus', {
  description:
    'PENDING: created, its bytes not sent (or not yet checked); READY: checked, usable by a job; REJECTED: its bytes broke a rule (rejectionReason), never usable.',
  values: UPLOAD_STATUSES,
});

const HttpHeader = builder.objectRef<{ name: string; value: string }>('HttpHeader').implement({
  fields: (t) => ({ name: t.exposeString('name'), value: t.exposeString('value') }),
});

export const Upload = builder.objectRef<UploadRow>('Upload').implement({
  description:
    'Media sent through the gateway for jobs to use: create it, PUT its bytes to uploadUrl with headers, then pass its id to a job. Kept until expiresAt unless a job uses it.',
  fields: (t) => ({
    id: t.exposeID('id'),
    status: t.expose('status', { type: UploadStatus }),
    rejectionReason: t.exposeString('rejectionReason', {
      nullable: true,
      description: 'Why it was REJECTED, naming the rule (byteSize, contentType, dimensions).',
    }),
    contentType: t.exposeString('contentType'),
    byteSize: t.exposeInt('byteSize'),
    filename: t.exposeString('filename', { nullable: true }),
    width: t.exposeInt('width', {
      nullable: true,
      description: "An image's width in pixels, read from its header (as displayed); null for videos and until READY.",
    }),
    height: t.exposeInt('height', { nullable: true, description: 'As width.' }),
    uploadUrl: t.string({
      nullable: true,
      description:
        'Send the bytes here with one PUT (exactly byteSize bytes, with headers): the gateway, or a presigned S3 URL. Null once sent, and after expiresAt.',
      resolve: async (upload, _args, { uploads, videos }) => (await uploads.target(upload, videos.origin))?.url ?? null,
    }),
    headers: t.field({
      type: [HttpHeader],
      description: 'Headers the PUT must carry (they are signed with the URL with S3).',
      resolve: async (upload, _args, { uploads, videos }) =>
        (await uploads.target(upload, videos.origin))?.headers ?? [],
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    expiresAt: t.expose('expiresAt', {
      type: 'DateTime',
      description: 'When it is deleted, with its bytes, unless a job used it by then.',
    }),
    usedAt: t.expose('usedAt', { type: 'DateTime', nullable: true, description: 'When a job first used it.' }),
  }),
});

const CreateUploadInput = builder.inputType('CreateUploadInput', {
  fields: (t) => ({
    contentType: t.string({ required: true, description: `One of ${CONTENT_TYPES.join(', ')}.` }),
    byteSize: t.int({
      required: true,
      description:
        'Exactly how many bytes will be sent: at most 10 MiB for an image, UPLOAD_MAX_VIDEO_BYTES for a video.',
    }),
    filename: t.string({ description: 'For your own reference: 1 to 255 characters, no control characters.' }),
  }),
});

const CreateUploadArgs = z.object({
  input: z.object({
    contentType: z.enum(CONTENT_TYPES, { error: `must be one of ${CONTENT_TYPES.join(', ')}` }),
    byteSize: z.number().int().min(1, 'must be at least 1 byte'),
    filename: z
      .string()
      .min(1, 'must be 1 to 255 characters')
      .max(255, 'must be 1 to 255 characters')
      .regex(/^[^\p{Cc}]*$/u, 'must not contain control characters')
      .nullish(),
  }),
});

const CreateUploadPayload = builder.objectRef<{ upload: UploadRow }>('CreateUploadPayload').implement({
  fields: (t) => ({ upload: t.expose('upload', { type: Upload }) }),
});

builder.mutationField('createUpload', (t) =>
  t.field({
    type: CreateUploadPayload,
    description:
      'Stage an upload: nothing is sent yet. PUT the bytes to upload.uploadUrl with upload.headers, then (S3 storage) completeUpload. Refused over the size caps (BAD_USER_INPUT) and LIMIT_UPLOAD_BYTES_PER_DAY (UPLOAD_LIMIT_EXCEEDED).',
    args: t.validate({ input: t.arg({ type: CreateUploadInput, required: true }) }, CreateUploadArgs),
    resolve: async (_root, { input }, { uploads, principal, log }) => {
      const upload = await uploads.create(principal, input);
      log.info('upload created', { uploadId: upload.id, contentType: upload.contentType, byteSize: upload.byteSize });
      return { upload };
    },
  }),
);

builder.mutationField('completeUpload', (t) =>
  t.field({
    type: Upload,
    description:
      'Check the bytes sent, if not yet done, and return the upload: READY or REJECTED once sent, still PENDING if nothing has arrived. With S3 storage call it after the PUT; with the gateway storing them, the PUT itself settled it.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, { uploads, principal }) => {
      const upload = await uploads.complete(principal, String(id));
      if (!upload) throw notFound(`Upload ${id}`);
      return upload;
    },
  }),
);

builder.queryField('upload', (t) =>
  t.field({
    type: Upload,
    nullable: true,
    description: "One of the caller's uploads; null for an unknown id (and for someone else's).",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, { uploads, principal }) => uploads.find(principal, String(id)).then((row) => row ?? null),
  }),
);
