import { mkdirSync, readFileSync } from 'node:fs';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveBrowser, sharedChromium } from './support/browser.ts';
import { simulatorGatewayFixture } from './support/gateway.ts';
import { jpeg, png } from './support/images.ts';

// CI installs Chromium (.ci/run), so there a missing browser is a failure, not a skip.

// The worker's one browser (support/browser.ts), and one context for each block's tabs: a context costs
// Chromium half a second. The page keeps nothing in the browser (no storage, no cookies), so a tab in a
// shared context starts as fresh as one in a new context.

describe.skipIf(!haveBrowser)('the demo page in headless Chromium, on the built-in simulator', () => {
  // No key: the gateway runs its simulator, exactly as `npm start` does for a newcomer.
  const sim = simulatorGatewayFixture({ SIMULATOR_JOB_MS: '2500', POLL_INTERVAL_MS: '200' });
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    context = await (await sharedChromium()).newContext({ viewport: { width: 1000, height: 1000 } });
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
  }, 60_000);

  afterAll(async () => {
    await context?.close();
  });

  it('submits a prompt, shows the status change, and plays the finished video', async () => {
    const failures: string[] = [];
    page.on('pageerror', (error) => failures.push(error.message));
    await page.goto(`${sim.origin}/`);
    await page.getByLabel('Prompt').fill('A chestnut horse trotting through snow');
    await page.getByLabel('Duration (s)').fill('4');
    await page.getByRole('button', { name: 'Generate video' }).click();

    const status = page.getByTestId('status');
    await expect.poll(() => status.textContent(), { timeout: 10_000 }).toBe('PROCESSING');
    const elapsedEarly = Number.parseFloat((await page.getByTestId('elapsed').textContent()) ?? '');
    // A progress bar with an estimate of the time left, moving while the job runs.
    const bar = page.getByTestId('progress');
    const barEarly = Number(await bar.getAttribute('value'));
    await expect.poll(() => page.getByTestId('eta').textContent()).toContain('left (estimate)');
    // Before any job has finished, the simulator's own job length (2.5 s), not the real model's minute.
    const secondsLeft = Number(/about (\d+) s left/.exec((await page.getByTestId('eta').textContent()) ?? '')?.[1]);
    expect(secondsLeft).toBeLessThanOrEqual(3);
    mkdirSync('test-results', { recursive: true });
    await page.screenshot({ path: 'test-results/demo-page-running.png', fullPage: true });
    await expect
      .poll(async () => Number(await bar.getAttribute('value')), { timeout: 10_000 })
      .toBeGreaterThan(barEarly);
    await expect.poll(() => status.textContent(), { timeout: 20_000 }).toBe('SUCCEEDED');
    expect(Number(await bar.getAttribute('value'))).toBe(1);
    const elapsedDone = Number.parseFloat((await page.getByTestId('elapsed').textContent()) ?? '');
    expect(elapsedDone).toBeGreaterThan(elapsedEarly);

    // The <video> has a source, and the browser actually loaded and decoded it.
    const video = page.locator('video');
    await expect
      .poll(() => video.evaluate((v: HTMLVideoElement) => v.readyState), { timeout: 10_000 })
      .toBeGreaterThanOrEqual(2);
    const media = await video.evaluate((v: HTMLVideoElement) => ({
      src: v.currentSrc,
      width: v.videoWidth,
      duration: v.duration,
      error: v.error?.code,
    }));
    // The gateway's own copy, through its signed link (the browser seeks it with range requests).
    expect(media.src).toMatch(new RegExp(`^${sim.origin}/videos/[0-9a-f-]{36}/0\\.mp4\\?expires=\\d+&signature=`));
    expect(media.width).toBeGreaterThan(0);
    expect(media.duration).toBeGreaterThan(0);
    expect(media.error).toBeUndefined();
    // It loops (autoplay, muted) for as long as the tab is open, which is to the end of the block: decoding
    // and compositing frames nobody looks at cost Chromium seconds of CPU.
    await video.evaluate((v: HTMLVideoElement) => v.pause());

    // The recent list shows the job.
    await expect
      .poll(() => page.getByRole('table').textContent(), { timeout: 5_000 })
      .toContain('A chestnut horse trotting through snow');

    mkdirSync('test-results', { recursive: true });
    await page.screenshot({ path: 'test-results/demo-page.png', fullPage: true });
    expect(failures).toEqual([]);
  });

  it('serves GraphiQL at /graphql from the package itself, with no request leaving the machine', async () => {
    const graphiql = await context.newPage();
    const outside: string[] = [];
    graphiql.on('request', (request) => {
      if (
        !request.url().startsWith(sim.origin) &&
        !request.url().startsWith('data:') &&
        !request.url().startsWith('blob:')
      )
        outside.push(request.url());
    });
    await graphiql.goto(`${sim.origin}/graphql`);
    await graphiql.locator('.graphiql-container').first().waitFor();
    await expect
      .poll(() => graphiql.locator('.graphiql-query-editor').first().textContent())
      .toContain('generateVideo');
    expect(outside).toEqual([]);
    await graphiql.close();
  });

  /** GraphQL from the test itself, as the page's (anonymous) caller. */
  async function gql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const response = await fetch(`${sim.origin}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables }),
    });
    const result = (await response.json()) as { data: T; errors?: unknown };
    expect(result.errors).toBeUndefined();
    return result.data;
  }
  const jobCount = async () =>
    (await gql<{ predictions: { edges: unknown[] } }>('{ predictions(first: 100) { edges { cursor } } }')).predictions
      .edges.length;
  const file = (name: string, mimeType: string, buffer: Buffer) => ({ name, mimeType, buffer });

  /** A fresh page in one mode, failing the test on any script error. */
  async function openIn(mode: string) {
    const tab = await context.newPage();
    await tab.setViewportSize({ width: 1000, height: 1200 });
    tab.setDefaultTimeout(10_000);
    const failures: string[] = [];
    tab.on('pageerror', (error) => failures.push(error.message));
    await tab.goto(`${sim.origin}/`);
    await tab.getByLabel(mode, { exact: true }).check();
    return { tab, failures };
  }

  it('image to video: picks a PNG, shows it with its pixel size, uploads it with progress, and plays the result', async () => {
    const { tab, failures } = await openIn('Image to video');
    const frame = png(640, 480);
    await tab.setInputFiles('#image', file('frame.png', 'image/png', frame));
    const item = tab.getByTestId('media-item');
    await expect.poll(() => item.getByTestId('pixels').textContent()).toBe('640 × 480 px');
    expect(
      await item
        .getByRole('img', { name: 'Preview of frame.png' })
        .evaluate((img: HTMLImageElement) => img.naturalWidth),
    ).toBe(640);
    await expect.poll(() => item.getByTestId('upload-status').textContent()).toBe('Uploaded');
    const bar = item.getByTestId('upload-progress');
    expect(await bar.getAttribute('value')).toBe(String(frame.length));
    expect(await bar.getAttribute('max')).toBe(String(frame.length));

    await tab.getByLabel('Prompt (optional)').fill('The horse turns its head');
    await tab.getByLabel('Duration (s)').fill('3');
    await tab.getByRole('button', { name: 'Generate video' }).click();
    const status = tab.getByTestId('status');
    await expect.poll(() => status.textContent(), { timeout: 20_000 }).toBe('SUCCEEDED');
    const video = tab.locator('.progress video');
    await expect
      .poll(() => video.evaluate((v: HTMLVideoElement) => v.readyState), { timeout: 10_000 })
      .toBeGreaterThanOrEqual(2);
    await expect.poll(() => tab.getByRole('table').textContent()).toContain('Image to video');

    const latest = await gql<{
      predictions: {
        edges: {
          node: { mode: string; status: string; duration: number; media: { role: string; uploadId: string }[] };
        }[];
      };
    }>('{ predictions(first: 1) { edges { node { mode status duration media { role uploadId } } } } }');
    const job = latest.predictions.edges[0]!.node;
    expect(job).toMatchObject({ mode: 'IMAGE_TO_VIDEO', status: 'SUCCEEDED', duration: 3 });
    const upload = await gql<{ upload: { filename: string; width: number } }>(
      'query U($id: ID!) { upload(id: $id) { filename width } }',
      { id: job.media[0]!.uploadId },
    );
    expect(upload.upload).toEqual({ filename: 'frame.png', width: 640 });
    mkdirSync('test-results', { recursive: true });
    await tab.screenshot({ path: 'test-results/demo-page-image.png', fullPage: true });
    expect(failures).toEqual([]);
    await tab.close();
  });

  it('reference images: keeps them in order, reorders and removes, and sends them in that order', async () => {
    const { tab, failures } = await openIn('Reference images to video');
    await tab.setInputFiles('#images', [
      file('rider.png', 'image/png', png(640, 480)),
      file('horse.jpg', 'image/jpeg', jpeg(800, 450)),
      file('extra.png', 'image/png', png(500, 500)),
    ]);
    const names = () => tab.locator('[data-testid=media-item] .media-name').allTextContents();
    expect(await names()).toEqual(['rider.png', 'horse.jpg', 'extra.png']);
    await tab.getByRole('button', { name: 'Remove extra.png' }).click();
    await tab.getByRole('button', { name: 'Move horse.jpg earlier' }).click();
    expect(await names()).toEqual(['horse.jpg', 'rider.png']);
    const statuses = () => tab.getByTestId('upload-status').allTextContents();
    await expect.poll(statuses).toEqual(['Uploaded', 'Uploaded']);

    await tab.getByLabel('Prompt', { exact: true }).fill('character1 carries character2 across a river');
    await tab.getByRole('button', { name: 'Generate video' }).click();
    await expect.poll(() => tab.getByTestId('status').textContent(), { timeout: 20_000 }).toBe('SUCCEEDED');

    const latest = await gql<{ predictions: { edges: { node: { mode: string; media: { uploadId: string }[] } }[] } }>(
      '{ predictions(first: 1) { edges { node { mode media { uploadId } } } } }',
    );
    const job = latest.predictions.edges[0]!.node;
    expect(job.mode).toBe('REFERENCE_TO_VIDEO');
    const filenames = await Promise.all(
      job.media.map(
        async ({ uploadId }) =>
          (
            await gql<{ upload: { filename: string } }>('query U($id: ID!) { upload(id: $id) { filename } }', {
              id: uploadId,
            })
          ).upload.filename,
      ),
    );
    expect(filenames).toEqual(['horse.jpg', 'rider.png']);
    await tab.screenshot({ path: 'test-results/demo-page-references.png', fullPage: true });
    expect(failures).toEqual([]);
    await tab.close();
  });

  it('edits an uploaded MP4 to SUCCEEDED', async () => {
    const { tab, failures } = await openIn('Edit a video');
    const sample = readFileSync(new URL('../src/simulator/sample.mp4', import.meta.url));
    await tab.setInputFiles('#video', file('ride.mp4', 'video/mp4', sample));
    await expect.poll(() => tab.getByTestId('upload-status').textContent()).toBe('Uploaded');
    await tab.getByLabel('Sound').selectOption('KEEP_ORIGINAL');
    await tab.getByRole('button', { name: 'Generate video' }).click();
    await expect.poll(() => tab.getByTestId('status').textContent(), { timeout: 20_000 }).toBe('SUCCEEDED');
    const latest = await gql<{ predictions: { edges: { node: { mode: string; prompt: string } }[] } }>(
      '{ predictions(first: 1) { edges { node { mode prompt } } } }',
    );
    expect(latest.predictions.edges[0]!.node).toEqual({ mode: 'VIDEO_EDIT', prompt: 'Make it snow' });
    expect(failures).toEqual([]);
    await tab.close();
  });

  it('refuses a dropped too-small image and a picked file that is not an image, before upload, with the reason, and makes no job', async () => {
    const { tab, failures } = await openIn('Image to video');
    const before = await jobCount();
    // Dropped on the picker, as a visitor drags it from their files.
    const dropped = await tab.evaluateHandle(
      ({ name, type, bytes }) => {
        const transfer = new DataTransfer();
        transfer.items.add(new File([new Uint8Array(bytes)], name, { type }));
        return transfer;
      },
      { name: 'small.png', type: 'image/png', bytes: [...png(200, 200)] },
    );
    await tab.getByTestId('image-drop').dispatchEvent('drop', { dataTransfer: dropped });
    const item = tab.getByTestId('media-item');
    await expect
      .poll(() => item.getByRole('alert').textContent())
      .toBe('small.png must be at least 300 pixels on each side, and it is 200x200');
    await expect.poll(() => item.getByTestId('pixels').textContent()).toBe('200 × 200 px');
    // Refused in the browser: no upload was started for it.
    expect(await item.getByTestId('upload-progress').count()).toBe(0);
    await tab.getByRole('button', { name: 'Generate video' }).click();
    await expect.poll(() => tab.getByTestId('media-error').textContent()).toBe('Remove or replace small.png first.');

    // Bytes that are no image, named and typed as a PNG: the browser cannot decode them.
    await tab.setInputFiles('#image', file('notes.png', 'image/png', Buffer.from('these are not pixels\n'.repeat(20))));
    await expect
      .poll(() => tab.getByTestId('media-item').getByRole('alert').textContent())
      .toBe('notes.png is not an image: its bytes are not a JPEG, PNG or WEBP this browser can read');
    await tab.getByRole('button', { name: 'Generate video' }).click();
    await expect.poll(() => tab.getByTestId('media-error').textContent()).toBe('Remove or replace notes.png first.');
    expect(await tab.getByTestId('status').count()).toBe(0);
    expect(await jobCount()).toBe(before);
    await tab.screenshot({ path: 'test-results/demo-page-refused.png', fullPage: true });
    expect(failures).toEqual([]);
    await tab.close();
  });

  it("shows the server's validation message next to the duration field", async () => {
    await page.getByLabel('Duration (s)').fill('2');
    await page.getByRole('button', { name: 'Generate video' }).click();
    const message = page.locator('#duration-error');
    await expect.poll(() => message.textContent(), { timeout: 5_000 }).toBe('must be from 3 to 15 seconds');
    expect(await page.getByLabel('Duration (s)').getAttribute('aria-invalid')).toBe('true');
    await page.screenshot({ path: 'test-results/demo-page-invalid.png', fullPage: true });
  });
});

describe.skipIf(!haveBrowser)('the demo page remembers: its job across a reload, and jobs of other tabs', () => {
  // Jobs long enough that a reload lands while one runs.
  const sim = simulatorGatewayFixture({ SIMULATOR_JOB_MS: '6000', POLL_INTERVAL_MS: '200' });
  let context: BrowserContext;

  beforeAll(async () => {
    context = await (await sharedChromium()).newContext({ viewport: { width: 1000, height: 1000 } });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
  });

  async function open(path = '/') {
    const tab = await context.newPage();
    tab.setDefaultTimeout(10_000);
    const failures: string[] = [];
    tab.on('pageerror', (error) => failures.push(error.message));
    await tab.goto(`${sim.origin}${path}`);
    return { tab, failures };
  }
  const jobOf = (tab: Page) => new URL(tab.url()).searchParams.get('job');
  const seconds = async (tab: Page) => Number.parseFloat((await tab.getByTestId('elapsed').textContent()) ?? '');

  it('keeps the job in the URL: a reload mid-job shows the same job running, then its end; a later reload its end', async () => {
    const { tab, failures } = await open();
    await tab.getByLabel('Prompt').fill('A grey horse that survives a reload');
    await tab.getByLabel('Duration (s)').fill('4');
    await tab.getByRole('button', { name: 'Generate video' }).click();
    const status = tab.getByTestId('status');
    await expect.poll(() => status.textContent()).toBe('PROCESSING');
    await expect.poll(() => jobOf(tab)).toMatch(/^[0-9a-f-]{36}$/);
    const id = jobOf(tab);
    const elapsedBefore = await seconds(tab);

    await tab.reload();
    // The same job, running: its clock goes on from its start (a new job's would start at 0).
    await expect.poll(() => status.textContent()).toBe('PROCESSING');
    expect(jobOf(tab)).toBe(id);
    expect(await seconds(tab)).toBeGreaterThanOrEqual(elapsedBefore);
    await expect.poll(() => tab.getByTestId('eta').textContent()).toContain('left (estimate)');
    await expect.poll(() => status.textContent(), { timeout: 20_000 }).toBe('SUCCEEDED');
    await expect.poll(() => tab.locator('.progress video').getAttribute('src')).toMatch(/\/videos\//);

    // Reloaded after its end: the end, at once, and still the one job.
    await tab.reload();
    await expect.poll(() => status.textContent()).toBe('SUCCEEDED');
    expect(jobOf(tab)).toBe(id);
    // The Recent list arrives by its own stream after the reload: wait for it, then it holds the job once.
    await expect.poll(() => tab.getByRole('row', { name: /A grey horse that survives a reload/ }).count()).toBe(1);
    // A new choice of mode leaves the job, and the URL with it.
    await tab.getByLabel('Image to video', { exact: true }).check();
    await expect.poll(() => jobOf(tab)).toBeNull();
    expect(failures).toEqual([]);
    await tab.close();
  });

  it("shows a job started in one tab in the other tab's Recent list, running and then at its end", async () => {
    const [one, other] = [await open(), await open()];
    await expect.poll(() => other.tab.getByRole('heading', { name: 'Recent' }).count()).toBe(1);
    await one.tab.getByLabel('Prompt').fill('A bay horse seen from the other tab');
    await one.tab.getByLabel('Duration (s)').fill('4');
    await one.tab.getByRole('button', { name: 'Generate video' }).click();

    // The other tab was neither reloaded nor used: the list changes by itself.
    const row = other.tab.getByRole('row', { name: /A bay horse seen from the other tab/ });
    await expect.poll(() => row.locator('.status').textContent()).toMatch(/STARTING|PROCESSING/);
    await expect.poll(() => row.locator('.status').textContent(), { timeout: 20_000 }).toBe('SUCCEEDED');
    mkdirSync('test-results', { recursive: true });
    await other.tab.screenshot({ path: 'test-results/demo-page-other-tab.png', fullPage: true });
    expect([...one.failures, ...other.failures]).toEqual([]);
    await Promise.all([one.tab.close(), other.tab.close()]);
  });
});
