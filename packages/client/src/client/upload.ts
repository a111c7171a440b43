import { UploadRejectedError, VideoClientError } from './errors.ts';
import type { CreateUploadInput, UploadFieldsFragment } from './generated/graphql.ts';

export type Upload = UploadFieldsFragment;

/** What uploadMedia sends: a File or Blob, bytes (a Node Buffer is a Uint8Array), or a stream of bytes (web or Node). */
export type UploadSource = Blob | Uint8Array | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

export interface UploadProgress {
  /** Bytes handed to the network so far. */
  loaded: number;
  /** The upload's byteSize. */
  total: number;
}

export interface UploadMediaOptions {
  /** image/jpeg, image/png, image/webp, video/mp4 or video/quicktime; by default a Blob's type, else the filename's extension. */
  contentType?: string;
  /** Kept with the upload for your reference; by default a File's name. */
  filename?: string;
  /** Required for a stream; for a Blob or bytes it is their size (and must equal it if given). */
  byteSize?: number;
  /** Called as bytes are sent (in browsers, through XMLHttpRequest's upload events). */
  onProgress?: (progress: UploadProgress) => void;
  /** Stops the upload; uploadMedia then throws a VideoClientError with code ABORTED. */
  signal?: AbortSignal;
}

/** The two GraphQL steps of an upload, through whichever transport the caller has (the typed client, or urql). */
export interface UploadSteps {
  createUpload(input: CreateUploadInput, signal: AbortSignal | undefined): Promise<Upload>;
  completeUpload(id: string, signal: AbortSignal | undefined): Promise<Upload>;
  /** For the PUT of the bytes where XMLHttpRequest is not used. */
  fetch: typeof fetch;
}

const EXTENSION_TYPES: Record<string, string> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  mp4: 'video/mp4',
  m4v: 'video/mp4',
  mov: 'video/quicktime',
  qt: 'video/quicktime',
};

/** Node slices a Buffer into chunks this size, so progress moves while a large one is sent. */
const CHUNK_BYTES = 64 * 1024;

/** Refused on the client, before anything is created: the same shape as the gateway's BAD_USER_INPUT. */
function badInput(field: string, message: string): VideoClientError {
  return new VideoClientError(`${field} ${message}`, {
    code: 'BAD_USER_INPUT',
    errors: [{ message: `${field} ${message}`, extensions: { code: 'BAD_USER_INPUT', issues: [{ field, message }] } }],
  });
}

export function abortedError(signal: AbortSignal): VideoClientError {
  return new VideoClientError('The upload was aborted', { code: 'ABORTED', cause: signal.reason });
}

const isBlob = (source: UploadSource): source is Blob => typeof Blob !== 'undefined' && source instanceof Blob;
const fileName = (source: UploadSource): string | undefined =>
  isBlob(source) && 'name' in source && typeof source.name === 'string' && source.name ? source.name : undefined;

/** The createUpload input for a source, or a BAD_USER_INPUT naming what cannot be known. */
export function describeUpload(source: UploadSource, options: UploadMediaOptions): CreateUploadInput {
  const filename = options.filename ?? fileName(source);
  const blobType = isBlob(source) ? source.type.split(';')[0]!.trim().toLowerCase() : '';
  const extension = filename?.includes('.') ? filename.slice(filename.lastIndexOf('.') + 1).toLowerCase() : undefined;
  const contentType = options.contentType ?? (blobType || (extension ? EXTENSION_TYPES[extension] : undefined));
  if (!contentType) {
    throw badInput(
      'contentType',
      `cannot be inferred${filename ? ` from the filename "${filename}"` : ''}: pass contentType (${[...new Set(Object.values(EXTENSION_TYPES))].join(', ')})`,
    );
  }
  const ownSize = isBlob(source) ? source.size : source instanceof Uint8Array ? source.byteLength : undefined;
  if (ownSize === undefined && options.byteSize === undefined)
    throw badInput('byteSize', 'is required for a stream: the gateway must know the size before the bytes arrive');
  if (ownSize !== undefined && options.byteSize !== undefined && options.byteSize !== ownSize)
    throw badInput('byteSize', `must equal the size of what is sent (${ownSize} bytes)`);
  return { contentType, byteSize: ownSize ?? options.byteSize!, ...(filename ? { filename } : {}) };
}

