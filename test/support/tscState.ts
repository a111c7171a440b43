/**
 * tsc's incremental state kept between test runs, for tests that type-check generated code with tsc
 * (consumer.test.ts, docs-guide-examples.test.ts): tsc still reads every file and re-checks each whose
 * content differs from what the state records, but not the lib, @types and package declarations it
 * checked last time, seconds of CPU each run. Kept only after a passing check, and replaced whole, so a
 * run that starts meanwhile reads one run's state, never a mixture.
 */
import { existsSync } from 'node:fs';
import { cp, mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export interface TscState {
  /** Copies the kept state (where there is one) into `dir`, where tsc will look for it. */
  restore(dir: string): Promise<void>;
  /** Keeps `dir`'s state, after a passing check, for the next run. */
  keep(dir: string): Promise<void>;
}

/** The state made of `names` (tsBuildInfoFiles, an emitted folder) in a check's folder, kept in `stateDir`. */
export function tscState(stateDir: string, names: readonly string[]): TscState {
  return {
    async restore(dir) {
      for (const name of names)
        if (existsSync(join(stateDir, name))) await cp(join(stateDir, name), join(dir, name), { recursive: true });
    },
    async keep(dir) {
      const scratch = `${stateDir}.partial-${process.pid}`;
      await rm(scratch, { recursive: true, force: true });
      await mkdir(dirname(scratch), { recursive: true });
      await mkdir(scratch);
      for (const name of names) await cp(join(dir, name), join(scratch, name), { recursive: true });
      await rm(stateDir, { recursive: true, force: true });
      await rename(scratch, stateDir).catch(() => rm(scratch, { recursive: true, force: true }));
    },
  };
}
