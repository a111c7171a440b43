/**
 * What the gateway knows of one model, in one place: its id and mode, the parameters it takes and
 * their rules, each parameter's upstream field name (integrations disagree on them, so each is one
 * line), the media it takes with their limits, how it is priced and how long it usually runs.
 * Everything else (the GraphQL inputs' rules, the upstream body, prices, progress, the simulator and
 * the test upstream) reads these.
 */
import type { z } from 'zod';
import type { AspectRatio, AudioSetting, KnownModel, Mode, Resolution, UploadContentType } from '../vocabulary.ts';

/** A request's parameters after the model's rules, in the gateway's own spelling. */
export interface ModelParams {
  prompt?: string | null | undefined;
  resolution: Resolution;
  aspectRatio?: AspectRatio | null | undefined;
  duration?: number | null | undefined;
  seed?: number | null | undefined;
  audio?: AudioSetting | null | undefined;
}
export type ParamName = keyof ModelParams;

/** What a piece of media is to the model; stored with it and shown as Prediction.media.role. */
export type MediaRoleName = 'image' | 'reference' | 'video';
export type MediaKind = 'image' | 'video';

/** Pixel rules for an image, checked against an upload's width and height as stored. */
export interface ImageLimits {
  /** Each side at least this many pixels. */
  minSide?: number;
  /** The shorter side at least this many pixels. */
  minShortEdge?: number;
  /** width / height within [min, max]; `text` says it as people write it (1:2.5 to 2.5:1). */
  aspect?: { min: number; max: number; text: string };
}

export interface MediaRole {
  role: MediaRoleName;
  kind: MediaKind;
  /** The upstream field: one URL, or with `list` an array of URLs in order. */
  upstreamField: string;
  list: boolean;
  /** How many the model takes (1..1 for a single required one). */
  min: number;
  max: number;
  /** The types an upload for this role may have; a caller's own URL is the caller's to get right. */
  contentTypes: readonly UploadContentType[];
  imageLimits?: ImageLimits;
}

/** An upstream field: its name, or its name and how each of our values is spelled there. */
export type UpstreamField = string | readonly [name: string, values: Readonly<Record<string, string>>];

export interface ModelDescriptor {
  id: KnownModel;
  mode: Mode;
  /** The rule for each parameter this model takes; a parameter not listed is not taken. */
  params: { [Name in ParamName]?: z.ZodType<NonNullable<ModelParams[Name]>> };
  /** Parameters the caller must give. */
  required: readonly ParamName[];
  /** What an omitted parameter becomes (stored and sent as such). */
  defaults: Partial<ModelParams> & Pick<ModelParams, 'resolution'>;
  /** The upstream field of each parameter taken; `model` and `webhook_url` are the same for every model. */
  upstream: { [Name in ParamName]?: UpstreamField };
  media: readonly MediaRole[];
  /**
   * The seconds a per-second price multiplies; undefined when the output's length is not known at
   * submission (it follows a source video), so the model can only be priced per run.
   */
  billedSeconds(params: ModelParams): number | undefined;
  /** How long a run usually takes, for progress before enough jobs of its kind have finished. */
  typicalRunMs(params: ModelParams): number;
}

/** A piece of media as stored and as the caller gave it: an upload of theirs, or their own URL. */
export type MediaRef =
  | { role: MediaRoleName; uploadId: string; url?: undefined }
  | { role: MediaRoleName; url: string; uploadId?: undefined };

/** A job as the gateway stores it and as the model receives it (predictions.input). */
export interface ModelRequest extends ModelParams {
  model: KnownModel;
  media?: readonly MediaRef[] | undefined;
}

/** A request with every piece of media as a URL upstream can fetch: what the create body is built from. */
export interface UpstreamRequest extends ModelParams {
  model: KnownModel;
  media?: readonly { role: MediaRoleName; url: string }[] | undefined;
}

export const defineModel = <const Descriptor extends ModelDescriptor>(descriptor: Descriptor) => descriptor;