/**
 * Create the upload, send its bytes with one PUT to its uploadUrl, then complete it: the READY
 * upload, or an UploadRejectedError with the gateway's reason. The PUT carries only the headers the
 * upload names: its URL is the credential (signed by the gateway, or presigned for S3), so the
 * caller's token and headers never go to the storage's origin.
 */
export async function sendUpload(steps: UploadSteps, source: UploadSource, options: UploadMediaOptions = {}) {
  const { signal, onProgress } = options;
  const input = describeUpload(source, options);
  if (signal?.aborted) throw abortedError(signal);
  const created = await steps.createUpload(input, signal).catch((error: unknown) => {
    throw signal?.aborted ? abortedError(signal) : error;
  });
  if (!created.uploadUrl) throw new VideoClientError('The gateway gave no uploadUrl', { code: 'UPLOAD_NOT_RECEIVED' });
  const headers = Object.fromEntries(created.headers.map(({ name, value }) => [name.toLowerCase(), value]));
  const total = input.byteSize;
  let reported = -1;
  const progress = (loaded: number) => {
    if (loaded === reported) return;
    reported = loaded;
    onProgress?.({ loaded, total });
  };

  let sent: { status: number; text: string } | undefined;
  let failure: unknown;
  try {
    progress(0);
    const runtime = putRuntime();
    if (runtime === 'xhr')
      sent = await putWithXhr(created.uploadUrl, headers, await asBlob(source, input.contentType), progress, signal);
    else if (runtime === 'node')
      sent = await putWithFetch(steps.fetch, created.uploadUrl, headers, source, total, progress, signal);
    else sent = await putBlob(steps.fetch, created.uploadUrl, headers, await asBlob(source, input.contentType), signal);
  } catch (error) {
    failure = error;
  }
  if (signal?.aborted) throw abortedError(signal);
  if (failure instanceof VideoClientError) throw failure;
  if (sent && !(sent.status >= 200 && sent.status < 300) && sent.status !== 422) throw putRefusal(sent);

  // After a 2xx, a 422 (file storage rejects as it streams) or a cut connection (it may also answer
  // 422 and close before all bytes left): the gateway's record says which it is.
  const upload = await steps.completeUpload(created.id, signal);
  if (upload.status === 'REJECTED') throw new UploadRejectedError(upload);
  if (upload.status !== 'READY') {
    throw new VideoClientError(
      failure
        ? `The bytes could not be sent: ${(failure as Error).message}`
        : 'The gateway holds no bytes for this upload',
      { code: failure ? 'NETWORK_ERROR' : 'UPLOAD_NOT_RECEIVED', cause: failure },
    );
  }
  progress(total);
  return upload;
}

function putRefusal({ status, text }: { status: number; text: string }): VideoClientError {
  try {
    const errors = (JSON.parse(text) as { errors?: unknown }).errors;
    if (Array.isArray(errors) && errors.length > 0) return VideoClientError.fromGraphQL(errors);
  } catch {
    // Not the gateway's JSON: S3 answers XML.
  }
  return new VideoClientError(`The upload's PUT was answered HTTP ${status}: ${text.slice(0, 300)}`, {
    code: `HTTP_${status}`,
  });
}

/**
 * How the PUT goes. Node (also under a DOM shim in tests) streams through fetch, counting bytes.
 * Browsers cannot report a fetch's upload progress and send a streamed fetch body only over HTTP/2,
 * so there XMLHttpRequest sends a Blob; where it is missing (a service worker) fetch sends the Blob
 * and progress comes only at the end.
 */
