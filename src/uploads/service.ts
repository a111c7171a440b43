import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { AtlasClient, MediaFile } from '../atlas/client.ts';
import type { Principal } from '../auth/principal.ts';
import type { Db } from '../db/database.ts';
import { lockUploadHandoff, rememberAtlasDownloadUrl } from '../db/queries/atlasDownloadUrl.ts';
import { findUpload, ownsUpload } from '../db/queries/findUpload.ts';
import { insertUpload } from '../db/queries/insertUpload.ts';
import { markUploadUsed } from '../db/queries/markUploadUsed.ts';
import { settleUpload } from '../db/queries/settleUpload.ts';
import { lockCallerUploads, uploadBytesSince } from '../db/queries/uploadBytesSince.ts';
import type { UploadRow } from '../db/schema.ts';
import { ErrorCode } from '../errorCodes.ts';
import type { Logger } from '../log.ts';
import { startOfUtcDay } from '../predictions/admission.ts';
import type { FileStorage } from '../storage/fileStorage.ts';
import type { S3Storage } from '../storage/s3Storage.ts';
import { linkExpiry, type UrlSigner } from '../storage/signedUrls.ts';
import { UPLOAD_CONTENT_TYPES, type UploadContentType } from '../vocabulary.ts';
import { HEAD_BYTES, inspectStored } from './inspect.ts';

/** The most an image may be: the HappyHorse models' limit for each image. */
export const MAX_IMAGE_BYTES = 10 * 1024 * 1024;

/**
 * Where uploads are kept: the gateway's own folder (the client PUTs to the gateway, which checks the
 * bytes as they pass) or an S3 bucket (the client PUTs to a presigned URL, and the object is checked
 * when the upload is completed).
 */
export type UploadStorage = { kind: 'file'; files: FileStorage } | { kind: 's3'; s3: S3Storage };

export interface UploadSettings {
  maxVideoBytes: number;
  /** Per caller per UTC day, declared bytes of every upload created; undefined: unlimited. */
  bytesPerDay: number | undefined;
  retentionHours: number;
  /** VIDEO_BASE_URL: the gateway's public address for the links it signs, when the request's own is not it. */
  baseUrl: string | undefined;
}

/** How a READY upload reaches Atlas when a job names it (see `UploadService.upstreamUrl`). */
export interface UploadHandoff {
  /** PUBLIC_URL: where Atlas reaches this gateway. Set, Atlas fetches its own copy from a signed link; unset, it is sent to uploadMedia. */
  publicUrl: string | undefined;
  atlas: Pick<AtlasClient, 'uploadMedia'>;
  /** Other processes may share the database (the Postgres server): then the hand-off is locked there, not only here. */
  sharedDatabase: boolean;
  /** The least a link handed to Atlas lives (rounded up to the hour): until the job's deadline at least. */
  linkTtlSeconds: number;
}

/** Uploads sent to uploadMedia at once by one process; with the Postgres server each holds a pool connection while it goes. */
const HANDOFFS_AT_ONCE = 2;

/** How long the bucket may take to start answering the read of an object to send to uploadMedia. */
const STORED_OBJECT_ANSWER_MS = 30_000;

const EXTENSIONS: Record<UploadContentType, string> = {
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/webp': 'webp',
  'video/mp4': 'mp4',
  'video/quicktime': 'mov',
};

export interface UploadRequest {
  contentType: UploadContentType;
  byteSize: number;
  filename?: string | null | undefined;
}

/** Where and how the client sends the bytes: one PUT to `url` with `headers`. */
export interface UploadTarget {
  url: string;
  headers: { name: string; value: string }[];
}

/** createUpload input that breaks a rule only the gateway's configuration knows. */
export class UploadInputRefused extends Error {
  constructor(
    readonly field: string,
    readonly rule: string,
  ) {
    super(`${field} ${rule}`);
  }
}

