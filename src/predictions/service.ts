import type { VideoRequest } from '../atlas/happyhorse.ts';
import { findPrediction } from '../db/queries/findPrediction.ts';
import { type ListPredictionsOptions, listPredictions } from '../db/queries/listPredictions.ts';
import type { PredictionRow } from '../db/schema.ts';
import type { PredictionEvents } from './events.ts';
import { type GenerateDeps, generateVideo } from './generate.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What the GraphQL layer may do with predictions; it never touches the database or Atlas itself. */
export class PredictionService {
  constructor(private readonly deps: GenerateDeps & { events: PredictionEvents }) {}

  generate(request: VideoRequest): Promise<PredictionRow> {
    return generateVideo(this.deps, request);
  }

  /** Undefined for an id that is not ours, malformed ones included. */
  async find(id: string): Promise<PredictionRow | undefined> {
    return UUID.test(id) ? findPrediction(this.deps.db, id) : undefined;
  }

  list(options: ListPredictionsOptions): Promise<PredictionRow[]> {
    return listPredictions(this.deps.db, options);
  }

  watch(current: PredictionRow): AsyncIterable<PredictionRow> {
    return this.deps.events.watch(current);
  }
}
