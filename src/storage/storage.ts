import type { Readable } from 'node:stream';

/**
 * Where the gateway keeps its copies of the outputs. Keys are `<prediction id>/<n>.mp4`.
 * `put` streams (never holds a whole video in memory) and resolves only once the object is durable;
 * on failure nothing is left under the key.
 */
export interface VideoStorage {
  readonly kind: 'file' | 's3';
  put(key: string, body: Readable, options: { contentType: string; signal: AbortSignal }): Promise<void>;
  /**
   * A URL that GETs the object, with range requests, until `expiresAt`, without any other credential.
   * `origin`: the gateway's own address as the caller reached it, for storage the gateway serves itself.
   */
  link(key: string, expiresAt: Date, origin: string): Promise<string>;
}

/** The storage key of a prediction's n-th output. */
export const outputKey = (predictionId: string, n: number) => `${predictionId}/${n}.mp4`;
