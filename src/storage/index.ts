import type { Config } from '../config.ts';
import type { Db } from '../db/database.ts';
import { sharedSecret } from '../db/queries/sharedSecret.ts';
import type { PredictionRow } from '../db/schema.ts';
import { FileStorage } from './fileStorage.ts';
import { linkExpiry, UrlSigner } from './signedUrls.ts';
import type { VideoStorage } from './storage.ts';

/** The storage STORAGE_URL names; undefined for `none`. The file backend's signing key is shared through the database unless VIDEO_URL_SECRET is set. */
export async function openVideoStorage(config: Config, db: Db): Promise<VideoStorage | undefined> {
  const { storage } = config.mirror;
  if (storage.kind === 'none') return undefined;
  if (storage.kind === 's3') {
    // The AWS SDK is a tenth of the gateway's import time: loaded only where S3 is configured.
    const { S3Storage } = await import('./s3Storage.ts');
    return new S3Storage(storage.bucket, storage.prefix, storage.s3);
  }
  const secret = config.videoUrls.secret ?? (await sharedSecret(db, 'video_url_signing'));
  return new FileStorage(storage.dir, new UrlSigner(Buffer.from(secret)));
}

/** One output as callers see it. */
export interface OutputFileView {
  url: string;
  /** Known once copied. */
  contentType: string | null;
  sizeBytes: number | null;
  /** When `url` stops working: the signed link's expiry; null for Atlas' own links (Atlas decides). */
  expiresAt: Date | null;
}

/** Links to a job's outputs: the gateway's copy once mirrored, else Atlas' links. */
export class OutputLinks {
  constructor(
    private readonly storage: VideoStorage | undefined,
    private readonly ttlSeconds: number,
    /** VIDEO_BASE_URL: the gateway's public address, when the request's own origin is not it (a proxy). */
    private readonly baseUrl: string | undefined,
  ) {}

  async files(row: PredictionRow, requestOrigin: string): Promise<OutputFileView[]> {
    const { storage } = this;
    if (!storage || !row.mirroredAt || !row.outputFiles) {
      return row.outputs.map((url) => ({ url, contentType: null, sizeBytes: null, expiresAt: null }));
    }
    const expiresAt = linkExpiry(this.ttlSeconds);
    const origin = (this.baseUrl ?? requestOrigin).replace(/\/+$/, '');
    return Promise.all(
      row.outputFiles.map(async (file) => ({
        url: await storage.link(file.key, expiresAt, origin),
        contentType: file.contentType,
        sizeBytes: file.sizeBytes,
        expiresAt,
      })),
    );
  }
}
