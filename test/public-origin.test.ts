/**
 * One job, one link, whichever transport reads it: the gateway's own video links (file storage,
 * mirroring on) carry the origin the caller reached, over HTTP POST, GraphQL over SSE and graphql-ws
 * (what Apollo Client's GraphQLWsLink speaks). A Host passed on by a proxy is that origin on all three;
 * forwarded headers, which nothing here vouches for, change it on none.
 */

import { mkdtempSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionResult } from 'graphql';
import { createClient as createSseClient } from 'graphql-sse';
import { createClient as createWsClient } from 'graphql-ws';
import { beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { publicOrigin } from '../src/publicOrigin.ts';
import { post } from './support/auth.ts';
import { generatedChunk } from './support/fakeAtlas.ts';
import { eventually, gatewayFixture, ONE_BACKEND } from './support/gateway.ts';

const READ = 'query Read($id: ID!) { prediction(id: $id) { status mirrored videoUrl } }';
const WATCH = 'subscription Watch($id: ID!) { predictionUpdated(id: $id) { status videoUrl } }';
type Read = { prediction: { status: string; mirrored: boolean; videoUrl: string | null } | null };
type Watched = { predictionUpdated: { status: string; videoUrl: string | null } };
type Operation = { query: string; variables: Record<string, unknown> };

/** Headers a client (not a proxy of the operator's) can send to steer links elsewhere. */
const SPOOFED_FORWARDING = {
  'x-forwarded-host': 'evil.example',
  'x-forwarded-proto': 'https',
  forwarded: 'host=evil.example;proto=https',
};

/** The `videoUrl` of the last result, after checking the operation went through. */
function videoUrlOf(results: ExecutionResult<Read | Watched>[]): string {
  const last = results.at(-1);
  expect(last?.errors).toBeUndefined();
  const data = last?.data;
  const url = data && ('prediction' in data ? data.prediction?.videoUrl : data.predictionUpdated.videoUrl);
  expect(url).toEqual(expect.any(String));
  return url!;
}

async function all<T>(results: AsyncIterable<unknown>): Promise<ExecutionResult<T>[]> {
  const seen: ExecutionResult<T>[] = [];
  for await (const result of results) seen.push(result as ExecutionResult<T>);
  return seen;
}

/** One operation over graphql-ws, on a socket whose handshake carries `headers` (Host too, unlike fetch). */
async function overWebSocket<T>(
  gatewayUrl: string,
  operation: Operation,
  headers: Record<string, string> = {},
): Promise<ExecutionResult<T>[]> {
  class WithHeaders extends WebSocket {
    constructor(address: string | URL, protocols?: string | string[]) {
      super(address, protocols, { headers });
    }
  }
  const client = createWsClient({
    url: gatewayUrl.replace(/^http/, 'ws'),
    webSocketImpl: WithHeaders,
    retryAttempts: 0,
    lazy: true,
  });
  try {
    return await all<T>(client.iterate(operation));
  } finally {
    await client.dispose();
  }
}

/** One operation over GraphQL over SSE with graphql-sse's client (a connection of its own). */
async function overSse<T>(
  gatewayUrl: string,
  operation: Operation,
  headers: Record<string, string> = {},
): Promise<ExecutionResult<T>[]> {
  const client = createSseClient({ url: gatewayUrl, singleConnection: false, retryAttempts: 0, headers });
  try {
    return await all<T>(client.iterate(operation));
  } finally {
    client.dispose();
  }
}

/**
 * A GraphQL POST through node:http, which sends the Host header it is given (fetch sends its own):
 * as JSON, or as an SSE stream whose `next` events are returned.
 */
function rawPost<T>(
  gatewayUrl: string,
  operation: Operation,
  headers: Record<string, string>,
  accept: 'application/json' | 'text/event-stream',
): Promise<ExecutionResult<T>[]> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      gatewayUrl,
      { method: 'POST', headers: { ...headers, 'content-type': 'application/json', accept } },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('error', reject);
        response.on('end', () => {
          if (accept === 'application/json') return resolve([JSON.parse(text) as ExecutionResult<T>]);
          const events = text.split('\n\n').filter((event) => event.startsWith('event: next\n'));
          resolve(
            events.map(
              (event) => JSON.parse(event.slice(event.indexOf('data: ') + 'data: '.length)) as ExecutionResult<T>,
            ),
          );
        });
      },
    );
    request.on('error', reject);
    request.end(JSON.stringify(operation));
  });
}

