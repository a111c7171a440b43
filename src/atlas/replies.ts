import { z } from 'zod';
import { REDACTED } from '../redact.ts';

/** Longest upstream message kept; upstream text is redacted before it is cut (see untrusted.ts). */
export const MAX_MESSAGE_LENGTH = 500;
/** Longest status word kept (it is stored on every poll). */
const MAX_STATUS_LENGTH = 64;

/**
 * What Atlas answers, in every shape seen in the wild: wrapped in { code, message, data } or bare,
 * `outputs` or `output`, numeric or string error codes. Parsed loosely, then normalised.
 * Strings arrive already sanitised: the key in any of them is replaced by REDACTED.
 */
const PredictionData = z.looseObject({
  // An id that carried the key (or NUL, which Postgres cannot store) was altered on reading, and an
  // altered id is no id: polling it would ask for another job, and storing the original would store
  // the key. So the reply reads as unreadable: a create then ends SUBMISSION_UNKNOWN (the job may
  // exist and be billed; we cannot follow it), a status call counts as a transient failure.
  id: z
    .string()
    .min(1)
    .max(256)
    .refine((id) => !id.includes(REDACTED) && !id.includes('\ufffd')),
  status: z.string().optional(),
  outputs: z.array(z.string()).nullish(),
  output: z.union([z.string(), z.array(z.string())]).nullish(),
  error: z.string().nullish(),
  error_code: z.union([z.number(), z.string()]).nullish(),
  metrics: z.looseObject({ predict_time: z.number().nullish() }).nullish(),
  completed_at: z.string().nullish(),
});
const PredictionReply = z.union([
  z.looseObject({ data: PredictionData }).transform((reply) => reply.data),
  PredictionData,
]);

const ErrorReply = z.looseObject({
  message: z.string().optional(),
  msg: z.string().optional(),
  error: z.string().optional(),
  data: z.looseObject({ message: z.string().optional(), error: z.string().optional() }).nullish(),
});

/** Our reading of an upstream status word. Unknown words keep the job running; its deadline bounds it. */
export type UpstreamState = 'running' | 'succeeded' | 'failed' | 'canceled' | 'timed_out' | 'unknown';

const STATES: Record<string, UpstreamState> = {
  created: 'running',
  starting: 'running',
  queued: 'running',
  pending: 'running',
  processing: 'running',
  running: 'running',
  in_progress: 'running',
  completed: 'succeeded',
  succeeded: 'succeeded',
  success: 'succeeded',
  failed: 'failed',
  error: 'failed',
  timeout: 'timed_out',
  timed_out: 'timed_out',
  cancelled: 'canceled',
  canceled: 'canceled',
};

export interface UpstreamPrediction {
  id: string;
  state: UpstreamState;
  /** The word as Atlas spelled it. */
  rawStatus: string;
  outputs: string[];
  error: string | null;
  errorCode: string | null;
  predictTime: number | null;
  completedAt: Date | null;
}

export function parsePredictionReply(body: unknown): UpstreamPrediction | undefined {
  const parsed = PredictionReply.safeParse(body);
  if (!parsed.success) return undefined;
  const data = parsed.data;
  const rawStatus = data.status ?? 'starting';
  const output = data.output == null ? [] : [data.output].flat();
  const completedAt = data.completed_at ? new Date(data.completed_at) : null;
  return {
    id: data.id,
    state: STATES[rawStatus.trim().toLowerCase()] ?? 'unknown',
    rawStatus: rawStatus.slice(0, MAX_STATUS_LENGTH),
    // An output that carried the key is dropped, not redacted: a mangled URL plays nothing and a
    // client would be handed something key-shaped. With no output left, the job ends NO_OUTPUT.
    outputs: (data.outputs?.length ? data.outputs : output).filter((url) => isWebUrl(url) && !url.includes(REDACTED)),
    error: data.error ? data.error.slice(0, MAX_MESSAGE_LENGTH) : null,
    errorCode: data.error_code == null ? null : safeCode(String(data.error_code)),
    predictTime: data.metrics?.predict_time ?? null,
    completedAt: completedAt && !Number.isNaN(completedAt.getTime()) ? completedAt : null,
  };
}

/** Only http(s) URLs reach clients (pages put them in <video src> and <a href>). */
function isWebUrl(url: string): boolean {
  try {
    return ['http:', 'https:'].includes(new URL(url).protocol);
  } catch {
    return false;
  }
}

/**
 * Codes become part of our own error codes (UPSTREAM_<code>), so they must be short and plain:
 * letters, digits and underscores. A redacted code ("[redacted]") fails this too, so it is dropped.
 */
function safeCode(code: string): string | null {
  return /^[A-Za-z0-9_]{1,32}$/.test(code) ? code : null;
}

export function parseErrorMessage(body: unknown): string | undefined {
  const parsed = ErrorReply.safeParse(body);
  if (!parsed.success) return undefined;
  const e = parsed.data;
  return (e.message || e.msg || e.error || e.data?.message || e.data?.error || undefined)?.slice(0, MAX_MESSAGE_LENGTH);
}

/**
 * uploadMedia's answer: where Atlas now hosts the file, wrapped in { code, message, data } or bare.
 * A URL that carried the key (redacted on reading) is no URL: handed to a job, it would fetch nothing.
 */
const DownloadUrl = z
  .url({ protocol: /^https?$/ })
  .max(2048)
  .refine((url) => !url.includes(REDACTED) && !url.includes('\ufffd'));
const UploadMediaData = z.looseObject({ download_url: DownloadUrl });
const UploadMediaReply = z.union([
  z.looseObject({ data: UploadMediaData }).transform((reply) => reply.data.download_url),
  UploadMediaData.transform((data) => data.download_url),
]);

export function parseUploadMediaReply(body: unknown): string | undefined {
  const parsed = UploadMediaReply.safeParse(body);
  return parsed.success ? parsed.data : undefined;
}
