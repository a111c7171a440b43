// @ts-check
/**
 * `npm start`: the gateway from the bundle of the sources as they are now (scripts/bundle.js), made
 * first if they changed since the last one, then run in this process by plain Node: no compiler at
 * run time, and signals reach the gateway directly.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gatewayBundle } from './bundle.js';

const { dir } = await gatewayBundle({ onBuild: () => console.error('Bundling the gateway (src/ changed)…') });
await import(pathToFileURL(join(dir, 'main.js')).href);
