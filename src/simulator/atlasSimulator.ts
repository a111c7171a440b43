import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { KNOWN_MODELS } from '../atlas/happyhorse.ts';

/**
 * A stand-in for Atlas Cloud on loopback, speaking its protocol, so the real client code runs when no
 * key is set. It keeps no state: a job's id carries its start time, so it survives gateway restarts.
 * A prompt containing "[fail]" ends in a content-policy failure, for trying the failure path by hand.
 */
export interface AtlasSimulator {
  url: string;
  close(): Promise<void>;
}

const video = readFileSync(new URL('./sample.mp4', import.meta.url));
const CreateBody = z.looseObject({ model: z.string(), prompt: z.string().trim().min(1) });
const ID = /^sim_([0-9a-z]+)_[0-9a-f]{8}(_f)?$/;

export async function startAtlasSimulator({ jobMs, port = 0 }: { jobMs: number; port?: number }): Promise<AtlasSimulator> {
  const server = createServer((req, res) => {
    res.setHeader('x-request-id', randomUUID());
    route(req, res).catch(() => reply(res, 500, { code: 500, message: 'simulator error' }));
  });

  async function route(req: IncomingMessage, res: ServerResponse) {
    const path = new URL(req.url ?? '/', 'http://simulator').pathname;
    if (req.method === 'GET' && path.startsWith('/files/')) return serveVideo(req, res);
    if (!/^Bearer \S+/.test(req.headers.authorization ?? '')) return reply(res, 401, { code: 401, message: 'Unauthorized' });

    if (req.method === 'POST' && path === '/api/v1/model/generateVideo') {
      const body = CreateBody.safeParse(await readJson(req));
      if (!body.success) return reply(res, 400, { code: 400, message: 'model and prompt are required' });
      if (!(KNOWN_MODELS as readonly string[]).includes(body.data.model)) {
        return reply(res, 400, { code: 400, message: `unknown model ${body.data.model}` });
      }
      const fails = body.data.prompt.includes('[fail]') ? '_f' : '';
      const id = `sim_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}${fails}`;
      return reply(res, 200, { code: 200, message: 'success', data: { id, status: 'starting', outputs: [] } });
    }

    const match = req.method === 'GET' && /^\/api\/v1\/model\/prediction\/([^/]+)$/.exec(path);
    if (match) {
      const id = decodeURIComponent(match[1]!);
      const parts = ID.exec(id);
      if (!parts) return reply(res, 404, { code: 404, message: 'prediction not found' });
      const startedAt = parseInt(parts[1]!, 36);
      const elapsed = Date.now() - startedAt;
      const base = { id, created_at: new Date(startedAt).toISOString(), outputs: [] as string[], error: null };
      if (elapsed < jobMs / 5) return reply(res, 200, { code: 200, message: 'success', data: { ...base, status: 'queued' } });
      if (elapsed < jobMs) return reply(res, 200, { code: 200, message: 'success', data: { ...base, status: 'processing' } });
      const done = {
        ...base,
        completed_at: new Date(startedAt + jobMs).toISOString(),
        metrics: { predict_time: Math.round(jobMs * 0.8) / 1000 },
      };
      if (parts[2]) {
        return reply(res, 200, {
          code: 200,
          message: 'success',
          data: { ...done, status: 'failed', error: 'The prompt was flagged by content moderation', error_code: 1039 },
        });
      }
      const host = req.headers.host ?? '127.0.0.1';
      return reply(res, 200, {
        code: 200,
        message: 'success',
        data: { ...done, status: 'completed', outputs: [`http://${host}/files/${id}.mp4`] },
      });
    }
    return reply(res, 404, { code: 404, message: 'not found' });
  }

  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
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
  res.writeHead(206, { ...headers, 'content-range': `bytes ${start}-${end}/${video.length}`, 'content-length': end - start + 1 });
  res.end(video.subarray(start, end + 1));
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
