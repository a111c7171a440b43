import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

/** A paid job whose upstream id the database has not taken yet. */
export const UnrecordedSubmission = z.object({
  predictionId: z.uuid(),
  upstreamId: z.string().min(1),
  requestId: z.string().nullable(),
  /** The create call's raw status word, so the row starts where Atlas said the job was. */
  upstreamStatus: z.string().nullable(),
  at: z.iso.datetime(),
});
export type UnrecordedSubmission = z.infer<typeof UnrecordedSubmission>;

/**
 * Upstream ids kept on local disk, one file each, from the moment the database fails to take one
 * until it does: a database outage, or this process dying meanwhile, then loses no paid job (the
 * next process on this host records them at start-up). A log line would not be enough.
 */
export class SubmissionJournal {
  constructor(private readonly dir: string) {}

  /** Written and flushed to disk before this returns. */
  save(entry: UnrecordedSubmission): void {
    mkdirSync(this.dir, { recursive: true });
    const fd = openSync(this.#file(entry.predictionId), 'w');
    try {
      writeSync(fd, JSON.stringify(entry));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  remove(predictionId: string): void {
    rmSync(this.#file(predictionId), { force: true });
  }

  /** Every entry on disk; unreadable files are skipped (and reported), never thrown. */
  list(onUnreadable: (file: string, error: unknown) => void): UnrecordedSubmission[] {
    let files: string[];
    try {
      files = readdirSync(this.dir).filter((name) => name.endsWith('.json'));
    } catch {
      return [];
    }
    const entries: UnrecordedSubmission[] = [];
    for (const name of files) {
      try {
        entries.push(UnrecordedSubmission.parse(JSON.parse(readFileSync(join(this.dir, name), 'utf8'))));
      } catch (error) {
        onUnreadable(name, error);
      }
    }
    return entries;
  }

  #file(predictionId: string): string {
    return join(this.dir, `${predictionId}.json`);
  }
}
