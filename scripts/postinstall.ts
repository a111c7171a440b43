/**
 * The end of `npm install`, after patch-package (package.json). In a checkout, PGlite's migrated,
 * empty cluster is made now (about 3 s), so that even the first `npm start` makes its database from
 * it instead of running initdb and the migrations (src/db/pgliteTemplate.ts). The production image
 * has no src/ (and uses Postgres): it skips this. A failure costs only that shortcut, so it warns and
 * lets the install succeed.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const database = new URL('../src/db/database.ts', import.meta.url);
if (existsSync(fileURLToPath(database))) {
  try {
    const { makePgliteTemplate } = (await import(database.href)) as typeof import('../src/db/database.ts');
    await makePgliteTemplate();
  } catch (error) {
    console.warn(
      `postinstall: PGlite's template cluster was not made (${(error as Error).message}); new databases run initdb`,
    );
  }
}
