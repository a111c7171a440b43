/**
 * The words every layer shares, each list defined once: the database's enum and column types, the
 * GraphQL enums, the domain's rules and the SQL filters are all derived from these. This module
 * imports nothing of ours, so src/db/ (the bottom layer) may use it too.
 */

/** A prediction's status: unfinished first, then the final ones. */
export const PREDICTION_STATUSES = ['STARTING', 'PROCESSING', 'SUCCEEDED', 'FAILED', 'CANCELED'] as const;
export type PredictionStatus = (typeof PREDICTION_STATUSES)[number];

/** A job in one of these may still change: it is polled, and may be cancelled. */
export const UNFINISHED_STATUSES = ['STARTING', 'PROCESSING'] as const satisfies readonly PredictionStatus[];
/** A job in one of these has ended and never changes again. */
export const TERMINAL_STATUSES = PREDICTION_STATUSES.filter(
  (status): status is Exclude<PredictionStatus, UnfinishedStatus> =>
    !(UNFINISHED_STATUSES as readonly PredictionStatus[]).includes(status),
);
export type UnfinishedStatus = (typeof UNFINISHED_STATUSES)[number];
export type TerminalStatus = Exclude<PredictionStatus, UnfinishedStatus>;

export function isTerminal(status: PredictionStatus): status is TerminalStatus {
  return (TERMINAL_STATUSES as readonly PredictionStatus[]).includes(status);
}

/**
 * What a job starts from: a prompt only, a first frame, reference images, or a video to edit. Each
 * model (src/models/) has one. Stored in predictions.mode; the GraphQL enum has the same names.
 */
export const MODES = ['TEXT_TO_VIDEO', 'IMAGE_TO_VIDEO', 'REFERENCE_TO_VIDEO', 'VIDEO_EDIT'] as const;
export type Mode = (typeof MODES)[number];

/**
 * Models this gateway knows how to call; anything else is refused before it is stored or billed.
 * Each has one descriptor in src/models/ (which checks this list against its registry).
 */
export const HAPPYHORSE_TEXT_TO_VIDEO = 'alibaba/happyhorse-1.0/text-to-video';
export const HAPPYHORSE_IMAGE_TO_VIDEO = 'alibaba/happyhorse-1.0/image-to-video';
export const HAPPYHORSE_REFERENCE_TO_VIDEO = 'alibaba/happyhorse-1.0/reference-to-video';
export const HAPPYHORSE_VIDEO_EDIT = 'alibaba/happyhorse-1.0/video-edit';
export const KNOWN_MODELS = [
  HAPPYHORSE_TEXT_TO_VIDEO,
  HAPPYHORSE_IMAGE_TO_VIDEO,
  HAPPYHORSE_REFERENCE_TO_VIDEO,
  HAPPYHORSE_VIDEO_EDIT,
] as const;
export type KnownModel = (typeof KNOWN_MODELS)[number];

/** What video edit does with sound: new audio (GENERATE) or the source's (KEEP_ORIGINAL). */
export const AUDIO_SETTINGS = ['GENERATE', 'KEEP_ORIGINAL'] as const;
export type AudioSetting = (typeof AUDIO_SETTINGS)[number];

/**
 * Resolutions and aspect ratios in upstream spelling, as stored, each under the name the GraphQL enum
 * gives it (a GraphQL name cannot start with a digit or hold a colon). The lists and types below are
 * derived from these maps, so a value cannot be added without its name.
 */
export const RESOLUTION_ENUM = { RES_720P: '720P', RES_1080P: '1080P' } as const;
export const ASPECT_RATIO_ENUM = {
  RATIO_16_9: '16:9',
  RATIO_9_16: '9:16',
  RATIO_1_1: '1:1',
  RATIO_4_3: '4:3',
  RATIO_3_4: '3:4',
} as const;
export type Resolution = (typeof RESOLUTION_ENUM)[keyof typeof RESOLUTION_ENUM];
export type AspectRatio = (typeof ASPECT_RATIO_ENUM)[keyof typeof ASPECT_RATIO_ENUM];
export const RESOLUTIONS = valuesOf(RESOLUTION_ENUM);
export const ASPECT_RATIOS = valuesOf(ASPECT_RATIO_ENUM);

/** A name → value map's values, in order, typed as the non-empty list zod's and drizzle's enums take. */
function valuesOf<Value extends string>(map: Readonly<Record<string, Value>>): readonly [Value, ...Value[]] {
  return Object.values(map) as [Value, ...Value[]];
}

/** An upload's status: PENDING until its bytes are sent and checked, then READY or REJECTED (for good). */
export const UPLOAD_STATUSES = ['PENDING', 'READY', 'REJECTED'] as const;
export type UploadStatus = (typeof UPLOAD_STATUSES)[number];

/** What an upload may be, by its declared type: the media the HappyHorse family takes. */
export const UPLOAD_CONTENT_TYPES = {
  'image/jpeg': 'image',
  'image/png': 'image',
  'image/webp': 'image',
  'video/mp4': 'video',
  'video/quicktime': 'video',
} as const;
export type UploadContentType = keyof typeof UPLOAD_CONTENT_TYPES;
