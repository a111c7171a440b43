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

/** Models this gateway knows how to call; anything else is refused before it is stored or billed. */
export const HAPPYHORSE_TEXT_TO_VIDEO = 'alibaba/happyhorse-1.0/text-to-video';
export const KNOWN_MODELS = [HAPPYHORSE_TEXT_TO_VIDEO] as const;
export type KnownModel = (typeof KNOWN_MODELS)[number];

/** In upstream spelling, as stored; the GraphQL enums name them RES_720P, RATIO_16_9 and so on. */
export const RESOLUTIONS = ['720P', '1080P'] as const;
export const ASPECT_RATIOS = ['16:9', '9:16', '1:1', '4:3', '3:4'] as const;
export type Resolution = (typeof RESOLUTIONS)[number];
export type AspectRatio = (typeof ASPECT_RATIOS)[number];

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
