import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { upstreamBodyProblem } from '../../src/models/index.ts';
import { multipartField } from '../../src/simulator/multipart.ts';
import { AtlasWebhookSigner, terminalBody } from './signingAtlas.ts';

/**
 * Atlas Cloud as tests need it: a real HTTP server on loopback that answers in any shape, fails,
 * rate-limits, hangs and resets, and records every request it gets.
 */
export type FakeReply =
  | {
      status?: number;
      json?: unknown;
      text?: string;
      headers?: Record<string, string>;
      delayMs?: number;
      /** Answer only once this settles: the call stays open while a test looks at what happened meanwhile. */
      heldUntil?: Promise<unknown>;
    }
  | { hang: true }
  | { reset: true }
  /** `json`, then `padBytes` of spaces (still valid JSON), streamed; with or without a Content-Length. */
  | { status?: number; json: unknown; padBytes: number; declareLength?: boolean; headers?: Record<string, string> };

/** One padded reply as the fake sent it: how far it got before the client closed the connection. */
export interface StreamedReply {
  path: string;
  totalBytes: number;
  sentBytes: number;
  /** The whole body went out; false when the client cut the connection first. */
  finished: boolean;
  /** Settles when the connection is done with, either way. */
  closed: Promise<void>;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

/** Atlas' usual envelope. */
export const wrapped = (data: unknown, status = 200): FakeReply => ({
  status,
  json: { code: status, message: 'success', data },
});
/** The bare shape some docs show. */
export const bare = (data: unknown): FakeReply => ({ status: 200, json: data });
export const httpError = (status: number, message = `error ${status}`): FakeReply => ({
  status,
  json: { code: status, message },
});

/**
 * An output file the fake serves at `/files/<name>`: given bytes, or `generatedBytes` of a fixed
 * pattern streamed with backpressure (never held whole), optionally throttled. `failFirst` GETs get a
 * 503 first; `gone` answers 404, as an expired Atlas link does.
 */
export interface FakeFile {
  body?: Buffer;
  generatedBytes?: number;
  /** Pause this long after each 64 KiB chunk: a slow source, to cut a copy halfway. */
  chunkDelayMs?: number;
  /** Send no Content-Length (chunked), so only counting the bytes can find the size. */
  undeclaredLength?: boolean;
  failFirst?: number;
  gone?: boolean;
  contentType?: string;
}

/** The bytes a generated file holds: a fixed pattern, so a copy can be checked without keeping the file. */
export function generatedChunk(offset: number, length: number): Buffer {
  const chunk = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) chunk[i] = ((offset + i) * 31 + 7) & 0xff;
  return chunk;
}

/** One file uploadMedia received: the multipart part named `file`, as sent. */
export interface ReceivedMedia {
  filename: string | undefined;
  contentType: string | undefined;
  body: Buffer;
  /** Where the fake serves it back (its download_url). */
  url: string;
}

export class FakeAtlas {
  /** Output files by name, served at `/files/<name>`. */
  readonly files = new Map<string, FakeFile>();
  /** GETs of each file, and bytes sent per GET, in order. */
  readonly fileGets: Array<{ name: string; status: number; sentBytes: number; done: Promise<void> }> = [];

