import { generateKeyPairSync, randomBytes, randomUUID, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { upstreamBodyProblem, upstreamMediaUrls } from '../models/index.ts';
import { multipartField } from './multipart.ts';

/**
 * A stand-in for Atlas Cloud on loopback, speaking its protocol, so the real client code runs when no
 * key is set. It keeps no state: a job's id carries its start time, so it survives gateway restarts.
 * A prompt containing "[fail]" ends in a content-policy failure, for trying the failure path by hand.
 * It serves every model in src/models/, refusing (400) a body with a field missing or one its model
 * does not take, and fetches each media URL it is given, as Atlas would: a job whose media cannot be
 * fetched fails.
 * A create call with a `webhook_url` gets one signed delivery at the job's end, as Atlas sends it,
 * with a key pair made at start-up and published at /api/v1/webhooks/jwks.json (so `npm start` with
 * PUBLIC_URL=http://127.0.0.1:4000 runs the whole webhook path).
 * uploadMedia keeps each file (in a temporary folder, gone when it stops) and serves it back at the
 * download_url it answers, as Atlas' temporary hosting does.
 */
export interface AtlasSimulator {
  url: string;
  close(): Promise<void>;
}

const video = readFileSync(new URL('./sample.mp4', import.meta.url));
const CreateBody = z.looseObject({
  model: z.string(),
  prompt: z.string().trim().min(1).optional(),
  webhook_url: z
    .url({ protocol: /^https?$/ })
    .max(1024)
    .optional(),
});
/** A job's id: its start, and how it ends (`_f` content policy, `_m` media that could not be fetched). */
const ID = /^sim_([0-9a-z]+)_[0-9a-f]{8}(_f|_m)?$/;
type Ending = 'ok' | 'policy' | 'media';
const ENDINGS: Record<string, Ending> = { _f: 'policy', _m: 'media' };
const MEDIA_FETCH_TIMEOUT_MS = 10_000;

/** Whether every URL answers a GET with 2xx (the bytes are read and dropped), as Atlas fetches media. */
async function mediaFetches(urls: readonly string[]): Promise<boolean> {
  const results = await Promise.all(
    urls.map(async (url) => {
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(MEDIA_FETCH_TIMEOUT_MS) });
        await response.arrayBuffer();
        return response.ok;
      } catch {
        return false;
      }
    }),
  );
  return results.every(Boolean);
}
/** Atlas refuses bodies over 50 MB with 413. */
const MAX_UPLOAD_BODY_BYTES = 50 * 1000 * 1000;
const MEDIA_PATH = /^\/media\/([0-9a-f]{32})$/;

