import type { VideoRequest } from '../atlas/happyhorse.ts';
import { findPrediction } from '../db/queries/findPrediction.ts';
import { type ListPredictionsOptions, listPredictions } from '../db/queries/listPredictions.ts';
import type { PredictionRow } from '../db/schema.ts';
import type { PredictionEvents } from './events.ts';
import { type GenerateDeps, generateVideo } from './generate.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether a string can be a prediction id (a UUID); anything else is unknown without asking the database. */
export const isPredictionId = (id: string) => UUID.test(id);

/** The gateway is shutting down and takes no new submissions; another instance (or a retry) will. */
export class ShuttingDown extends Error {}

/** What the GraphQL layer may do with predictions; it never touches the database or Atlas itself. */
export class PredictionService {
  readonly #submitting = new Set<Promise<unknown>>();
  #closing = false;

  constructor(private readonly deps: GenerateDeps & { events: PredictionEvents }) {}

  generate(request: VideoRequest): Promise<PredictionRow> {
    if (this.#closing) return Promise.reject(new ShuttingDown('The gateway is shutting down; submit again shortly'));
    const submission = generateVideo(this.deps, request);
    const tracked = submission.catch(() => {}).finally(() => this.#submitting.delete(tracked));
    this.#submitting.add(tracked);
    return submission;
  }

  /** Refuse new submissions and wait for those under way, so none ends half-recorded. */
  async drain(timeoutMs: number): Promise<void> {
    this.#closing = true;
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref());
    await Promise.race([Promise.allSettled(this.#submitting), timeout]);
  }

  /** Undefined for an id that is not ours, malformed ones included. */
  async find(id: string): Promise<PredictionRow | undefined> {
    return isPredictionId(id) ? findPrediction(this.deps.db, id) : undefined;
  }

  list(options: ListPredictionsOptions): Promise<PredictionRow[]> {
    return listPredictions(this.deps.db, options);
  }

  watch(current: PredictionRow): AsyncIterable<PredictionRow> {
    return this.deps.events.watch(current);
  }
}
