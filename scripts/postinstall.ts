/**
 * The end of `npm install`, after patch-package (package.json). In a checkout, PGlite's empty cluster
 * is made now (about 2 s), so that even the first `npm start` makes its database from it instead of
 * running initdb (src/db/pgliteTemplate.ts). The production image has no src/ and uses Postgres: it
 * skips this. A failure here costs only that shortcut, so it warns and lets the install succeed.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const template = new URL('../src/db/pgliteTemplate.ts', import.meta.url);
if (existsSync(fileURLToPath(template))) {
  try {
    const { makeTemplate } = (await import(template.href)) as typeof import('../src/db/pgliteTemplate.ts');
    await makeTemplate();
  } catch (error) {
    console.warn(`postinstall: PGlite's template cluster was not made (${(error as Error).message}); new databases run initdb`);
  }
}
