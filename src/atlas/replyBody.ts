/**
 * The most of a reply body the client reads. Atlas' replies are a few hundred bytes; a 50 MB status
 * reply once took a process from 190 to 491 MB RSS, so anything past this is not read at all.
 */
export const MAX_REPLY_BYTES = 256 * 1024;

/**
 * A reply body as text, read chunk by chunk, or undefined when it is longer than `limit` bytes: then
 * the stream is cancelled at the first chunk past the limit (or at once, when Content-Length says so)
 * and the rest never crosses the network into this process.
 */
export async function readBody(response: Response, limit = MAX_REPLY_BYTES): Promise<string | undefined> {
  const body = response.body;
  if (!body) return '';
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declared > limit) {
    await body.cancel().catch(() => {});
    return undefined;
  }
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      return undefined;
    }
    chunks.push(value);
  }
  // As response.text() would: UTF-8, a byte-order mark dropped, bad bytes as U+FFFD.
  return new TextDecoder().decode(Buffer.concat(chunks, size));
}
