/**
 * The models this gateway serves, one descriptor each, and what is derived from them: the upstream
 * create body, the check the simulator and the test upstream make of a body, and media limits.
 * Adding a model: one descriptor file, listed here (and its id in vocabulary.ts' KNOWN_MODELS).
 */
import { z } from 'zod';
import type { UploadRow } from '../db/schema.ts';
import { KNOWN_MODELS, type KnownModel, type Mode, UPLOAD_CONTENT_TYPES } from '../vocabulary.ts';
import type {
  MediaRole,
  ModelDescriptor,
  ModelParams,
  ParamName,
  UpstreamField,
  UpstreamRequest,
} from './descriptor.ts';
import { imageToVideo } from './imageToVideo.ts';
import { referenceToVideo } from './referenceToVideo.ts';
import { textToVideo } from './textToVideo.ts';
import { videoEdit } from './videoEdit.ts';

export type {
  MediaRef,
  MediaRole,
  MediaRoleName,
  ModelDescriptor,
  ModelParams,
  ModelRequest,
  UpstreamRequest,
} from './descriptor.ts';
export { imageToVideo, referenceToVideo, textToVideo, videoEdit };

export const MODELS: readonly ModelDescriptor[] = [textToVideo, imageToVideo, referenceToVideo, videoEdit];

const BY_ID = new Map<string, ModelDescriptor>(MODELS.map((model) => [model.id, model]));
for (const id of KNOWN_MODELS) if (!BY_ID.has(id)) throw new Error(`model ${id} has no descriptor in src/models`);

export function modelOf(id: KnownModel): ModelDescriptor {
  return BY_ID.get(id)!;
}
export function findModel(id: string): ModelDescriptor | undefined {
  return BY_ID.get(id);
}
/** The model a mode's mutation uses when the caller names none: the first of that mode in MODELS. */
export function defaultModelOf(mode: Mode): ModelDescriptor {
  return MODELS.find((model) => model.mode === mode)!;
}
/** The model ids of one mode, for an input's `model` field. */
export function modelIdsOf(mode: Mode): [KnownModel, ...KnownModel[]] {
  return MODELS.filter((model) => model.mode === mode).map((model) => model.id) as [KnownModel, ...KnownModel[]];
}

const PARAM_NAMES: readonly ParamName[] = ['prompt', 'resolution', 'aspectRatio', 'duration', 'seed', 'audio'];
const fieldName = (field: UpstreamField) => (typeof field === 'string' ? field : field[0]);

type ParamRules = z.ZodObject<Partial<Record<ParamName, z.ZodType>>>;
/**
 * Made once per model: every submission checks its input with them, and a zod object made anew
 * builds its parser again on first use, which cost a submission more than the check itself.
 */
const paramRulesOf = new Map<ModelDescriptor, ParamRules>();

/** The model's rules for the parameters it takes, as a GraphQL input's (optional ones may be null or absent). */
export function paramRules(model: ModelDescriptor): ParamRules {
  const made = paramRulesOf.get(model);
  if (made) return made;
  const shape: Partial<Record<ParamName, z.ZodType>> = {};
  for (const name of PARAM_NAMES) {
    const rule = model.params[name];
    if (rule) shape[name] = model.required.includes(name) ? rule : rule.nullish();
  }
  const rules = z.object(shape);
  paramRulesOf.set(model, rules);
  return rules;
}

/** The parameters as stored and sent: only those the model takes, defaults filled in. */
export function withDefaults(model: ModelDescriptor, given: Partial<Record<ParamName, unknown>>): ModelParams {
  const params: Record<string, unknown> = {};
  for (const name of PARAM_NAMES) {
    if (!model.params[name]) continue;
    const value = given[name] ?? model.defaults[name];
    if (value !== undefined && value !== null) params[name] = value;
  }
  return params as unknown as ModelParams;
}