/** The caller's daily upload bytes would be passed; nothing was stored. */
export class UploadLimitExceeded extends Error {
  readonly code = ErrorCode.UPLOAD_LIMIT_EXCEEDED;
  constructor(
    message: string,
    readonly details: { limit: number; usedBytes: number; byteSize: number },
  ) {
    super(message);
  }
}

/** Staged uploads: created by a caller, sent with one PUT, checked, then used by that caller's jobs. */
export class UploadService {
  /** Hand-offs to uploadMedia under way in this process, by upload id: a second caller joins the first. */
  readonly #handing = new Map<string, Promise<string>>();
  readonly #handoffSlots = new Slots(HANDOFFS_AT_ONCE);

  constructor(
    private readonly deps: {
      db: Db;
      storage: UploadStorage;
      settings: UploadSettings;
      handoff: UploadHandoff;
      log: Logger;
    },
  ) {}

  get storage(): UploadStorage {
    return this.deps.storage;
  }

  /**
   * A new PENDING upload, if its declared size is within the limits: the per-type cap, then the
   * caller's daily bytes, checked and taken under the caller's advisory lock so racing calls (on any
   * gateway process) cannot together pass it.
   */
  async create(principal: Principal, request: UploadRequest, now = new Date()): Promise<UploadRow> {
    const { settings, db } = this.deps;
    const kind = UPLOAD_CONTENT_TYPES[request.contentType];
    const cap = kind === 'image' ? MAX_IMAGE_BYTES : settings.maxVideoBytes;
    if (request.byteSize > cap) {
      throw new UploadInputRefused(
        'input.byteSize',
        `must be at most ${cap} bytes for ${kind === 'image' ? 'an image' : 'a video (UPLOAD_MAX_VIDEO_BYTES)'}`,
      );
    }
    const id = randomUUID();
    const values = {
      id,
      ownerId: principal.id,
      tenantId: principal.tenantId,
      contentType: request.contentType,
      byteSize: request.byteSize,
      filename: request.filename ?? null,
      storageKey: `uploads/${id}`,
      createdAt: now,
      expiresAt: new Date(now.getTime() + settings.retentionHours * 3_600_000),
    };
    const limit = settings.bytesPerDay;
    if (limit === undefined) return insertUpload(db, values);
    return db.transaction(async (tx) => {
      await lockCallerUploads(tx, principal);
      const usedBytes = await uploadBytesSince(tx, principal, startOfUtcDay(now));
      if (usedBytes + request.byteSize > limit) {
        throw new UploadLimitExceeded(
          `LIMIT_UPLOAD_BYTES_PER_DAY: this upload (${request.byteSize} bytes) would take what you uploaded today (UTC) past ${limit} bytes; ${usedBytes} are used`,
          { limit, usedBytes, byteSize: request.byteSize },
        );
      }
      return insertUpload(tx, values);
    });
  }

  /** The caller's own upload with this id; undefined for an unknown id and for anyone else's. */
  async find(principal: Principal, id: string): Promise<UploadRow | undefined> {
    if (!isUploadId(id)) return undefined;
    const row = await findUpload(this.deps.db, id);
    return row && ownsUpload(principal, row) ? row : undefined;
  }

  /**
   * The upload with its bytes checked, if they have been sent. With file storage the PUT itself
   * settled it, so this reads it; with S3 a PENDING upload's object is read (its length, and its
   * first bytes with a range GET) and checked now. Undefined as `find`.
   */
  async complete(principal: Principal, id: string): Promise<UploadRow | undefined> {
    const row = await this.find(principal, id);
    if (row?.status !== 'PENDING' || this.deps.storage.kind !== 's3') return row;
    const { s3 } = this.deps.storage;
    const stored = await s3.readHead(row.storageKey, HEAD_BYTES);
    if (!stored) return row; // nothing sent yet
    const verdict = inspectStored(row, stored.head, stored.totalBytes);
    if (verdict.status === 'REJECTED') await s3.delete(row.storageKey);
    const settled = await settleUpload(this.deps.db, row.id, verdict);
    this.deps.log.info('upload checked', {
      uploadId: row.id,
      status: settled?.status,
      reason: settled?.rejectionReason,
    });
    return settled;
  }

