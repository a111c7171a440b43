import { fileURLToPath } from 'node:url';

let made: Promise<string> | undefined;

/**
 * The demo page's browser code (src/demo/main.tsx and what it imports) as one ES module. Run by the
 * page on first request when the gateway runs from source, and by `npm run build`, which writes it
 * next to the compiled page so a production gateway bundles nothing. Made once per process: every
 * gateway a process starts (the tests start many) serves the same sources.
 */
export function bundleDemo(): Promise<string> {
  if (!made) {
    made = build();
    // A failed build is tried again on the next request.
    made.catch(() => {
      made = undefined;
    });
  }
  return made;
}

async function build(): Promise<string> {
  // Loaded only when bundling: a built gateway never needs esbuild.
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [fileURLToPath(new URL('./main.tsx', import.meta.url))],
    bundle: true,
    write: false,
    format: 'esm',
    minify: true,
    jsx: 'automatic',
    target: 'es2022',
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}
