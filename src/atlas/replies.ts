import { z } from 'zod';

/**
 * What Atlas answers, in every shape seen in the wild: wrapped in { code, message, data } or bare,
 * `outputs` or `output`, numeric or string error codes. Parsed loosely, then normalised.
 */
const PredictionData = z.looseObject({
  id: z.string().min(1),
  status: z.string().optional(),
  outputs: z.array(z.string()).nullish(),
  output: z.union([z.string(), z.array(z.string())]).nullish(),
  error: z.string().nullish(),
  error_code: z.union([z.number(), z.string()]).nullish(),
  metrics: z.looseObject({ predict_time: z.number().nullish() }).nullish(),
  completed_at: z.string().nullish(),
});
const PredictionReply = z.union([z.looseObject({ data: PredictionData }).transform((reply) => reply.data), PredictionData]);

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
    rawStatus,
    outputs: (data.outputs?.length ? data.outputs : output).filter(isWebUrl),
    error: data.error || null,
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

/** Codes become part of our own error codes, so they stay short and plain. */
function safeCode(code: string): string | null {
  return /^[A-Za-z0-9_-]{1,32}$/.test(code) ? code : null;
}

export function parseErrorMessage(body: unknown): string | undefined {
  const parsed = ErrorReply.safeParse(body);
  if (!parsed.success) return undefined;
  const e = parsed.data;
  return e.message || e.msg || e.error || e.data?.message || e.data?.error || undefined;
}
