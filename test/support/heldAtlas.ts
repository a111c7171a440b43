import type { AtlasClient } from '../../src/atlas/client.ts';
import { AtlasError } from '../../src/atlas/errors.ts';
import { parsePredictionReply, type UpstreamPrediction } from '../../src/atlas/replies.ts';

/**
 * Atlas for poller tests that need exact timing: each status call waits until the test answers it
 * (the way a gateway paused mid-call by SIGSTOP gets its reply only after SIGCONT), and stop()'s
 * abort ends it as it would a real call.
 */
export class HeldAtlas implements Pick<AtlasClient, 'getPrediction'> {
  /** The open call per upstream id (the latest one). */
  readonly calls = new Map<string, { resolve(reply: UpstreamPrediction): void; reject(error: unknown): void }>();

  getPrediction(upstreamId: string, signal?: AbortSignal): Promise<UpstreamPrediction> {
    return new Promise((resolve, reject) => {
      this.calls.set(upstreamId, { resolve, reject });
      signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
  }

  /** Answer the open call with a reply in Atlas' bare shape. */
  answer(upstreamId: string, data: Record<string, unknown>): void {
    const reply = parsePredictionReply({ id: upstreamId, ...data });
    if (!reply) throw new Error(`not a reply: ${JSON.stringify(data)}`);
    this.call(upstreamId).resolve(reply);
  }

  fail(upstreamId: string): void {
    this.call(upstreamId).reject(
      new AtlasError('UPSTREAM_UNAVAILABLE', 'Atlas Cloud answered HTTP 503 to the status call'),
    );
  }

  private call(upstreamId: string) {
    const call = this.calls.get(upstreamId);
    if (!call) throw new Error(`no status call open for ${upstreamId}`);
    return call;
  }
}