  /**
   * For the jobs that take media: the caller's upload, completed, if it can be used now. Undefined
   * when it is not the caller's; otherwise the rule that keeps it from use, or the row, now marked used.
   */
  async use(principal: Principal, id: string): Promise<UploadRow | { unusable: string } | undefined> {
    const row = await this.complete(principal, id);
    if (!row) return undefined;
    if (row.status === 'PENDING') return { unusable: 'has not been sent yet (PUT its bytes to uploadUrl first)' };
    if (row.status === 'REJECTED') return { unusable: `was rejected: ${row.rejectionReason}` };
    if (!(await markUploadUsed(this.deps.db, row.id))) return { unusable: 'has expired' };
    return row;
  }

  /**
   * A link the caller may open to read an upload's bytes (Prediction.media.url), until `expiresAt`: a
   * presigned GET with S3, else the gateway's own signed `GET /uploads/<id>` at VIDEO_BASE_URL or the
   * address the caller used.
   */
  readLink(row: UploadRow, requestOrigin: string, expiresAt: Date): Promise<string> {
    const { storage, settings } = this.deps;
    if (storage.kind === 's3') return storage.s3.link(row.storageKey, expiresAt);
    const origin = (settings.baseUrl ?? requestOrigin).replace(/\/+$/, '');
    return Promise.resolve(`${origin}${signReadLink(storage.files.signer, row.id, expiresAt)}`);
  }

  /** Where to PUT the bytes, while the upload waits for them; null once they were sent or it expired. */
  async target(row: UploadRow, requestOrigin: string): Promise<UploadTarget | null> {
    if (row.status !== 'PENDING' || row.receivingAt || row.expiresAt.getTime() <= Date.now()) return null;
    const { storage, settings } = this.deps;
    const headers = (record: Record<string, string>) =>
      Object.entries(record).map(([name, value]) => ({ name, value }));
    if (storage.kind === 's3') {
      const { url, headers: signed } = await storage.s3.presignPut(row.storageKey, row.contentType, row.expiresAt);
      return { url, headers: headers(signed) };
    }
    const origin = (settings.baseUrl ?? requestOrigin).replace(/\/+$/, '');
    return {
      url: `${origin}${storage.files.signer.sign(uploadPath(row.id), row.expiresAt)}`,
      headers: headers({ 'content-type': row.contentType }),
    };
  }

  /**
   * The URL Atlas fetches this READY upload from, for a job being submitted. With PUBLIC_URL, a signed
   * link to the gateway's own copy (`GET /uploads/<id>`) or a presigned GET of the S3 object, living
   * until the job's deadline at least (`linkTtlSeconds`, rounded up to the hour so a resubmission within
   * the hour hands the same string). It is not cut at the upload's expiry: an upload a job used is kept
   * past it. Without PUBLIC_URL, Atlas cannot reach the gateway, so the bytes go to its uploadMedia once
   * per upload, whichever process or job asks (see #handOff), and the download_url is remembered.
   * Throws the AtlasError of a failed uploadMedia call (its message never carries the key).
   */
  async upstreamUrl(row: UploadRow, { log = this.deps.log }: { log?: Logger } = {}): Promise<string> {
    if (row.status !== 'READY') throw new Error(`Upload ${row.id} is ${row.status}; only a READY upload goes to Atlas`);
    const { storage, handoff } = this.deps;
    if (handoff.publicUrl !== undefined) {
      const expiresAt = linkExpiry(handoff.linkTtlSeconds);
      if (storage.kind === 's3') return storage.s3.link(row.storageKey, expiresAt);
      return `${handoff.publicUrl}${signReadLink(storage.files.signer, row.id, expiresAt)}`;
    }
    if (row.atlasDownloadUrl) return row.atlasDownloadUrl;
    let handing = this.#handing.get(row.id);
    if (!handing) {
      handing = this.#handoffSlots.run(() => this.#handOff(row.id, log)).finally(() => this.#handing.delete(row.id));
      this.#handing.set(row.id, handing);
    }
    return handing;
  }

