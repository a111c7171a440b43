import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/** The journal of unrecorded submissions: paid jobs' upstream ids wait here while the database is away. */
export const journalDir = (dataDir: string) => join(dataDir, 'unrecorded-submissions');

/**
 * Why DATA_DIR cannot be written right now, or undefined when it can: does what the journal does,
 * in its folder (made if missing), with a small file that is written and removed again. The name
 * is this process' own and not `.json`, so neither another gateway on the folder nor the journal
 * ever takes it for an entry.
 */
export async function dataDirProblem(dataDir: string): Promise<string | undefined> {
  const folder = journalDir(dataDir);
  const probe = join(folder, `.probe-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await mkdir(folder, { recursive: true });
    await writeFile(probe, 'probe');
    await rm(probe, { force: true });
    return undefined;
  } catch (error) {
    return `DATA_DIR (${resolve(dataDir)}) cannot be written: ${error instanceof Error ? error.message : String(error)}`;
  }
}
