import { existsSync, mkdirSync } from 'node:fs';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { type Database, openDatabase } from '../src/db/database.ts';
import { createLogger } from '../src/log.ts';
import { createGateway, type Gateway } from '../src/server.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// CI installs Chromium (.ci/run), so there a missing browser is a failure, not a skip.
const haveBrowser = existsSync(CHROMIUM) || process.env.CI === 'true';

describe.skipIf(!haveBrowser)('the demo page in headless Chromium, on the built-in simulator', () => {
  let database: Database;
  let gateway: Gateway;
  let origin: string;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    database = await openDatabase({ dataDir: 'memory://' });
    // No key: the gateway runs its simulator, exactly as `npm start` does for a newcomer.
    const config = loadConfig({ NODE_ENV: 'test', SIMULATOR_JOB_MS: '2500', POLL_INTERVAL_MS: '200' });
    gateway = await createGateway(config, createLogger('silent'), { database });
    origin = new URL(await gateway.listen(0, '127.0.0.1')).origin;
    browser = await chromium.launch({
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
    page = await browser.newPage({ viewport: { width: 1000, height: 1000 } });
    page.setDefaultTimeout(10_000);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await gateway?.close();
    await database?.close();
  });

  it('submits a prompt, shows the status change, and plays the finished video', async () => {
    const failures: string[] = [];
    page.on('pageerror', (error) => failures.push(error.message));
    await page.goto(`${origin}/`);
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
    expect(media.src).toMatch(new RegExp(`^${origin}/videos/[0-9a-f-]{36}/0\\.mp4\\?expires=\\d+&signature=`));
    expect(media.width).toBeGreaterThan(0);
    expect(media.duration).toBeGreaterThan(0);
    expect(media.error).toBeUndefined();

    // The recent list shows the job.
    await expect
      .poll(() => page.getByRole('table').textContent(), { timeout: 5_000 })
      .toContain('A chestnut horse trotting through snow');

    mkdirSync('test-results', { recursive: true });
    await page.screenshot({ path: 'test-results/demo-page.png', fullPage: true });
    expect(failures).toEqual([]);
  });

  it('serves GraphiQL at /graphql from the package itself, with no request leaving the machine', async () => {
    const graphiql = await browser.newPage();
    const outside: string[] = [];
    graphiql.on('request', (request) => {
      if (!request.url().startsWith(origin) && !request.url().startsWith('data:') && !request.url().startsWith('blob:'))
        outside.push(request.url());
    });
    await graphiql.goto(`${origin}/graphql`);
    await graphiql.locator('.graphiql-container').first().waitFor();
    await expect
      .poll(() => graphiql.locator('.graphiql-query-editor').first().textContent())
      .toContain('generateVideo');
    expect(outside).toEqual([]);
    await graphiql.close();
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
