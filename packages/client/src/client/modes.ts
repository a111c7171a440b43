import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type { DocumentNode } from 'graphql';
import {
  EditVideoDocument,
  GenerateVideoDocument,
  GenerateVideoFromImageDocument,
  GenerateVideoFromReferencesDocument,
} from './documents.ts';
import type {
  EditVideoInput,
  GenerateVideoFromImageInput,
  GenerateVideoFromReferencesInput,
  GenerateVideoInput,
  MediaInput,
  Mode,
  PredictionFieldsFragment,
} from './generated/graphql.ts';
import type { Upload } from './upload.ts';

/**
 * A piece of media for a job: `{ uploadId }` (an upload you made), `{ url }` (an https URL you host),
 * or the Upload that uploadMedia / useUpload resolved with (its id is sent).
 */
export type MediaReference = MediaInput | Upload;

/** generateVideoFromImage's input, its image given as any MediaReference. */
export type ImageToVideoInput = Omit<GenerateVideoFromImageInput, 'image'> & { image: MediaReference };
/** generateVideoFromReferences's input, its images (1 to 9, in order) given as MediaReferences. */
export type ReferenceToVideoInput = Omit<GenerateVideoFromReferencesInput, 'images'> & { images: MediaReference[] };
/** editVideo's input, its video and reference images given as MediaReferences. */
export type VideoEditInput = Omit<EditVideoInput, 'video' | 'referenceImages'> & {
  video: MediaReference;
  referenceImages?: MediaReference[] | null;
};

/**
 * A job of any mode, told apart by `mode`; without one it is text-to-video, so a GenerateVideoInput
 * is one as it is.
 */
export type VideoJobInput =
  | (GenerateVideoInput & { mode?: 'TEXT_TO_VIDEO' })
  | (ImageToVideoInput & { mode: 'IMAGE_TO_VIDEO' })
  | (ReferenceToVideoInput & { mode: 'REFERENCE_TO_VIDEO' })
  | (VideoEditInput & { mode: 'VIDEO_EDIT' });

/** The MediaInput GraphQL takes: an Upload becomes `{ uploadId }`; `{ uploadId }` and `{ url }` go as they are. */
export function toMediaInput(media: MediaReference): MediaInput {
  if ('status' in media) return { uploadId: media.id };
  return 'uploadId' in media && media.uploadId !== undefined ? { uploadId: media.uploadId } : { url: media.url! };
}

type Payload = { prediction: PredictionFieldsFragment };
type Variables = { input: Record<string, unknown> & { idempotencyKey?: string | null } };

/** The mutation for a job's mode, its variables (media as MediaInput), and where its answer is. */
export interface JobMutation {
  mode: Mode;
  document: TypedDocumentNode<Record<string, Payload>, Variables>;
  field: 'generateVideo' | 'generateVideoFromImage' | 'generateVideoFromReferences' | 'editVideo';
  input: Variables['input'];
}

export function jobMutation(job: VideoJobInput): JobMutation {
  const as = (document: DocumentNode) => document as JobMutation['document'];
  switch (job.mode) {
    case 'IMAGE_TO_VIDEO': {
      const { mode, image, ...rest } = job;
      return {
        mode,
        document: as(GenerateVideoFromImageDocument),
        field: 'generateVideoFromImage',
        input: { ...rest, image: toMediaInput(image) },
      };
    }
    case 'REFERENCE_TO_VIDEO': {
      const { mode, images, ...rest } = job;
      return {
        mode,
        document: as(GenerateVideoFromReferencesDocument),
        field: 'generateVideoFromReferences',
        input: { ...rest, images: images.map(toMediaInput) },
      };
    }
    case 'VIDEO_EDIT': {
      const { mode, video, referenceImages, ...rest } = job;
      return {
        mode,
        document: as(EditVideoDocument),
        field: 'editVideo',
        input: {
          ...rest,
          video: toMediaInput(video),
          ...(referenceImages ? { referenceImages: referenceImages.map(toMediaInput) } : {}),
        },
      };
    }
    default: {
      const { mode: _text, ...rest } = job;
      return { mode: 'TEXT_TO_VIDEO', document: as(GenerateVideoDocument), field: 'generateVideo', input: rest };
    }
  }
}