function putRuntime(): 'node' | 'xhr' | 'blob' {
  if ((globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node) return 'node';
  return typeof XMLHttpRequest === 'function' ? 'xhr' : 'blob';
}

async function putBlob(
  fetchFn: typeof fetch,
  url: string,
  headers: Record<string, string>,
  body: Blob,
  signal: AbortSignal | undefined,
): Promise<{ status: number; text: string }> {
  const response = await fetchFn(url, { method: 'PUT', headers, body, ...(signal ? { signal } : {}) });
  return { status: response.status, text: await response.text() };
}

async function asBlob(source: UploadSource, contentType: string): Promise<Blob> {
  if (isBlob(source)) return source;
  if (source instanceof Uint8Array) return new Blob([source as Uint8Array<ArrayBuffer>], { type: contentType });
  // A browser keeps a large Blob on disk, so a stream is gathered rather than held in memory.
  const parts: BlobPart[] = [];
  for await (const chunk of iterate(source)) parts.push(chunk as Uint8Array<ArrayBuffer>);
  return new Blob(parts, { type: contentType });
}

function putWithXhr(
  url: string,
  headers: Record<string, string>,
  body: Blob,
  progress: (loaded: number) => void,
  signal: AbortSignal | undefined,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortedError(signal));
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', url);
    for (const [name, value] of Object.entries(headers))
      if (name !== 'content-length') xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => progress(event.loaded);
    const stop = () => xhr.abort();
    signal?.addEventListener('abort', stop, { once: true });
    const settle = () => signal?.removeEventListener('abort', stop);
    xhr.onload = () => {
      settle();
      resolve({ status: xhr.status, text: xhr.responseText });
    };
    xhr.onerror = () => {
      settle();
      reject(new TypeError('The upload request failed (network error or CORS)'));
    };
    xhr.onabort = () => {
      settle();
      reject(signal ? abortedError(signal) : new TypeError('The upload request was aborted'));
    };
    xhr.send(body);
  });
}

async function putWithFetch(
  fetchFn: typeof fetch,
  url: string,
  headers: Record<string, string>,
  source: UploadSource,
  total: number,
  progress: (loaded: number) => void,
  signal: AbortSignal | undefined,
): Promise<{ status: number; text: string }> {
  let mismatch: VideoClientError | undefined;
  const chunks = iterate(source)[Symbol.asyncIterator]();
  let loaded = 0;
  // highWaterMark 0: a chunk is read only when fetch asks for it, so `loaded` follows the network.
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const next = await chunks.next();
        if (next.done) {
          if (loaded !== total) {
            mismatch = badInput('byteSize', `was declared ${total} bytes, but the stream gave ${loaded}`);
            controller.error(mismatch);
          } else controller.close();
          return;
        }
        loaded += next.value.byteLength;
        if (loaded > total) {
          mismatch = badInput('byteSize', `was declared ${total} bytes, but the stream gave more`);
          controller.error(mismatch);
          return;
        }
        controller.enqueue(next.value);
        progress(loaded);
      },
      async cancel(reason) {
        await chunks.return?.(reason);
      },
    },
    { highWaterMark: 0 },
  );
  try {
    const response = await fetchFn(url, {
      method: 'PUT',
      // A length, not chunked encoding: S3 refuses a PUT without one.
      headers: { ...headers, 'content-length': String(total) },
      body,
      duplex: 'half',
      signal,
    } as RequestInit);
    return { status: response.status, text: await response.text() };
  } catch (error) {
    if (mismatch) throw mismatch;
    throw error;
  }
}

/** Any source as chunks of at most CHUNK_BYTES. */
async function* iterate(source: UploadSource): AsyncGenerator<Uint8Array> {
  if (source instanceof Uint8Array) {
    for (let offset = 0; offset < source.byteLength; offset += CHUNK_BYTES)
      yield source.subarray(offset, offset + CHUNK_BYTES);
    return;
  }
  const stream = isBlob(source) ? source.stream() : source;
  if (stream instanceof ReadableStream) {
    // Safari's ReadableStream is not async iterable, so read it with its reader.
    const reader = (stream as ReadableStream<Uint8Array>).getReader();
    let finished = false;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) {
          finished = true;
          return;
        }
        yield* iterate(value);
      }
    } finally {
      // Stopped early (aborted, or too many bytes): the source need not produce more.
      if (!finished) await reader.cancel().catch(() => {});
      reader.releaseLock();
    }
  }
  for await (const chunk of stream as AsyncIterable<Uint8Array>) yield* iterate(chunk);
}