  /**
   * Send the upload to uploadMedia unless its URL is known, and remember the URL. Other processes on
   * the Postgres server are kept out by an advisory lock held (in a transaction) from the check to the
   * stored URL; one that dies mid-upload releases it with its connection, and the next one sends again.
   * PGlite has one process, whose calls `upstreamUrl` already joins; a transaction there would stall
   * every query of the gateway for as long as the upload takes, so it only re-reads and stores.
   */
  async #handOff(id: string, log: Logger): Promise<string> {
    const { db, handoff } = this.deps;
    const handOff = async (tx: Db) => {
      const current = await findUpload(tx, id);
      if (!current) throw new Error(`Upload ${id} no longer exists`);
      if (current.atlasDownloadUrl) return current.atlasDownloadUrl;
      const url = await handoff.atlas.uploadMedia(this.#mediaFile(current), { log });
      log.info('upload sent to Atlas uploadMedia', { uploadId: id, byteSize: current.byteSize });
      return (await rememberAtlasDownloadUrl(tx, id, url)) ?? url;
    };
    if (!handoff.sharedDatabase) return handOff(db);
    return db.transaction(async (tx) => {
      await lockUploadHandoff(tx, id);
      return handOff(tx);
    });
  }

  /** The upload's stored bytes, as uploadMedia reads them. */
  #mediaFile(row: UploadRow): MediaFile {
    const { storage } = this.deps;
    const file = {
      byteSize: row.byteSize,
      contentType: row.contentType,
      filename: `${row.id}.${EXTENSIONS[row.contentType]}`,
    };
    if (storage.kind === 'file') {
      return {
        ...file,
        async open() {
          const stream = createReadStream(join(storage.files.dir, row.storageKey));
          // A missing file fails here, before anything is sent.
          await new Promise((resolve, reject) => stream.once('open', resolve).once('error', reject));
          return stream;
        },
      };
    }
    return {
      ...file,
      async open() {
        // Read through a presigned GET, as the bucket is read for the PUT's check; only its headers are timed
        // here, the body is bounded by the upload's own timeout.
        const controller = new AbortController();
        const timer = setTimeout(() => controller.abort(), STORED_OBJECT_ANSWER_MS);
        try {
          const url = await storage.s3.link(row.storageKey, new Date(Date.now() + 3_600_000));
          const response = await fetch(url, { signal: controller.signal, redirect: 'error' });
          if (!response.ok || !response.body) {
            await response.body?.cancel();
            throw new Error(`the stored object answered HTTP ${response.status}`);
          }
          return Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
        } finally {
          clearTimeout(timer);
        }
      },
    };
  }
}

/** What a read link signs: not the bare path the PUT link signs, so neither link opens the other's method. */
const readScope = (id: string) => `GET ${uploadPath(id)}`;

/** `/uploads/<id>?expires=…&signature=…`, for a GET of the upload's bytes until `expiresAt`. */
export function signReadLink(signer: UrlSigner, id: string, expiresAt: Date): string {
  const signed = signer.sign(readScope(id), expiresAt);
  return `${uploadPath(id)}${signed.slice(signed.indexOf('?'))}`;
}

export function verifyReadLink(signer: UrlSigner, id: string, expires: string | null, signature: string | null) {
  return signer.verify(readScope(id), expires, signature);
}

/** Runs at most `size` tasks at once; the rest wait their turn in memory. */
class Slots {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(size: number) {
    this.#free = size;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    }
  }
}

export const UPLOAD_PATH_PREFIX = '/uploads/';
export const uploadPath = (id: string) => `${UPLOAD_PATH_PREFIX}${id}`;

export function isUploadId(id: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id);
}