  readonly requests: RecordedRequest[] = [];
  /** Every file uploadMedia took, in order; each is served back at its `url`. */
  readonly media: ReceivedMedia[] = [];
  /** Replies for the next uploadMedia calls, in order (the file is not kept); once empty, it is kept and its URL given. */
  readonly uploadMediaReplies: FakeReply[] = [];
  /** How long uploadMedia takes to answer once it has the whole body (widens a race between two senders). */
  uploadMediaDelayMs = 0;
  /** Answer uploadMedia bare (`{ download_url }`), as some docs show, rather than wrapped. */
  uploadMediaBare = false;
  /** Replies for the next create calls, in order; once empty, `newJob` decides. */
  readonly createReplies: FakeReply[] = [];
  /** Per upstream id, replies to successive status calls; the last one repeats. */
  readonly statusScripts = new Map<string, FakeReply[]>();
  /** How a create call with nothing queued answers, and the script its job then follows. */
  newJob = FakeAtlas.defaultJob;
  /** How long a create call with nothing queued takes to answer (the job exists from the start). */
  createDelayMs = 0;
  /** Status calls in flight per id, and the most seen at once: proof that no job is polled twice at a time. */
  readonly inFlight = new Map<string, number>();
  readonly maxInFlight = new Map<string, number>();
  /** Every padded reply, in order. */
  readonly streamed: StreamedReply[] = [];
  /** Off for load tests: thousands of calls a second would pile up in `requests`. */
  record = true;
  url = '';
  /** Atlas' webhook keys: its JWKS is served at /api/v1/webhooks/jwks.json. */
  readonly signer = new AtlasWebhookSigner();
  /**
   * Jobs that take real time: created with nothing queued, a job answers `processing` for `runMs`,
   * then finishes with `terminal` (status calls see that from then on) and, if its create call
   * carried a webhook_url and `sendWebhooks` is on, gets one signed delivery, as Atlas does.
   */
  timedJobs:
    | { runMs: number; terminal?: (id: string) => Record<string, unknown>; terminalReplyDelayMs?: () => number }
    | undefined;
  sendWebhooks = true;
  /**
   * Refuse (400, as Atlas does) a create body that misses a field its model requires, names a field
   * the model does not take, or an unknown model: the gateway's upstream field names are checked here.
   */
  checkBodies = true;
  /** The webhook_url each job was created with. */
  readonly webhookUrls = new Map<string, string>();
  /** Date.now() when each job finished (see `finish`). */
  readonly finishedAt = new Map<string, number>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #deliveries = new Set<Promise<unknown>>();

  readonly #server = createServer((req, res) => void this.#handle(req, res));
  readonly #sockets = new Set<Socket>();
  #jobs = 0;

  /** Running once, then done with one video. */
  static defaultJob(n: number): { id: string; script: FakeReply[] } {
    return {
      id: `job_${n}`,
      script: [
        wrapped({ id: `job_${n}`, status: 'processing' }),
        wrapped({
          id: `job_${n}`,
          status: 'completed',
          outputs: [`https://cdn.example/job_${n}.mp4`],
          metrics: { predict_time: 4.2 },
        }),
      ],
    };
  }

  /** A successful end with one video. */
  static done(id: string): Record<string, unknown> {
    return { status: 'completed', outputs: [`https://cdn.example/${id}.mp4`], metrics: { predict_time: 4.2 } };
  }

  static async start(): Promise<FakeAtlas> {
    const fake = new FakeAtlas();
    fake.#server.on('connection', (socket) => {
      fake.#sockets.add(socket);
      socket.on('close', () => fake.#sockets.delete(socket));
    });
    await new Promise<void>((resolve) => fake.#server.listen(0, '127.0.0.1', resolve));
    fake.url = `http://127.0.0.1:${(fake.#server.address() as AddressInfo).port}`;
    return fake;
  }

  /** The URL Atlas would give for an output file of this name. */
  fileUrl(name: string): string {
    return `${this.url}/files/${name}`;
  }

  /** Jobs whose one output is a file this fake serves: `file(n)` says what job n's file is. */
  jobsWithFiles(file: (n: number) => FakeFile): void {
    this.newJob = (n) => {
      const name = `job_${n}.mp4`;
      this.files.set(name, file(n));
      return {
        id: `job_${n}`,
        script: [
          wrapped({ id: `job_${n}`, status: 'processing' }),
          wrapped({
            id: `job_${n}`,
            status: 'completed',
            outputs: [this.fileUrl(name)],
            metrics: { predict_time: 4.2 },
          }),
        ],
      };
    };
  }

  /** The uploadMedia calls made, answered or not. */
  get uploadMediaCalls(): RecordedRequest[] {
    return this.requests.filter((r) => r.method === 'POST' && r.path === '/api/v1/model/uploadMedia');
  }

  get creates(): RecordedRequest[] {
    return this.requests.filter((r) => r.method === 'POST' && r.path === '/api/v1/model/generateVideo');
  }