export async function startAtlasSimulator({
  jobMs,
  port = 0,
}: {
  jobMs: number;
  port?: number;
}): Promise<AtlasSimulator> {
  const signing = generateKeyPairSync('ed25519');
  const kid = `sim_${randomBytes(4).toString('hex')}`;
  const jwks = { keys: [{ ...signing.publicKey.export({ format: 'jwk' }), kid, alg: 'EdDSA', use: 'sig' }] };
  const webhookTimers = new Set<NodeJS.Timeout>();
  let host = '127.0.0.1';
  const mediaDir = await mkdtemp(join(tmpdir(), 'hh-simulator-media-'));
  /** The type each uploaded file was sent with, by its name in mediaDir. */
  const mediaTypes = new Map<string, string>();

  /** The job's state at `at`: running words, or its end (with the video's URL on `host`). */
  function stateOf(id: string, startedAt: number, ending: Ending, videoHost: string, at = Date.now()) {
    const elapsed = at - startedAt;
    const base = {
      id,
      created_at: new Date(startedAt).toISOString(),
      outputs: [] as string[],
      error: null as string | null,
    };
    if (elapsed < jobMs / 5) return { ...base, status: 'queued' };
    if (elapsed < jobMs) return { ...base, status: 'processing' };
    const done = {
      ...base,
      completed_at: new Date(startedAt + jobMs).toISOString(),
      metrics: { predict_time: Math.round(jobMs * 0.8) / 1000 },
    };
    if (ending === 'policy')
      return { ...done, status: 'failed', error: 'The prompt was flagged by content moderation', error_code: 1039 };
    if (ending === 'media') return { ...done, status: 'failed', error: 'A media URL could not be downloaded' };
    return { ...done, status: 'completed', outputs: [`http://${videoHost}/files/${id}.mp4`] };
  }

  /** One signed POST at the job's end, as Atlas does; no retries (nor does Atlas document any). */
  function scheduleWebhook(url: string, id: string, startedAt: number, ending: Ending) {
    const timer = setTimeout(
      () => {
        webhookTimers.delete(timer);
        // At the job's end, whatever the clock says: a timer may fire a millisecond before Date.now() reaches it.
        const payload = stateOf(id, startedAt, ending, host, Math.max(Date.now(), startedAt + jobMs));
        const body = JSON.stringify({
          event_type: 'video.task.terminal',
          session_id: id,
          status: ending === 'ok' ? 'OK' : 'ERROR',
          payload,
          error: payload.error,
        });
        const timestamp = String(Math.floor(Date.now() / 1000));
        const signature = sign(null, Buffer.from(`${timestamp}.${body}`), signing.privateKey).toString('base64url');
        fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-atlascloud-webhook-signature-ed25519': signature,
            'x-atlascloud-webhook-key-id': kid,
            'x-atlascloud-webhook-timestamp': timestamp,
            'x-atlascloud-webhook-id': `whd_${randomUUID()}`,
            'x-atlascloud-webhook-event': 'video.task.terminal',
          },
          body,
          redirect: 'manual',
          signal: AbortSignal.timeout(10_000),
        }).then(
          (response) => response.body?.cancel(),
          () => {}, // lost, as webhooks sometimes are: the gateway's polling finds the end anyway
        );
      },
      Math.max(0, startedAt + jobMs - Date.now()),
    );
    webhookTimers.add(timer);
  }

  const server = createServer((req, res) => {
    res.setHeader('x-request-id', randomUUID());
    route(req, res).catch(() => reply(res, 500, { code: 500, message: 'simulator error' }));
  });

  async function route(req: IncomingMessage, res: ServerResponse) {
    const path = new URL(req.url ?? '/', 'http://simulator').pathname;
    if (req.method === 'GET' && path.startsWith('/files/')) return serveVideo(req, res);
    const media = req.method === 'GET' && MEDIA_PATH.exec(path);
    if (media) {
      const type = mediaTypes.get(media[1]!);
      if (!type) return reply(res, 404, { code: 404, message: 'object not found or expired' });
      const bytes = await readFile(join(mediaDir, media[1]!));
      res.writeHead(200, { 'content-type': type, 'content-length': bytes.length });
      return res.end(bytes);
    }
    if (req.method === 'GET' && path === '/api/v1/webhooks/jwks.json') return reply(res, 200, jwks);
    if (!/^Bearer \S+/.test(req.headers.authorization ?? ''))
      return reply(res, 401, { code: 401, message: 'Unauthorized' });

    if (req.method === 'POST' && path === '/api/v1/model/generateVideo') {
      const json = await readJson(req);
      const problem = upstreamBodyProblem(json);
      if (problem) return reply(res, 400, { code: 400, message: problem });
      const body = CreateBody.safeParse(json);
      if (!body.success) return reply(res, 400, { code: 400, message: 'prompt or webhook_url is malformed' });
      const mediaOk = await mediaFetches(upstreamMediaUrls(body.data));
      const suffix = !mediaOk ? '_m' : body.data.prompt?.includes('[fail]') ? '_f' : '';
      const startedAt = Date.now();
      const id = `sim_${startedAt.toString(36)}_${randomBytes(4).toString('hex')}${suffix}`;
      if (body.data.webhook_url) scheduleWebhook(body.data.webhook_url, id, startedAt, ENDINGS[suffix] ?? 'ok');
      return reply(res, 200, { code: 200, message: 'success', data: { id, status: 'starting', outputs: [] } });
    }

    if (req.method === 'POST' && path === '/api/v1/model/uploadMedia') {
      const body = await readBody(req, MAX_UPLOAD_BODY_BYTES);
      if (!body) return reply(res, 413, { code: 413, message: 'request body is over 50 MB' });
      const file = multipartField(req.headers['content-type'], body, 'file');
      if (!file || file.body.length === 0)
        return reply(res, 400, { code: 400, message: 'multipart field "file" is required' });
      const name = randomBytes(16).toString('hex');
      await writeFile(join(mediaDir, name), file.body);
      mediaTypes.set(name, file.contentType ?? 'application/octet-stream');
      const downloadUrl = `http://${req.headers.host ?? host}/media/${name}`;
      return reply(res, 200, { code: 200, message: 'success', data: { download_url: downloadUrl } });
    }

    const match = req.method === 'GET' && /^\/api\/v1\/model\/prediction\/([^/]+)$/.exec(path);
    if (match) {
      const id = decodeURIComponent(match[1]!);
      const parts = ID.exec(id);
      if (!parts) return reply(res, 404, { code: 404, message: 'prediction not found' });
      const startedAt = parseInt(parts[1]!, 36);
      const data = stateOf(id, startedAt, ENDINGS[parts[2] ?? ''] ?? 'ok', req.headers.host ?? host);
      return reply(res, 200, { code: 200, message: 'success', data });
    }
    return reply(res, 404, { code: 404, message: 'not found' });
  }

  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: bound } = server.address() as AddressInfo;
  host = `127.0.0.1:${bound}`;
  return {
    url: `http://127.0.0.1:${bound}`,
    close: async () => {
      await new Promise<void>((resolve) => {
        for (const timer of webhookTimers) clearTimeout(timer);
        server.closeAllConnections();
        server.close(() => resolve());
      });
      await rm(mediaDir, { recursive: true, force: true });
    },
  };
}

/** The sample clip, with byte ranges, which browsers use to play and seek video. */
function serveVideo(req: IncomingMessage, res: ServerResponse) {
  const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
  const headers = { 'content-type': 'video/mp4', 'accept-ranges': 'bytes', 'cache-control': 'public, max-age=86400' };
  if (!range) {
    res.writeHead(200, { ...headers, 'content-length': video.length });
    return res.end(video);
  }
  const start = range[1] ? Number(range[1]) : Math.max(0, video.length - Number(range[2]));
  const end = range[1] && range[2] ? Math.min(Number(range[2]), video.length - 1) : video.length - 1;
  if (start > end || start >= video.length) {
    res.writeHead(416, { 'content-range': `bytes */${video.length}` });
    return res.end();
  }
  res.writeHead(206, {
    ...headers,
    'content-range': `bytes ${start}-${end}/${video.length}`,
    'content-length': end - start + 1,
  });
  res.end(video.subarray(start, end + 1));
}

/** The whole body, or undefined once it passes `maxBytes` (the rest is not read). */
async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  if (Number(req.headers['content-length'] ?? 0) > maxBytes) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, size);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return undefined;
  }
}

function reply(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
