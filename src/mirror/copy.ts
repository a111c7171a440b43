import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { StoredOutputFile } from '../db/schema.ts';
import { outputKey, type VideoStorage } from '../storage/storage.ts';

/** A copy that did not happen. `permanent`: trying again cannot help (too large, gone at the source). */
export class CopyFailed extends Error {
  constructor(
    message: string,
    readonly permanent: boolean,
  ) {
    super(message);
  }
}

/** Source answers that will not change on a retry: the link is gone or refused. */
const isPermanentStatus = (status: number) => status >= 400 && status < 500 && ![408, 425, 429].includes(status);

/**
 * Stream one output from its source URL into storage, counting bytes as they pass: over `maxBytes`
 * (declared or actual) it stops and fails permanently. Memory stays flat whatever the size; `signal`
 * bounds the whole copy (MIRROR_TIMEOUT_MS) and ends it when the lease is lost or the gateway stops.
 */
export async function copyOutput({
  storage,
  predictionId,
  n,
  url,
  maxBytes,
  signal,
}: {
  storage: VideoStorage;
  predictionId: string;
  n: number;
  url: string;
  maxBytes: number;
  signal: AbortSignal;
}): Promise<StoredOutputFile> {
  const what = `output ${n + 1}`;
  let response: Response;
  try {
    // The source is Atlas' CDN; no credential of ours goes with it, so redirects may be followed.
    response = await fetch(url, { signal, redirect: 'follow' });
  } catch (error) {
    throw signal.aborted
      ? error
      : new CopyFailed(`${what}: the source could not be reached (${causeOf(error)})`, false);
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel().catch(() => {});
    throw new CopyFailed(`${what}: the source answered HTTP ${response.status}`, isPermanentStatus(response.status));
  }
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) {
    await response.body.cancel().catch(() => {});
    throw new CopyFailed(`${what} is ${declared} bytes, over MIRROR_MAX_BYTES (${maxBytes})`, true);
  }
  const type = response.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase();
  const contentType = type?.startsWith('video/') ? type : 'video/mp4';
  let sizeBytes = 0;
  async function* capped(source: AsyncIterable<Uint8Array>) {
    for await (const chunk of source) {
      sizeBytes += chunk.byteLength;
      if (sizeBytes > maxBytes) throw new CopyFailed(`${what} is over MIRROR_MAX_BYTES (${maxBytes})`, true);
      yield chunk;
    }
  }
  const source = Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
  const key = outputKey(predictionId, n);
  try {
    await storage.put(key, Readable.from(capped(source), { objectMode: false }), { contentType, signal });
  } catch (error) {
    source.destroy();
    if (error instanceof CopyFailed || signal.aborted) throw error;
    // The download was cut or the store refused: worth another try.
    throw new CopyFailed(`${what}: the copy failed (${causeOf(error)})`, false);
  }
  return { key, contentType, sizeBytes };
}

function causeOf(error: unknown): string {
  const cause = error instanceof Error ? (error.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  if (typeof cause?.code === 'string') return cause.code;
  if (typeof cause?.message === 'string') return cause.message;
  return error instanceof Error ? error.message : String(error);
}
