import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { type Browser, chromium } from 'playwright-core';

/** The system Chromium (installed by .ci/run); CHROMIUM_PATH names another. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Whether the browser tests run: always in CI (where a missing browser must fail, not skip). */
export const haveBrowser = existsSync(CHROMIUM) || process.env.CI === 'true';

/** Headless Chromium without the background traffic (updates, sync) a test does not want. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

let shared: Promise<Browser> | undefined;

/**
 * One Chromium for every browser test file this worker runs (its files run one after another,
 * sharing this module: isolate is off in vitest.config.ts): a launch costs Chromium about 3 s of CPU.
 * Each file works in browser contexts of its own and closes them when it ends, so no page, cookie or
 * storage of one file reaches the next. Playwright ends the browser when the worker exits.
 */
export function sharedChromium(): Promise<Browser> {
  if (!shared) {
    const launching = launchChromium();
    shared = launching;
    const forget = () => {
      if (shared === launching) shared = undefined;
    };
    // A browser that crashed or failed to start is launched again by the next file that asks.
    launching.then((browser) => browser.once('disconnected', forget), forget);
  }
  return shared;
}

let clientBundle: Promise<string> | undefined;

/**
 * The client package's source as one script for a page (`window.HappyHorse`), as a browser app's
 * bundler would make it; made once per worker for every browser test that loads it.
 */
export function clientScriptForPages(): Promise<string> {
  clientBundle ??= build({
    entryPoints: [fileURLToPath(new URL('../../packages/client/src/client/index.ts', import.meta.url))],
    bundle: true,
    write: false,
    format: 'iife',
    globalName: 'HappyHorse',
    target: 'es2022',
    logLevel: 'silent',
  }).then((result) => result.outputFiles[0]!.text);
  return clientBundle;
}
