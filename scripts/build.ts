/**
 * `npm run build [-- OUT_DIR]`: the gateway as plain JavaScript in dist/ (or OUT_DIR), run by
 * `node dist/main.js` with production dependencies only. tsc type-checks and compiles src/; the files
 * modules read next to themselves at run time are copied beside them; the demo page's browser bundle
 * is made now, so a production gateway never runs a bundler.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleDemo } from '../src/demo/bundle.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = resolve(process.argv[2] ?? join(root, 'dist'));

/**
 * Read at run time through `new URL('./…', import.meta.url)`, so they must sit beside the compiled
 * module that reads them: from (relative to the repository) -> to (relative to the output).
 */
const RUNTIME_FILES = [
  ['src/db/migrations', 'db/migrations'], // database.ts
  // persistedManifest.ts
  ['packages/client/src/client/generated/persisted-documents.json', 'persisted-documents.json'],
  ['src/simulator/sample.mp4', 'simulator/sample.mp4'], // atlasSimulator.ts
] as const;

rmSync(out, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.server.json'), '--outDir', out], { stdio: 'inherit' });
for (const [from, to] of RUNTIME_FILES) cpSync(join(root, from), join(out, to), { recursive: true });
const demo = join(out, 'demo/demo.js'); // demo/page.ts serves it
mkdirSync(dirname(demo), { recursive: true });
writeFileSync(demo, await bundleDemo());
// demo/page.ts serves the file above and never loads the bundler (esbuild, a development dependency).
rmSync(join(out, 'demo/bundle.js'));
console.log(`built ${out}`);
