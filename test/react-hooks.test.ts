// @vitest-environment happy-dom
import { it } from 'vitest';
import { URL as NodeURL } from 'node:url';

it('probe', async () => {
  console.log('meta', import.meta.url);
  console.log('URL', globalThis.URL === NodeURL, String(new URL('./migrations', import.meta.url)), new URL('./migrations', import.meta.url).protocol);
  console.log('fetch', String(globalThis.fetch).slice(0, 200));
  for (const k of ['Request','Response','Headers','AbortController','AbortSignal','ReadableStream','TextDecoder','TextEncoder','EventTarget','Event','Blob','FormData','crypto','WebSocket','setTimeout','queueMicrotask'])
    console.log(k, String((globalThis as any)[k]).slice(0, 60).replace(/\n/g, ' '));
});
