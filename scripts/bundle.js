// @ts-check
/**
 * The gateway's programs as plain JavaScript for `npm start` (scripts/start.js), `npm install`
 * (scripts/postinstall.js) and the tests' child processes (test/support/childGateway.ts): src/main.ts
 * (the server), src/cli/keys.ts (`npm run keys`) and src/db/database.ts (for the PGlite template),
 * each one ES module made by esbuild, with the packages it uses but those in EXTERNAL. Node runs them
 * without compiling anything (a start takes about a third of what `node --import tsx src/main.ts`
 * took, which compiled each of the gateway's 160 modules every time), and loads a few large files
 * instead of the thousand-odd of the packages (a third less CPU again).
 *
 * Made once per content of the sources (scripts/contentCache.js) and kept in node_modules/.cache,
 * where Node finds the packages from them. Any change to src/ gives a new key, so a stale bundle is
 * never run: the next start makes a new one first (esbuild takes a second or two).
 * Plain JavaScript, so that Node runs it without tsx; esbuild (a development dependency) is loaded
 * only when a bundle has to be made.
 */
import { readdirSync, rmSync, statSync, symlinkSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cachedFolder, contentHash } from './contentCache.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CACHE = join(ROOT, 'node_modules/.cache');
const NAME = 'bundle';
/** What the bundle is made from: a change to any of them makes a new one. */
const INPUTS = [
  'src',
  'packages/client/src/client/generated/persisted-documents.json',
  'tsconfig.json',
  'scripts/bundle.js',
];
/**
 * Read at run time through `new URL('./…', import.meta.url)`: linked beside the bundles, as
 * `npm run build` copies them beside the compiled modules.
 * @type {[from: string, to: string][]}
 */
const BESIDE = [
  ['src/db/migrations', 'migrations'], // database.ts
  ['src/simulator/sample.mp4', 'sample.mp4'], // atlasSimulator.ts
  ['packages/client/src/client/generated/persisted-documents.json', 'persisted-documents.json'],
  ['src/demo/main.tsx', 'main.tsx'], // demo/bundle.ts: the demo page's entry, bundled on request
];
/**
 * Packages left as imports: PGlite loads its WebAssembly and data files from beside its modules, pino
 * its worker for transports, esbuild its binary (the demo page's bundle, made on request).
 */
const EXTERNAL = ['@electric-sql/pglite', 'pino', 'esbuild'];
/** Bundles of older sources are removed once unused this long, so not every edit leaves one behind. */
const KEEP_MS = 24 * 60 * 60 * 1000;

/** The key of the bundle for the sources as they are now. */
export function bundleKey(root = ROOT) {
  return contentHash(root, INPUTS);
}

/**
 * The folder holding main.js, keys.js and database.js for the sources as they are now, made first
 * when there is none.
 * @param {{ onBuild?: () => void }} [options] `onBuild` is told when a bundle is being made
 * @returns {Promise<{ dir: string; reused: boolean }>}
 */
export async function gatewayBundle({ onBuild } = {}) {
  const key = bundleKey();
  const made = await cachedFolder(
    NAME,
    key,
    async (dir) => {
      onBuild?.();
      const esbuild = await import('esbuild');
      try {
        await esbuild.build({
          entryPoints: ['src/main.ts', 'src/cli/keys.ts', 'src/db/database.ts'].map((entry) => join(ROOT, entry)),
          // Side by side (main.js, keys.js, database.js, chunks): the files they read resolve from one folder.
          entryNames: '[name]',
          outdir: dir,
          bundle: true,
          // Dynamic imports stay lazy, as they are from source: without it the AWS SDK (only for S3)
          // loads at every start, and main.ts could not open the database while the server loads.
          splitting: true,
          platform: 'node',
          format: 'esm',
          target: 'node20',
          // The packages too, but for those that read files beside their own modules at run time:
          // one module graph to load instead of about a thousand files, a third less CPU to start.
          external: EXTERNAL,
          // Bundled CommonJS packages call require() for Node's own modules.
          banner: {
            js: "import { createRequire as __bundleRequire } from 'node:module'; const require = __bundleRequire(import.meta.url);",
          },
          logLevel: 'silent',
        });
      } finally {
        // Its service process would otherwise live as long as the gateway.
        await esbuild.stop();
      }
      for (const [from, to] of BESIDE) symlinkSync(join(ROOT, from), join(dir, to));
    },
    CACHE,
  );
  if (made.reused) {
    // Its time says when it was last used (see removeOldBundles).
    const now = new Date();
    utimesSync(made.dir, now, now);
  } else removeOldBundles(made.dir);
  return made;
}

/** @param {string} current */
function removeOldBundles(current) {
  const prefix = `hh-cache-${NAME}-`;
  for (const name of readdirSync(CACHE)) {
    const dir = join(CACHE, name);
    if (!name.startsWith(prefix) || dir === current) continue;
    try {
      if (Date.now() - statSync(dir).mtimeMs > KEEP_MS) rmSync(dir, { recursive: true, force: true });
    } catch {
      // Removed by another process meanwhile.
    }
  }
}
