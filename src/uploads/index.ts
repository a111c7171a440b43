import type { AtlasClient } from '../atlas/client.ts';
import type { LoopHealth } from '../background/loopHealth.ts';
import type { Config } from '../config.ts';
import type { Db } from '../db/database.ts';
import { sharedSecret } from '../db/queries/sharedSecret.ts';
import type { Route } from '../http/routes.ts';
import type { Logger } from '../log.ts';
import { FileStorage } from '../storage/fileStorage.ts';
import type { S3Storage } from '../storage/s3Storage.ts';
import { UrlSigner } from '../storage/signedUrls.ts';
import type { VideoStorage } from '../storage/storage.ts';
import { uploadRoute } from './route.ts';
import { UploadService, type UploadStorage } from './service.ts';
import { startUploadSweeper } from './sweeper.ts';

export interface Uploads {
  service: UploadService;
  /** `PUT /uploads/<id>` with file storage; with S3 the client PUTs to the bucket and this takes nothing. */
  route: Route;
  stop(): Promise<void>;
}

/**
 * Staged uploads, wired: the service resolvers call, the PUT route and the sweeper of expired ones.
 * They go where the outputs' copies go (STORAGE_URL, under `uploads/`); with STORAGE_URL=none, in
 * DATA_DIR/uploads.
 */
export async function startUploads(options: {
  config: Config;
  db: Db;
  /** PGlite is one process's alone; the Postgres server may be shared by several gateways. */
  databaseKind: 'pglite' | 'postgres';
  atlas: Pick<AtlasClient, 'uploadMedia'>;
  videoStorage: VideoStorage | undefined;
  log: Logger;
  health: LoopHealth;
}): Promise<Uploads> {
  const { config, db, log } = options;
  const storage = await uploadStorage(config, db, options.videoStorage);
  const service = new UploadService({
    db,
    storage,
    log,
    settings: { ...config.uploads, baseUrl: config.videoUrls.baseUrl },
    handoff: {
      publicUrl: config.atlasWebhooks?.publicUrl,
      atlas: options.atlas,
      sharedDatabase: options.databaseKind === 'postgres',
      // Atlas fetches a job's media when it starts the job, which may queue: an hour, or the job's whole deadline.
      linkTtlSeconds: Math.max(3_600, Math.ceil(config.predictionTimeoutMs / 1000)),
    },
  });
  const sweeper = startUploadSweeper({ db, storage, log, intervalMs: config.uploads.sweepMs, health: options.health });
  const route: Route =
    storage.kind === 'file'
      ? uploadRoute({
          db,
          files: storage.files,
          corsOrigins: config.corsOrigins,
          requestTimeoutMs: config.http.requestTimeoutMs,
        })
      : () => false;
  return { service, route, stop: () => sweeper.stop() };
}

async function uploadStorage(config: Config, db: Db, videoStorage: VideoStorage | undefined): Promise<UploadStorage> {
  if (videoStorage instanceof FileStorage) return { kind: 'file', files: videoStorage };
  // S3Storage is the only other kind (imported lazily with the AWS SDK, so not named at run time here).
  if (videoStorage) return { kind: 's3', s3: videoStorage as S3Storage };
  const secret = config.videoUrls.secret ?? (await sharedSecret(db, 'video_url_signing'));
  return { kind: 'file', files: new FileStorage(config.dataDir, new UrlSigner(Buffer.from(secret))) };
}
