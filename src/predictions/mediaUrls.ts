/**
 * The links an upload's bytes are read through: the one Atlas fetches at submission, and the one a
 * caller may open (Prediction.media.url).
 */
import { isIP } from 'node:net';
import type { UploadRow } from '../db/schema.ts';
import { linkExpiry } from '../storage/signedUrls.ts';
import { type UploadService, uploadPath } from '../uploads/service.ts';
import { classify } from '../webhooks/outbound/addressPolicy.ts';

/** How long the link handed to Atlas works: it fetches at the job's start, which may queue a while. */
const UPSTREAM_LINK_HOURS = 6;
export const MAX_MEDIA_URL_LENGTH = 2048;

/**
 * The URL Atlas fetches for an upload. The hand-off (branch h-handoff: UploadService.upstreamUrl, a
 * signed GET under PUBLIC_URL or Atlas' uploadMedia download_url) replaces the body of this function
 * with `return uploads.upstreamUrl(upload)`. Until then: a presigned GET with S3, and with file
 * storage the signed `/uploads/<id>` link under PUBLIC_URL (or VIDEO_BASE_URL) that route will serve.
 */
export async function upstreamUploadUrl(
  uploads: UploadService,
  upload: UploadRow,
  publicUrl: string | undefined,
): Promise<string> {
  const expiresAt = new Date(Date.now() + UPSTREAM_LINK_HOURS * 3_600_000);
  const { storage } = uploads;
  if (storage.kind === 's3') return storage.s3.link(upload.storageKey, expiresAt);
  if (!publicUrl) throw new Error('an upload needs PUBLIC_URL (or VIDEO_BASE_URL) for Atlas to fetch it from');
  return `${publicUrl.replace(/\/+$/, '')}${storage.files.signer.sign(uploadPath(upload.id), expiresAt)}`;
}

/**
 * A link the caller may open to see an upload a job used: a presigned GET with S3. With file storage
 * the gateway serves no GET of uploads yet (the hand-off adds one), so null.
 */
export async function viewableUploadUrl(uploads: UploadService, upload: UploadRow, ttlSeconds = 3600) {
  const { storage } = uploads;
  return storage.kind === 's3' ? storage.s3.link(upload.storageKey, linkExpiry(ttlSeconds)) : null;
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
