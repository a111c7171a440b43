/**
 * The links an upload's bytes are read through: the one Atlas fetches at submission, and the one a
 * caller may open (Prediction.media.url).
 */
import { isIP } from 'node:net';
import type { UploadRow } from '../db/schema.ts';
import type { Logger } from '../log.ts';
import { linkExpiry } from '../storage/signedUrls.ts';
import type { UploadService } from '../uploads/service.ts';
import { classify } from '../webhooks/outbound/addressPolicy.ts';

export const MAX_MEDIA_URL_LENGTH = 2048;

/**
 * The URL Atlas fetches for an upload: the upload hand-off's (a signed link under PUBLIC_URL, a
 * presigned S3 GET, or Atlas' uploadMedia download_url, sent once per upload).
 */
export function upstreamUploadUrl(uploads: UploadService, upload: UploadRow, log?: Logger): Promise<string> {
  return uploads.upstreamUrl(upload, log ? { log } : {});
}

/**
 * A link the caller may open to see an upload a job used, for `ttlSeconds` at least (rounded up to the
 * hour, so reads within the hour give the same string).
 */
export function viewableUploadUrl(uploads: UploadService, upload: UploadRow, origin: string, ttlSeconds = 3600) {
  return uploads.readLink(upload, origin, linkExpiry(ttlSeconds));
}

/**
 * What is wrong with a caller's media URL, or undefined: Atlas fetches it, so it must be https and
 * name a public host (no private, loopback or link-local address, no user or password). A host name
 * is not resolved here: Atlas does its own lookup.
 */
export function mediaUrlProblem(value: string): string | undefined {
  if (value.length > MAX_MEDIA_URL_LENGTH) return `must be at most ${MAX_MEDIA_URL_LENGTH} characters`;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an absolute https URL, like https://cdn.example.com/photo.jpg';
  }
  if (url.protocol !== 'https:') return 'must use https';
  if (url.username || url.password) return 'must not contain a user name or password';
  const host = url.hostname.toLowerCase();
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (isIP(bare) !== 0) {
    const { range, carried } = classify(bare);
    if (range !== 'unicast')
      return `must name a public host; ${bare} is a ${range} address${carried ? ` (${carried.form} form of ${carried.ipv4})` : ''}`;
    return undefined;
  }
  if (host === 'localhost' || host.endsWith('.localhost') || !host.includes('.'))
    return `must name a public host; ${host} is not one`;
  return undefined;
}
