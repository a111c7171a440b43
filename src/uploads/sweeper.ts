import { LOOP_QUERY_DEADLINE_MS, retryClaimInMs } from '../background/leasedWrite.ts';
import type { LoopHealth } from '../background/loopHealth.ts';
import type { Db } from '../db/database.ts';
import { deleteExpiredUpload, expiredUploads } from '../db/queries/expiredUploads.ts';
import type { Logger } from '../log.ts';
import { withTimeout } from '../observability/timeout.ts';
import type { UploadStorage } from './service.ts';

/** Uploads forgotten per cycle; a backlog takes a few cycles. */
const BATCH = 100;

export interface UploadSweeper {
  stop(): Promise<void>;
}

/**
 * Every `intervalMs`, forgets uploads past their expiry that no job used: the row first (only if
 * still unused, so a job taking it meanwhile keeps it), then its bytes. Any gateway process may sweep
 * the same row; the delete decides who removes the bytes.
 */
export function startUploadSweeper(options: {
  db: Db;
  storage: UploadStorage;
  log: Logger;
  intervalMs: number;
  health?: LoopHealth;
}): UploadSweeper {
  const { db, storage, log, intervalMs } = options;
  const loop = options.health?.register('upload sweeper', intervalMs);
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let cycle: Promise<void> | undefined;

  async function sweep(): Promise<number> {
    const expired = await withTimeout(expiredUploads(db, new Date(), BATCH), LOOP_QUERY_DEADLINE_MS);
    let swept = 0;
    for (const upload of expired) {
      if (stopped) break;
      if (!(await withTimeout(deleteExpiredUpload(db, upload.id), LOOP_QUERY_DEADLINE_MS))) continue;
      try {
        await (storage.kind === 's3' ? storage.s3.delete(upload.storageKey) : storage.files.delete(upload.storageKey));
        swept++;
      } catch (error) {
        log.warn('an expired upload was forgotten but its bytes could not be deleted', {
          uploadId: upload.id,
          storageKey: upload.storageKey,
          error,
        });
      }
    }
    if (swept > 0) log.info('expired uploads swept', { swept });
    return expired.length;
  }

  function schedule(delayMs: number): void {
    if (stopped) return;
    timer = setTimeout(() => {
      cycle = sweep().then(
        (found) => {
          loop?.completed();
          // A full batch means more are waiting.
          schedule(found >= BATCH ? 0 : intervalMs);
        },
        (error: unknown) => {
          loop?.failed(error);
          log.warn('sweeping expired uploads failed; trying again', { error });
          schedule(retryClaimInMs());
        },
      );
    }, delayMs);
  }
  schedule(intervalMs);

  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await cycle;
    },
  };
}
