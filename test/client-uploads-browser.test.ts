/**
 * uploadMedia in headless Chromium: the browser path (XMLHttpRequest sending a Blob, its upload
 * events for progress, abort) that Node never takes. The typed client is bundled with esbuild and
 * run in a blank page on the gateway's origin; the gateway (PGlite, JWT auth) stores the bytes.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hs256Token } from './support/auth.ts';
import { clientScriptForPages, haveBrowser, sharedChromium } from './support/browser.ts';
import { gatewayFixture } from './support/gateway.ts';
import { png } from './support/images.ts';

// CI installs Chromium (.ci/run), so there a missing browser is a failure, not a skip.
const JWT_SECRET = 'browser-uploads-secret-of-at-least-32-characters';
const SAMPLE_MP4 = readFileSync(fileURLToPath(new URL('../src/simulator/sample.mp4', import.meta.url)));

interface PageOutcome {
  upload?: { id: string; status: string; contentType: string; byteSize: number; width: number | null };
  error?: { name: string; code: string; message: string; rejectionReason?: string };
  reports: { loaded: number; total: number }[];
  /** GraphQL requests ('graphql') and progress reports (bytes loaded), in order. */
  events: ('graphql' | number)[];
}

/** What the page runs: one uploadMedia of a Blob made from base64 bytes (window.abortUpload aborts it), reporting its outcome and progress. */
const RUN = `async ({ url, token, base64, type }) => {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  const events = [];
  const client = HappyHorse.createVideoClient({
    url,
    token,
    fetch: (input, init) => {
      events.push('graphql');
      return fetch(input, init);
    },
  });
  const controller = new AbortController();
  window.abortUpload = () => controller.abort();
  const reports = [];
  try {
    const upload = await client.uploadMedia(new Blob([bytes], { type }), {
      signal: controller.signal,
      onProgress: (report) => {
        reports.push(report);
        events.push(report.loaded);
      },
    });
    return { upload, reports, events };
  } catch (error) {
    return { error: { name: error.name, code: error.code, message: error.message, rejectionReason: error.rejectionReason }, reports, events };
  }
}`;

describe.skipIf(!haveBrowser)('uploadMedia in headless Chromium (XMLHttpRequest)', () => {
  const t = gatewayFixture('pglite', { AUTH_MODE: 'jwt', AUTH_JWT_SECRET: JWT_SECRET });
  // Its own context in the worker's shared browser, closed with the file.
  let context: BrowserContext;
  let page: Page;
  let origin: string;
  let token: string;
  const requests: Request[] = [];

  beforeAll(async () => {
    origin = new URL(t.gw.url).origin;
    token = await hs256Token(JWT_SECRET, 'browser-alice');
    context = await (await sharedChromium()).newContext();
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    page.on('request', (request) => requests.push(request));
    // A blank page on the gateway's origin, so the client's requests are same-origin as in an app served with it.
    await page.route(`${origin}/blank`, (route) =>
      route.fulfill({ contentType: 'text/html', body: '<!doctype html>' }),
    );
    await page.goto(`${origin}/blank`);
    await page.addScriptTag({ content: await clientScriptForPages() });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
  });

  const upload = (bytes: Buffer, type: string) =>
    page.evaluate(
      `(${RUN})(${JSON.stringify({ url: t.gw.url, token, base64: bytes.toString('base64'), type })})`,
    ) as Promise<PageOutcome>;

  it('sends a Blob with XMLHttpRequest: READY, progress up to its size, and no token on the PUT', async () => {
    requests.length = 0;
    const outcome = await upload(SAMPLE_MP4, 'video/mp4');
    expect(outcome.error).toBeUndefined();
    expect(outcome.upload).toMatchObject({ status: 'READY', contentType: 'video/mp4', byteSize: SAMPLE_MP4.length });
    expect(outcome.reports.at(-1)).toEqual({ loaded: SAMPLE_MP4.length, total: SAMPLE_MP4.length });
    // The whole size was reported by XMLHttpRequest's upload events, before completeUpload was asked.
    // (createUpload, then the bytes loaded as the PUT went, then completeUpload; nothing after it.)
    const [created, ...rest] = outcome.events;
    const completed = rest.pop();
    expect([created, completed]).toEqual(['graphql', 'graphql']);
    expect(rest[0]).toBe(0);
    expect(rest.at(-1)).toBe(SAMPLE_MP4.length);
    expect(rest.every((loaded) => typeof loaded === 'number')).toBe(true);

    const put = requests.find((request) => request.method() === 'PUT');
    expect(put?.resourceType()).toBe('xhr');
    expect(put?.url()).toContain(`/uploads/${outcome.upload!.id}?`);
    expect(put?.headers()['content-type']).toBe('video/mp4');
    expect(put?.headers().authorization).toBeUndefined();
    const graphql = requests.filter((request) => request.method() === 'POST');
    expect(graphql.length).toBe(2);
    expect(graphql.every((request) => request.headers().authorization === `Bearer ${token}`)).toBe(true);
  });

  it('throws an UploadRejectedError for bytes that disagree with their type', async () => {
    const outcome = await upload(png(300, 300), 'image/webp');
    expect(outcome.error).toEqual({
      name: 'UploadRejectedError',
      code: 'UPLOAD_REJECTED',
      message: 'Upload rejected: contentType: declared image/webp, but the bytes are a PNG image (image/png)',
      rejectionReason: 'contentType: declared image/webp, but the bytes are a PNG image (image/png)',
    });
  });

  it('aborts the XMLHttpRequest when the signal aborts: ABORTED', async () => {
    // The PUT is held unanswered, so only the abort can end it.
    let held = false;
    await page.route('**/uploads/**', () => {
      held = true;
    });
    const running = upload(SAMPLE_MP4, 'video/mp4');
    await expect.poll(() => held).toBe(true);
    await page.evaluate('window.abortUpload()');
    const outcome = await running;
    expect(outcome.upload).toBeUndefined();
    expect(outcome.error).toMatchObject({ name: 'VideoClientError', code: 'ABORTED' });
    await page.unroute('**/uploads/**');
  });
});
