import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import send from 'send';
import type { UrlSigner } from './signedUrls.ts';
import type { VideoStorage } from './storage.ts';

/** `/videos/<uuid>/<n>.mp4`: the only paths served. */
const VIDEO_PATH = /^\/videos\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/(\d{1,3})\.mp4$/;

/**
 * The embedded default: files under a folder (DATA_DIR/videos), served by the gateway itself at
 * `/videos/<id>/<n>.mp4` through signed, expiring URLs. Several gateway processes need the folder
 * shared (a volume) for each to serve what another copied; otherwise use S3.
 */
export class FileStorage implements VideoStorage {
  readonly kind = 'file';

  constructor(
    readonly dir: string,
    /** Also signs and checks the upload links (uploads/route.ts). */
    readonly signer: UrlSigner,
  ) {}

  async put(key: string, body: Readable, { signal }: { contentType: string; signal: AbortSignal }): Promise<void> {
    const path = join(this.dir, key);
    await mkdir(dirname(path), { recursive: true });
    // Written aside and renamed: a reader never sees half a file, and a crash leaves only a .part.
    const partial = `${path}.${randomBytes(6).toString('hex')}.part`;
    try {
      await pipeline(body, createWriteStream(partial, { flags: 'wx' }), { signal });
      // On disk before the database says it is there.
      const handle = await open(partial, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(partial, path);
    } catch (error) {
      await rm(partial, { force: true });
      throw error;
    }
  }

  /** Nothing left under the key; a key already gone is fine. */
  async delete(key: string): Promise<void> {
    await rm(join(this.dir, key), { force: true });
  }

  async link(key: string, expiresAt: Date, origin: string): Promise<string> {
    return `${origin}${this.signer.sign(`/videos/${key}`, expiresAt)}`;
  }

  /**
   * Serve `/videos/…` if that is what was asked: 403 for a missing, bad or expired signature, 404 for
   * no such file, and byte ranges (206, 416) through `send`. False for any other path.
   */
  serve(req: IncomingMessage, res: ServerResponse): boolean {
    const url = new URL(req.url ?? '/', 'http://gateway');
    if (!url.pathname.startsWith('/videos/')) return false;
    const match = VIDEO_PATH.exec(url.pathname);
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return plain(res, 405, 'Method Not Allowed', { allow: 'GET, HEAD' });
    if (!match) return plain(res, 404, 'Not Found');
    const verdict = this.signer.verify(
      url.pathname,
      url.searchParams.get('expires'),
      url.searchParams.get('signature'),
    );
    if (verdict !== 'valid')
      return plain(
        res,
        403,
        verdict === 'expired' ? 'This link has expired; read the prediction again for a fresh one' : 'Forbidden',
      );
    const stream = send(req, `${match[1]}/${match[2]}.mp4`, {
      root: this.dir,
      cacheControl: false,
      index: false,
      dotfiles: 'deny',
    });
    stream.on('headers', (response: ServerResponse) => {
      // The link is the credential: no shared cache keeps it, and the page may use it across origins.
      response.setHeader('cache-control', 'private, max-age=3600');
      response.setHeader('cross-origin-resource-policy', 'cross-origin');
    });
    // send's errors carry the status to answer (404, 416 with its Content-Range, 412 …).
    stream.on('error', (error: { status?: number; headers?: Record<string, string> }) => {
      const status = typeof error.status === 'number' && error.status >= 400 && error.status < 600 ? error.status : 500;
      plain(
        res,
        status,
        status === 404
          ? 'Not Found'
          : status === 416
            ? 'Range Not Satisfiable'
            : status < 500
              ? 'Bad Request'
              : 'Internal Server Error',
        error.headers ?? {},
      );
    });
    stream.pipe(res);
    return true;
  }
}

function plain(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): true {
  if (!res.headersSent) res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
  res.end(text);
  return true;
}