/** The flat JSON body Atlas expects for this model; `webhookUrl` asks for one signed POST at the end. */
export function upstreamBody(request: UpstreamRequest, webhookUrl?: string): Record<string, unknown> {
  const model = modelOf(request.model);
  const body: Record<string, unknown> = { model: model.id };
  for (const name of PARAM_NAMES) {
    const field = model.upstream[name];
    const value = request[name];
    if (field === undefined || value === undefined || value === null) continue;
    body[fieldName(field)] = typeof field === 'string' ? value : (field[1][String(value)] ?? value);
  }
  for (const role of model.media) {
    const urls = (request.media ?? []).filter((media) => media.role === role.role).map((media) => media.url);
    if (role.list) {
      if (urls.length > 0) body[role.upstreamField] = urls;
    } else if (urls[0] !== undefined) body[role.upstreamField] = urls[0];
  }
  if (webhookUrl) body.webhook_url = webhookUrl;
  return body;
}

/**
 * What is wrong with a create body for its model, as Atlas would refuse it (400): an unknown model,
 * a required field missing, a field the model does not take, or media that is not URLs in the counts
 * the model takes. Undefined when it is fine. The simulator and the test upstream answer with this.
 */
export function upstreamBodyProblem(body: unknown): string | undefined {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return 'the body must be a JSON object';
  const fields = body as Record<string, unknown>;
  if (typeof fields.model !== 'string') return 'model is required';
  const model = findModel(fields.model);
  if (!model) return `unknown model ${fields.model}`;
  const allowed = new Set(['model', 'webhook_url']);
  for (const name of PARAM_NAMES) {
    const field = model.upstream[name];
    if (field === undefined) continue;
    allowed.add(fieldName(field));
    if (model.required.includes(name) && fields[fieldName(field)] === undefined)
      return `${fieldName(field)} is required for ${model.id}`;
  }
  for (const role of model.media) {
    allowed.add(role.upstreamField);
    const value = fields[role.upstreamField];
    const urls = value === undefined ? [] : role.list ? value : [value];
    if (!Array.isArray(urls) || !urls.every((url) => typeof url === 'string'))
      return `${role.upstreamField} must be ${role.list ? 'an array of URLs' : 'a URL'}`;
    if (urls.length < role.min || urls.length > role.max)
      return `${role.upstreamField} takes ${role.min === role.max ? role.min : `${role.min} to ${role.max}`} URL(s) for ${model.id}, not ${urls.length}`;
  }
  const unknown = Object.keys(fields).filter((key) => !allowed.has(key));
  if (unknown.length) return `${model.id} does not take ${unknown.join(', ')}`;
  return undefined;
}

/** The media URLs a create body names, in order: what the simulator fetches as Atlas would. */
export function upstreamMediaUrls(body: Record<string, unknown>): string[] {
  const model = typeof body.model === 'string' ? findModel(body.model) : undefined;
  return (model?.media ?? []).flatMap((role) => {
    const value = body[role.upstreamField];
    return (Array.isArray(value) ? value : value === undefined ? [] : [value]).filter(
      (url): url is string => typeof url === 'string',
    );
  });
}

/** Why this upload cannot serve in this role (wrong kind or type, too small, wrong shape); undefined if it can. */
export function uploadProblem(role: MediaRole, upload: Pick<UploadRow, 'contentType' | 'width' | 'height'>) {
  const kind = UPLOAD_CONTENT_TYPES[upload.contentType];
  if (kind !== role.kind)
    return `must be ${role.kind === 'image' ? 'an image' : 'a video'}, and this upload is ${kind === 'image' ? 'an image' : 'a video'} (${upload.contentType})`;
  if (!role.contentTypes.includes(upload.contentType))
    return `must be one of ${role.contentTypes.join(', ')}, not ${upload.contentType}`;
  const limits = role.imageLimits;
  if (!limits || kind !== 'image') return undefined;
  const { width, height } = upload;
  if (width === null || height === null) return 'has no known width and height';
  const size = `${width}x${height}`;
  if (limits.minSide !== undefined && Math.min(width, height) < limits.minSide)
    return `must be at least ${limits.minSide} pixels on each side, and it is ${size}`;
  if (limits.minShortEdge !== undefined && Math.min(width, height) < limits.minShortEdge)
    return `must be at least ${limits.minShortEdge} pixels on its shorter side, and it is ${size}`;
  if (limits.aspect && (width / height < limits.aspect.min || width / height > limits.aspect.max))
    return `must have an aspect ratio from ${limits.aspect.text} (width:height), and it is ${size}`;
  return undefined;
}
