// @ts-check
/**
 * `npm start`: the gateway from the bundle of the sources as they are now (scripts/bundle.js), made
 * first if they changed since the last one, then run in this process by plain Node: no compiler at
 * run time, and signals reach the gateway directly.
 *
 * package.json runs it with `--max-semi-space-size=2` (MiB): V8's young generation otherwise stays at
 * the 40-odd MiB the start-up's allocations grew it to, a sixth of an idle gateway's memory; held to
 * a few MiB, the start takes no longer (measured: `npm run bench`, bench/startup.ts).
 *
 * And with `--liftoff-only`: PGlite is Postgres compiled to WebAssembly, which V8 compiles fast
 * (Liftoff) and then again, optimised, on background threads that compete with the start-up on a
 * small machine. Measured on two cores: `/ready` about 0.7 s sooner, 60 MiB less resident, a third
 * less CPU to open PGlite, and its queries 5 to 10% slower once running. It changes nothing with
 * DATABASE_URL (no WebAssembly then).
 */
import module from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gatewayBundle } from './bundle.js';

// Node 22.1 and later keep V8's compiled code of the modules loaded from here on (the bundle and its
// packages) on disk, so the next start skips most of the compiling; Node 20 has no such cache.
/** @type {{ enableCompileCache?: (dir: string) => unknown }} */ (module).enableCompileCache?.(
  fileURLToPath(new URL('../node_modules/.cache/hh-compile-cache', import.meta.url)),
);

const { dir } = await gatewayBundle({ onBuild: () => console.error('Bundling the gateway (src/ changed)…') });
await import(pathToFileURL(join(dir, 'main.js')).href);
