import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { eq } from 'drizzle-orm';
import { Webhook } from 'standardwebhooks';
import type { Database } from '../../src/db/database.ts';
import { type WebhookOutboxRow, webhookOutbox } from '../../src/db/schema.ts';
import { eventually } from './gateway.ts';

/** How the receiver answers one request to a path: a status, after a delay, with headers. */
export interface ReceiverReply {
  status: number;
  delayMs?: number;
  headers?: Record<string, string>;
}

export interface ReceivedWebhook {
  path: string;
  at: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** What Webhook.verify returned (the parsed event), or undefined if it threw. */
  verified: unknown;
  verifyError: string | undefined;
}

/**
 * A caller's backend on 127.0.0.1 over real HTTP: it verifies every request with the standardwebhooks
 * package exactly as a receiver would, records it, and answers as the test scripts per path.
 */
export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  /** Per path, replies to successive requests; the last one repeats. Unscripted paths answer 204. */
  readonly scripts = new Map<string, ReceiverReply[]>();
  url = '';
  readonly #sockets = new Set<Socket>();
  readonly #verifier: Webhook;
  readonly #server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const path = req.url ?? '/';
    let verified: unknown;
    let verifyError: string | undefined;
    try {
      verified = this.#verifier.verify(body, req.headers as Record<string, string>);
    } catch (error) {
      verifyError = error instanceof Error ? error.message : String(error);
    }
    this.received.push({ path, at: Date.now(), headers: req.headers, body, verified, verifyError });
    const script = this.scripts.get(path);
    const reply = script ? (script.length > 1 ? script.shift()! : script[0]!) : { status: 204 };
    if (reply.delayMs) await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
    if (res.destroyed) return;
    res.writeHead(reply.status, reply.headers).end();
  });

  private constructor(secret: string) {
    this.#verifier = new Webhook(secret);
  }

  static async start(secret: string): Promise<WebhookReceiver> {
    const receiver = new WebhookReceiver(secret);
    receiver.#server.on('connection', (socket) => {
      receiver.#sockets.add(socket);
      socket.on('close', () => receiver.#sockets.delete(socket));
    });
    await new Promise<void>((resolve) => receiver.#server.listen(0, '127.0.0.1', resolve));
    receiver.url = `http://127.0.0.1:${(receiver.#server.address() as AddressInfo).port}`;
    return receiver;
  }

  at(path: string): ReceivedWebhook[] {
    return this.received.filter((r) => r.path === path);
  }

  reset(): void {
    this.received.length = 0;
    this.scripts.clear();
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/**
 * Wait until every outbox message (of one prediction, or all) is settled: delivered or given up, none
 * due again. From then on no deliverer can send it, so "nothing more comes" is proven by the receiver's
 * count matching these rows, with no fixed wait.
 */
export async function settledOutbox(database: Database, predictionId?: string): Promise<WebhookOutboxRow[]> {
  return eventually(
    () =>
      database.db
        .select()
        .from(webhookOutbox)
        .where(predictionId ? eq(webhookOutbox.predictionId, predictionId) : undefined),
    (rows) => rows.length > 0 && rows.every((row) => row.nextAttemptAt === null),
    30_000,
  );
}
