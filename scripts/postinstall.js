// @ts-check
/**
 * The end of `npm install`, after patch-package (package.json). In a checkout (with src/ and the
 * development dependencies), the gateway is bundled for `npm start` (scripts/bundle.js), and PGlite's
 * migrated, empty cluster is made (about 3 s), so that even the first `npm start` makes its database
 * from it instead of running initdb and the migrations (src/db/pgliteTemplate.ts). A production
 * install (`npm ci --omit=dev`, the image's runtime stage) has neither src/ nor esbuild: it stops here.
 * Plain JavaScript, so that it needs no tsx. A failure costs only a shortcut, so it warns and lets the
 * install succeed.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const hasEsbuild = () => {
  try {
    createRequire(import.meta.url).resolve('esbuild');
    return true;
  } catch {
    return false;
  }
};

if (existsSync(join(root, 'src')) && hasEsbuild()) {
  try {
    const { gatewayBundle } = await import('./bundle.js');
    const { dir } = await gatewayBundle();
    /** @type {{ makePgliteTemplate(): Promise<unknown> }} */
    const database = await import(pathToFileURL(join(dir, 'database.js')).href);
    await database.makePgliteTemplate();
  } catch (error) {
    console.warn(
      `postinstall: the gateway was not bundled or PGlite's template not made (${/** @type {Error} */ (error).message}); npm start bundles it, and new databases run initdb`,
    );
  }
}