  /** A job ends now: status calls see `data` from here on, and its webhook (if any) is sent. */
  finish(id: string, data: Record<string, unknown>): void {
    this.statusScripts.set(id, [{ ...wrapped({ id, ...data }), delayMs: this.timedJobs?.terminalReplyDelayMs?.() }]);
    this.finishedAt.set(id, Date.now());
    const url = this.webhookUrls.get(id);
    if (!url || !this.sendWebhooks) return;
    const delivery = this.signer
      .deliver(url, terminalBody(id, data))
      .catch(() => {}) // recorded in signer.attempts; the gateway may be gone
      .finally(() => this.#deliveries.delete(delivery));
    this.#deliveries.add(delivery);
  }

  /** Wait for the webhook deliveries under way. */
  async deliveriesSettled(): Promise<void> {
    await Promise.all([...this.#deliveries]);
  }

  statusCalls(id?: string): RecordedRequest[] {
    return this.requests.filter(
      (r) => r.method === 'GET' && (id ? r.path.endsWith(`/${id}`) : r.path.includes('/prediction/')),
    );
  }

  reset(): void {
    this.requests.length = 0;
    this.createReplies.length = 0;
    this.media.length = 0;
    this.uploadMediaReplies.length = 0;
    this.uploadMediaDelayMs = 0;
    this.uploadMediaBare = false;
    this.statusScripts.clear();
    this.inFlight.clear();
    this.maxInFlight.clear();
    this.streamed.length = 0;
    this.files.clear();
    this.fileGets.length = 0;
    this.newJob = FakeAtlas.defaultJob;
    this.#jobs = 0;
    this.timedJobs = undefined;
    this.sendWebhooks = true;
    this.checkBodies = true;
    this.webhookUrls.clear();
    this.finishedAt.clear();
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  async close(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    await this.deliveriesSettled();
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const text = raw.toString('utf8');
    const path = req.url ?? '/';
    const uploadMedia = req.method === 'POST' && path === '/api/v1/model/uploadMedia';
    if (this.record)
      this.requests.push({
        method: req.method ?? '',
        path,
        headers: req.headers,
        // A file's bytes are kept in `media`, not as text here.
        body: uploadMedia ? { bytes: raw.length } : text ? safeJson(text) : undefined,
      });
    if (uploadMedia) return this.#uploadMedia(req, raw, res);

    if (req.method === 'GET' && path === '/api/v1/webhooks/jwks.json') {
      this.signer.jwksFetches++;
      return this.#send(res, { status: 200, json: this.signer.jwks });
    }
    const file = (req.method === 'GET' || req.method === 'HEAD') && /^\/files\/([^/?]+)$/.exec(path);
    if (file) return this.#serveFile(decodeURIComponent(file[1]!), req, res);
    if (req.method === 'POST' && path === '/api/v1/model/generateVideo') {
      const problem = this.checkBodies ? upstreamBodyProblem(safeJson(text)) : undefined;
      if (problem) return this.#send(res, httpError(400, problem));
      const queued = this.createReplies.shift();
      if (queued) return this.#send(res, queued);
      const job = this.newJob(++this.#jobs);
      const webhookUrl = (safeJson(text) as { webhook_url?: unknown } | undefined)?.webhook_url;
      if (typeof webhookUrl === 'string') this.webhookUrls.set(job.id, webhookUrl);
      if (this.timedJobs) {
        const { runMs, terminal = FakeAtlas.done } = this.timedJobs;
        this.statusScripts.set(job.id, [wrapped({ id: job.id, status: 'processing' })]);
        const timer = setTimeout(() => {
          this.#timers.delete(timer);
          this.finish(job.id, terminal(job.id));
        }, runMs + this.createDelayMs);
        this.#timers.add(timer);
      } else {
        this.statusScripts.set(job.id, job.script);
      }
      return this.#send(res, { ...wrapped({ id: job.id, status: 'starting' }), delayMs: this.createDelayMs });
    }
    const status = req.method === 'GET' && /^\/api\/v1\/model\/prediction\/([^/?]+)$/.exec(path);
    if (status) {
      const id = decodeURIComponent(status[1]!);
      const script = this.statusScripts.get(id);
      const reply = script
        ? script.length > 1
          ? script.shift()!
          : script[0]!
        : httpError(404, 'prediction not found');
      const now = (this.inFlight.get(id) ?? 0) + 1;
      this.inFlight.set(id, now);
      this.maxInFlight.set(id, Math.max(now, this.maxInFlight.get(id) ?? 0));
      res.on('close', () => this.inFlight.set(id, (this.inFlight.get(id) ?? 1) - 1));
      return this.#send(res, reply);
    }
    return this.#send(res, httpError(404, 'not found'));
  }

  /** Keep the `file` part and give the URL it is served back at, as Atlas' temporary hosting does. */
  async #uploadMedia(req: IncomingMessage, raw: Buffer, res: ServerResponse) {
    if (this.uploadMediaDelayMs) await new Promise((resolve) => setTimeout(resolve, this.uploadMediaDelayMs));
    const queued = this.uploadMediaReplies.shift();
    if (queued) return this.#send(res, queued);
    if (!/^Bearer \S+/.test(req.headers.authorization ?? '')) return this.#send(res, httpError(401, 'Unauthorized'));
    const part = multipartField(req.headers['content-type'], raw, 'file');
    if (!part) return this.#send(res, httpError(400, 'multipart field "file" is required'));
    const name = `media_${this.media.length + 1}_${part.filename ?? 'file'}`;
    this.files.set(name, { body: Buffer.from(part.body), contentType: part.contentType ?? 'application/octet-stream' });
    const url = this.fileUrl(encodeURIComponent(name));
    this.media.push({ filename: part.filename, contentType: part.contentType, body: Buffer.from(part.body), url });
    return this.#send(res, this.uploadMediaBare ? bare({ download_url: url }) : wrapped({ download_url: url }));
  }

  async #serveFile(name: string, req: IncomingMessage, res: ServerResponse) {
    const file = this.files.get(name);
    let onDone = () => {};
    const get = { name, status: 200, sentBytes: 0, done: new Promise<void>((resolve) => (onDone = resolve)) };
    this.fileGets.push(get);
    res.on('close', onDone);
    if (!file || file.gone) {
      get.status = 404;
      return this.#send(res, httpError(404, 'object not found or expired'));
    }
    if (file.failFirst && file.failFirst > 0) {
      file.failFirst--;
      get.status = 503;
      return this.#send(res, httpError(503, 'storage busy'));
    }
    const size = file.body?.length ?? file.generatedBytes ?? 0;
    res.writeHead(200, {
      'content-type': file.contentType ?? 'video/mp4',
      ...(file.undeclaredLength ? {} : { 'content-length': String(size) }),
    });
    if (req.method === 'HEAD') return res.end();
    const step = 64 * 1024;
    for (let offset = 0; offset < size && !res.destroyed; offset += step) {
      const length = Math.min(step, size - offset);
      const chunk = file.body ? file.body.subarray(offset, offset + length) : generatedChunk(offset, length);
      const more = res.write(chunk);
      get.sentBytes += length;
      if (!more) await untilDrainedOrClosed(res);
      if (file.chunkDelayMs) await new Promise((resolve) => setTimeout(resolve, file.chunkDelayMs));
    }
    if (!res.destroyed) res.end();
  }

  async #send(res: ServerResponse, reply: FakeReply) {
    if ('hang' in reply) return; // never answers; the client's timeout must end it
    if ('reset' in reply) return res.socket?.destroy();
    if ('padBytes' in reply) return this.#stream(res, reply);
    if (reply.delayMs) await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
    if (reply.heldUntil) await reply.heldUntil;
    if (res.destroyed) return;
    const body = reply.text ?? (reply.json === undefined ? '' : JSON.stringify(reply.json));
    res.writeHead(reply.status ?? 200, {
      'content-type': 'application/json',
      'x-request-id': `req-${this.requests.length}`,
      ...reply.headers,
    });
    res.end(body);
  }

  /** Writes as fast as the client reads (backpressure), and stops when the client goes away. */
  async #stream(res: ServerResponse, reply: Extract<FakeReply, { padBytes: number }>) {
    const head = Buffer.from(JSON.stringify(reply.json));
    const totalBytes = head.length + reply.padBytes;
    let onClose = () => {};
    const record: StreamedReply = {
      path: res.req.url ?? '/',
      totalBytes,
      sentBytes: 0,
      finished: false,
      closed: new Promise<void>((resolve) => (onClose = resolve)),
    };
    this.streamed.push(record);
    res.on('close', () => {
      record.finished = res.writableFinished;
      onClose();
    });
    res.writeHead(reply.status ?? 200, {
      'content-type': 'application/json',
      'x-request-id': `req-${this.requests.length}`,
      ...(reply.declareLength ? { 'content-length': String(totalBytes) } : {}),
      ...reply.headers,
    });
    const pad = Buffer.alloc(64 * 1024, ' ');
    let chunk: Buffer = head;
    while (!res.destroyed) {
      const more = res.write(chunk);
      record.sentBytes += chunk.length;
      const left = totalBytes - record.sentBytes;
      if (left <= 0) break;
      chunk = left < pad.length ? pad.subarray(0, left) : pad;
      if (!more) await untilDrainedOrClosed(res);
    }
    if (!res.destroyed) res.end();
  }
}

function untilDrainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
