/**
 * A subscription from a page on another origin, in headless Chromium: the browser refuses the
 * gateway's answer for want of CORS_ORIGINS, which reaches the client as a fetch that failed with no
 * status ("Failed to fetch"), as a dead server would. The stream must then fail soon, naming
 * CORS_ORIGINS and a dev-server proxy, not retry for half a minute as graphql-sse would by default.
 */
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientScriptForPages, haveBrowser, sharedChromium } from './support/browser.ts';
import { gatewayFixture } from './support/gateway.ts';

interface StreamOutcome {
  /** Requests the client sent for the stream (through its fetch option). */
  attempts: number;
  error?: { name: string; code: string; message: string; cause: string };
  results: unknown[];
}

/** What the page runs: one predictionUpdated subscription through subscribe(), to its end. */
const SUBSCRIBE = `async ({ url }) => {
  let attempts = 0;
  const client = HappyHorse.createVideoClient({
    url,
    fetch: (input, init) => {
      attempts++;
      return fetch(input, init);
    },
  });
  const results = [];
  try {
    for await (const result of client.subscribe(HappyHorse.PredictionUpdatedDocument, { id: 'no-such-job', progress: false }))
      results.push(result);
    return { attempts, results };
  } catch (error) {
    const cause = error.cause instanceof Error ? error.cause.name + ': ' + error.cause.message : String(error.cause);
    return { attempts, results, error: { name: error.name, code: error.code, message: error.message, cause } };
  } finally {
    client.dispose();
  }
}`;

describe.skipIf(!haveBrowser)('a subscription from a page on an origin the gateway does not allow', () => {
  // No CORS_ORIGINS: the gateway sends no CORS headers, so a browser refuses every cross-origin answer.
  const t = gatewayFixture('pglite', { AUTH_MODE: 'none' });
  // Its own context in the worker's shared browser: closed with the file, pages left open by a failed test included.
  let context: BrowserContext;
  let bundle: string;

  /** A blank page at `origin` (served by the browser itself) with the client loaded. */
  async function pageAt(origin: string): Promise<Page> {
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    await page.route(`${origin}/blank`, (route) =>
      route.fulfill({ contentType: 'text/html', body: '<!doctype html>' }),
    );
    await page.goto(`${origin}/blank`);
    await page.addScriptTag({ content: bundle });
    return page;
  }

  const subscribeFrom = (page: Page) =>
    page.evaluate(`(${SUBSCRIBE})(${JSON.stringify({ url: t.gw.url })})`) as Promise<StreamOutcome>;

  beforeAll(async () => {
    bundle = await clientScriptForPages();
    context = await (await sharedChromium()).newContext();
  }, 60_000);

  afterAll(async () => {
    await context?.close();
  });

  it('reaches the gateway from a page on its own origin (the control): NOT_FOUND for an unknown job', async () => {
    const page = await pageAt(new URL(t.gw.url).origin);
    const outcome = await subscribeFrom(page);
    expect(outcome.error).toMatchObject({ code: 'NOT_FOUND' });
    expect(outcome.attempts).toBe(1);
    await page.close();
  });

  it('fails after three tries, as a query does, naming CORS_ORIGINS and a dev-server proxy, with the fetch error as cause', async () => {
    // localhost and 127.0.0.1 are different origins on the same machine.
    const foreign = new URL(t.gw.url).origin.replace('127.0.0.1', 'localhost');
    const page = await pageAt(foreign);
    const blocked: string[] = [];
    page.on('console', (message) => {
      if (message.text().includes('blocked by CORS policy')) blocked.push(message.text());
    });
    const outcome = await subscribeFrom(page);
    expect(outcome.results).toEqual([]);
    expect(outcome.error).toMatchObject({ name: 'VideoClientError', code: 'NETWORK_ERROR' });
    expect(outcome.error!.message).toContain(`The update stream to ${t.gw.url} got no HTTP answer (Failed to fetch)`);
    expect(outcome.error!.message).toContain("list the page's origin in the gateway's CORS_ORIGINS");
    expect(outcome.error!.message).toContain('call the gateway through your dev server (a proxy for /graphql');
    expect(outcome.error!.cause).toBe('TypeError: Failed to fetch');
    // The first try and two more (250 ms, then 1 s later), not graphql-sse's six over half a minute.
    expect(outcome.attempts).toBe(3);
    // It was the browser's CORS refusal, not a dead gateway.
    expect(blocked.length).toBeGreaterThan(0);
    await page.close();
  });
});
