import type { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { S3Settings } from '../config.ts';
import type { VideoStorage } from './storage.ts';

/** Parts in flight at once × part size bounds the memory one copy takes (about 16 MiB). */
const PART_BYTES = 8 * 1024 * 1024;
const PARTS_IN_FLIGHT = 2;

/**
 * Any S3-compatible store (S3, MinIO, R2) through the official SDK: multipart uploads from the
 * stream, presigned GETs (which S3 serves with byte ranges) for the links.
 */
export class S3Storage implements VideoStorage {
  readonly kind = 's3';
  readonly #client: S3Client;

  constructor(
    private readonly bucket: string,
    private readonly prefix: string,
    settings: S3Settings,
  ) {
    this.#client = new S3Client({
      region: settings.region,
      ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
      ...(settings.credentials ? { credentials: settings.credentials } : {}),
      forcePathStyle: settings.forcePathStyle,
      // Checksums only where S3 requires them: several S3-compatible stores reject the newer defaults.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  #key(key: string): string {
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  async put(
    key: string,
    body: Readable,
    { contentType, signal }: { contentType: string; signal: AbortSignal },
  ): Promise<void> {
    const upload = new Upload({
      client: this.#client,
      params: { Bucket: this.bucket, Key: this.#key(key), Body: body, ContentType: contentType },
      partSize: PART_BYTES,
      queueSize: PARTS_IN_FLIGHT,
      // A failed upload aborts its multipart upload; one cut by a crash is left for the bucket's
      // lifecycle rule (AbortIncompleteMultipartUpload) to clear.
      leavePartsOnError: false,
    });
    const abort = () => void upload.abort();
    signal.addEventListener('abort', abort, { once: true });
    // The source failing (a cut download, the size cap) must fail the upload too.
    body.once('error', abort);
    try {
      signal.throwIfAborted();
      await upload.done();
      signal.throwIfAborted();
    } finally {
      signal.removeEventListener('abort', abort);
      body.off('error', abort);
    }
  }

  link(key: string, expiresAt: Date): Promise<string> {
    // Signed as of the start of the hour, so links read within the hour are the same string.
    const signingDate = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000);
    const expiresIn = Math.max(1, Math.round((expiresAt.getTime() - signingDate.getTime()) / 1000));
    return getSignedUrl(this.#client, new GetObjectCommand({ Bucket: this.bucket, Key: this.#key(key) }), {
      expiresIn,
      signingDate,
    });
  }

  /**
   * A URL that PUTs the object once, until `expiresAt`, with the headers it must carry (signed with it):
   * the type, and `If-None-Match: *` so a second PUT does not replace what was checked (stores without
   * conditional writes ignore it).
   */
  async presignPut(
    key: string,
    contentType: string,
    expiresAt: Date,
  ): Promise<{ url: string; headers: Record<string, string> }> {
    const expiresIn = Math.max(1, Math.round((expiresAt.getTime() - Date.now()) / 1000));
    const command = new PutObjectCommand({
      Bucket: this.bucket,
      Key: this.#key(key),
      ContentType: contentType,
      IfNoneMatch: '*',
    });
    const url = await getSignedUrl(this.#client, command, {
      expiresIn,
      signableHeaders: new Set(['content-type', 'if-none-match']),
    });
    return { url, headers: { 'content-type': contentType, 'if-none-match': '*' } };
  }

  /** The object's first `bytes` (all of it, if smaller) and its whole length; undefined if there is none. */
  async readHead(key: string, bytes: number): Promise<{ head: Uint8Array; totalBytes: number } | undefined> {
    try {
      const reply = await this.#client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.#key(key), Range: `bytes=0-${bytes - 1}` }),
      );
      const head = (await reply.Body?.transformToByteArray()) ?? new Uint8Array();
      // `bytes 0-N/TOTAL` for a range; a store that ignores ranges sends the whole object.
      const total = /\/(\d+)$/.exec(reply.ContentRange ?? '')?.[1];
      return { head: head.subarray(0, bytes), totalBytes: total !== undefined ? Number(total) : head.byteLength };
    } catch (error) {
      if (error instanceof NoSuchKey) return undefined;
      // An empty object has no byte 0: a range of it is unsatisfiable.
      if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 416)
        return { head: new Uint8Array(), totalBytes: 0 };
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    await this.#client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.#key(key) }));
  }

  destroy(): void {
    this.#client.destroy();
  }
}