describe('video links over POST, SSE and graphql-ws', () => {
  const f = gatewayFixture(ONE_BACKEND, {
    AUTH_MODE: 'none',
    STORAGE_URL: `file:${mkdtempSync(join(tmpdir(), 'hh-videos-'))}`,
  });
  let id: string;

  beforeAll(async () => {
    f.fake.jobsWithFiles(() => ({ body: generatedChunk(0, 100_000) }));
    const submitted = await post<{ generateVideo: { prediction: { id: string } } }>(
      f.gw.url,
      undefined,
      'mutation { generateVideo(input: { prompt: "A white horse on a beach" }) { prediction { id } } }',
    );
    expect(submitted.body.errors).toBeUndefined();
    id = submitted.body.data!.generateVideo.prediction.id;
    const done = await eventually(
      () => post<Read>(f.gw.url, undefined, READ, { id }),
      (reply) => reply.body.data?.prediction?.status === 'SUCCEEDED',
      30_000,
    );
    // The gateway's own copy: the link is one the gateway signs, with its own origin.
    expect(done.body.data!.prediction!.mirrored).toBe(true);
  }, 60_000);

  it('carry the origin the client connected to on all three, and the graphql-ws link plays', async () => {
    const connectedTo = new URL(f.gw.url).origin;
    const read = { query: READ, variables: { id } };
    const watch = { query: WATCH, variables: { id } };
    const links = {
      post: (await post<Read>(f.gw.url, undefined, READ, { id })).body.data!.prediction!.videoUrl,
      sseQuery: videoUrlOf(await overSse<Read>(f.gw.url, read, SPOOFED_FORWARDING)),
      sseSubscription: videoUrlOf(await overSse<Watched>(f.gw.url, watch, SPOOFED_FORWARDING)),
      wsQuery: videoUrlOf(await overWebSocket<Read>(f.gw.url, read, SPOOFED_FORWARDING)),
      wsSubscription: videoUrlOf(await overWebSocket<Watched>(f.gw.url, watch, SPOOFED_FORWARDING)),
    };
    // The signature's expiry may tick between reads; the place it points at may not.
    const places = Object.fromEntries(
      Object.entries(links).map(([transport, link]) => [
        transport,
        link && `${new URL(link).origin}${new URL(link).pathname}`,
      ]),
    );
    const expected = `${connectedTo}/videos/${id}/0.mp4`;
    expect(places).toEqual({
      post: expected,
      sseQuery: expected,
      sseSubscription: expected,
      wsQuery: expected,
      wsSubscription: expected,
    });
    expect((await fetch(links.wsQuery)).status).toBe(200);
  });

  it('take the Host a proxy passes on, on all three; forwarded headers change none', async () => {
    const headers = { host: 'videos.example:8443', ...SPOOFED_FORWARDING };
    const read = { query: READ, variables: { id } };
    const watch = { query: WATCH, variables: { id } };
    const links = {
      post: videoUrlOf(await rawPost<Read>(f.gw.url, read, headers, 'application/json')),
      sseQuery: videoUrlOf(await rawPost<Read>(f.gw.url, read, headers, 'text/event-stream')),
      sseSubscription: videoUrlOf(await rawPost<Watched>(f.gw.url, watch, headers, 'text/event-stream')),
      wsQuery: videoUrlOf(await overWebSocket<Read>(f.gw.url, read, headers)),
      wsSubscription: videoUrlOf(await overWebSocket<Watched>(f.gw.url, watch, headers)),
    };
    const origins = Object.fromEntries(
      Object.entries(links).map(([transport, link]) => [transport, new URL(link).origin]),
    );
    const expected = 'http://videos.example:8443';
    expect(origins).toEqual({
      post: expected,
      sseQuery: expected,
      sseSubscription: expected,
      wsQuery: expected,
      wsSubscription: expected,
    });
  });
});

describe('publicOrigin', () => {
  const socket = { localAddress: '10.0.0.5', localPort: 4000 };
  it.each([
    ['a name and port', { host: 'videos.example:8443' }, socket, 'http://videos.example:8443'],
    ['a container name', { host: 'video_gateway:4000' }, socket, 'http://video_gateway:4000'],
    ['the default port, dropped', { host: 'videos.example:80' }, socket, 'http://videos.example'],
    ['an IPv6 address', { host: '[::1]:4000' }, socket, 'http://[::1]:4000'],
    ['a TLS socket', { host: 'videos.example' }, { ...socket, encrypted: true }, 'https://videos.example'],
    ['no Host (HTTP/1.0): the address it came in on', {}, socket, 'http://10.0.0.5:4000'],
    ['no Host, over IPv6', {}, { localAddress: '::1', localPort: 4000 }, 'http://[::1]:4000'],
    [
      'a Host with a path or user in it: ignored',
      { host: 'evil.example/@videos.example' },
      socket,
      'http://10.0.0.5:4000',
    ],
    ['a Host with a user in it: ignored', { host: 'user@videos.example' }, socket, 'http://10.0.0.5:4000'],
    ['a port out of range: ignored', { host: 'videos.example:99999' }, socket, 'http://10.0.0.5:4000'],
  ])('%s', (_case, headers, from, expected) => {
    expect(publicOrigin({ headers, socket: from })).toBe(expected);
    // Asked again, the remembered answer is the same.
    expect(publicOrigin({ headers, socket: from })).toBe(expected);
  });

  it('remembers an origin per scheme: the same Host over plain and TLS sockets', () => {
    const headers = { host: 'both.example:8080' };
    expect(publicOrigin({ headers, socket })).toBe('http://both.example:8080');
    expect(publicOrigin({ headers, socket: { ...socket, encrypted: true } })).toBe('https://both.example:8080');
    expect(publicOrigin({ headers, socket })).toBe('http://both.example:8080');
  });
});
