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

  /** Written and flushed to disk before this returns; throws if it could not be (no half-written file is left). */
  save(entry: UnrecordedSubmission): void {
    const file = this.#file(entry.predictionId);
    mkdirSync(this.dir, { recursive: true });
    const fd = openSync(file, 'w');
    try {
      writeSync(fd, JSON.stringify(entry));
      fsyncSync(fd);
    } catch (error) {
      // A full disk: a truncated entry would only be reported as unreadable at every start.
      try {
        rmSync(file, { force: true });
      } catch {
        // The write's error is the one worth reporting.
      }
      throw error;
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
