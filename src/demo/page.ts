import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.ts';

const STYLE = `
:root { color-scheme: light dark; font: 16px/1.5 system-ui, sans-serif; }
*, *::before, *::after { box-sizing: border-box; }
body { margin: 0; }
main { max-width: 52rem; margin: 0 auto; padding: 1.5rem; }
h1 { margin-top: 0; }
form { display: grid; gap: 1rem; }
.row { display: grid; grid-template-columns: repeat(auto-fit, minmax(9rem, 1fr)); gap: 1rem; align-items: start; }
.field { display: grid; gap: .25rem; align-content: start; min-width: 0; }
.field > textarea, .field > input, .field > select { width: 100%; }
label { font-weight: 600; }
textarea, input, select, button { font: inherit; padding: .5rem; border-radius: .375rem; border: 1px solid #8888; }
.invalid textarea, .invalid input { border-color: #c62828; }
.field-error, .error { color: #c62828; margin: 0; }
button { background: #1f5fbf; color: white; border: 0; cursor: pointer; justify-self: start; padding: .6rem 1.2rem; }
button:disabled { opacity: .6; cursor: progress; }
button:focus-visible, a:focus-visible, input:focus-visible, select:focus-visible, textarea:focus-visible { outline: 3px solid #f9a825; outline-offset: 2px; }
.progress { margin: 1.5rem 0; }
.progress progress { display: block; width: 100%; height: .75rem; margin: .5rem 0 .75rem; accent-color: #1d5fc4; }
video { max-width: 100%; height: auto; border-radius: .5rem; background: #000; }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: .4rem; border-bottom: 1px solid #8884; }
.status { font-weight: 600; font-size: .85rem; padding: .1rem .45rem; border-radius: 1rem; background: #8882; }
.modes { display: flex; flex-wrap: wrap; gap: .5rem 1.25rem; border: 0; padding: 0; margin: 0 0 1rem; }
.modes legend { font-weight: 600; padding: 0; margin-bottom: .25rem; }
.mode { font-weight: 400; display: inline-flex; gap: .35rem; align-items: center; }
.drop { border: 2px dashed #8886; border-radius: .5rem; padding: .75rem; margin: 0; min-width: 0; }
.drop.dragging { border-color: #1f5fbf; background: #1f5fbf11; }
.hint { margin: 0; font-size: .9rem; opacity: .8; }
.media-list { list-style: none; margin: .25rem 0 0; padding: 0; display: grid; gap: .5rem; }
.media-item { display: grid; grid-template-columns: 6rem 1fr auto; gap: .75rem; align-items: center; }
.media-item img, .media-item video, .no-preview { width: 6rem; height: 4.5rem; object-fit: cover; border-radius: .25rem; background: #8882; }
.media-detail { display: grid; gap: .15rem; min-width: 0; font-size: .9rem; }
.media-name { font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.media-detail progress { width: 100%; accent-color: #1d5fc4; }
.media-actions { display: flex; gap: .25rem; }
button.small { padding: .25rem .55rem; background: #8883; color: inherit; }
.status-succeeded { background: #2e7d3233; } .status-failed, .status-canceled { background: #c6282833; }
`;

function html(persisted: boolean) {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>HappyHorse video gateway</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
<div id="root" data-persisted="${persisted}"></div>
<noscript>This demo needs JavaScript. The API is at <a href="/graphql">/graphql</a>.</noscript>
<script type="module" src="/demo.js"></script>
</body>
</html>`;
}

/**
 * The demo page at `/`. Built by `npm run build`, the gateway serves the bundle made then; run from
 * source, it bundles src/demo with esbuild on first request (not at start-up, which stays fast), so
 * `npm start` needs no build step.
 */
export function demoPage({ persisted, log }: { persisted: boolean; log: Logger }) {
  let bundle: Promise<string> | undefined;
  // Written by `npm run build` next to the compiled page; absent in src/.
  const prebuilt = new URL('./demo.js', import.meta.url);
  // The bundler's module is loaded only from source: `npm run build` leaves it out of dist/, whose
  // install has no esbuild.
  const build = async () =>
    existsSync(prebuilt) ? readFile(prebuilt, 'utf8') : (await import('./bundle.ts')).bundleDemo();

  /** Answers `/` and `/demo.js`; returns false for anything else. */
  return async function serve(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    // Not `new URL(req.url, base)`: it throws on a path such as `//`, which it reads as a host.
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' });
      res.end(html(persisted));
      return true;
    }
    if (path === '/demo.js') {
      try {
        bundle ??= build();
        const js = await bundle;
        res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' });
        res.end(js);
      } catch (error) {
        bundle = undefined;
        log.error('building the demo page failed', { error });
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('The demo page could not be built; see the gateway log.');
      }
      return true;
    }
    return false;
  };
}
