import { type GraphQLEnumType, type GraphQLObjectType, getNullableType, isNonNullType } from 'graphql';
import { describe, expect, it } from 'vitest';
import type { PredictionRow } from '../src/db/schema.ts';
import { schema } from '../src/schema/index.ts';
import { ASPECT_RATIOS, PREDICTION_STATUSES, RESOLUTIONS } from '../src/vocabulary.ts';
import { eventBody, PREDICTION_DATA_FIELDS, predictionData } from '../src/webhooks/outbound/event.ts';

/** The `Prediction` fields an event's data leaves out, each with its reason. */
const LEFT_OUT: Record<string, string> = {
  outputFiles: "signed links to the gateway's copies expire; a message may be read much later",
  elapsedMs: 'progress describes the moment of reading, not the change',
  estimatedProgress: 'progress describes the moment of reading, not the change',
  estimatedCompletionAt: 'progress describes the moment of reading, not the change',
  progressIsEstimate: 'progress describes the moment of reading, not the change',
  webhook: 'the webhook settings themselves',
  webhookDeliveries: 'the webhook deliveries themselves',
  media: "an upload's link is signed and expires; a message may be read much later",
};

const prediction = schema.getType('Prediction') as GraphQLObjectType;

const row: PredictionRow = {
  id: 'pred_01',
  status: 'SUCCEEDED',
  ownerId: 'alice',
  tenantId: null,
  prompt: 'a horse',
  model: 'alibaba/happyhorse-1.0/text-to-video',
  mode: 'TEXT_TO_VIDEO',
  resolution: '1080P',
  aspectRatio: '9:16',
  duration: 5,
  seed: 7,
  upstreamId: 'up_1',
  outputs: ['https://cdn.example/a.mp4'],
  sourceUrls: ['https://cdn.example/a.mp4'],
  mirroredAt: null,
  mirrorError: null,
  error: null,
  errorCode: null,
  predictTime: 41.5,
  priceUsd: 0.14,
  costUsd: 0.14,
  createdAt: new Date('2026-12-01T10:00:00.000Z'),
  updatedAt: new Date('2026-12-01T10:01:00.000Z'),
  completedAt: new Date('2026-12-01T10:01:00.000Z'),
  deadlineAt: null,
} as Partial<PredictionRow> as PredictionRow;

describe("an outbound webhook's data is the Prediction type's", () => {
  it("carries every field of Prediction but the ones left out for a reason, under the schema's names", () => {
    const fields = Object.keys(prediction.getFields());
    expect(fields.filter((field) => !(field in LEFT_OUT)).sort()).toEqual([...PREDICTION_DATA_FIELDS].sort());
    expect(Object.keys(predictionData(row)).sort()).toEqual([...PREDICTION_DATA_FIELDS].sort());
  });

  it('gives each enum value the name GraphQL serialises it as', () => {
    const serialise = (type: string, value: string) => (schema.getType(type) as GraphQLEnumType).serialize(value);
    for (const resolution of RESOLUTIONS)
      expect(predictionData({ ...row, resolution }).resolution).toBe(serialise('Resolution', resolution));
    for (const aspectRatio of ASPECT_RATIOS)
      expect(predictionData({ ...row, aspectRatio }).aspectRatio).toBe(serialise('AspectRatio', aspectRatio));
    for (const status of PREDICTION_STATUSES)
      expect(predictionData({ ...row, status }).status).toBe(serialise('PredictionStatus', status));
  });

  it("leaves null only what the schema lets be null, and sends dates as the DateTime scalar's ISO text", () => {
    const data = predictionData({ ...row, seed: null, upstreamId: null, predictTime: null, costUsd: null });
    const fields = prediction.getFields();
    for (const [name, value] of Object.entries(data)) {
      const type = fields[name]!.type;
      if (value === null) expect(isNonNullType(type), `${name} is null but ${type} is not nullable`).toBe(false);
      if (String(getNullableType(type)) === 'DateTime' && value !== null)
        expect(value).toBe(new Date(value as string).toISOString());
    }
    expect(JSON.parse(eventBody('COMPLETED', row))).toEqual({
      type: 'prediction.completed',
      timestamp: '2026-12-01T10:01:00.000Z',
      data: expect.objectContaining({
        resolution: 'RES_1080P',
        aspectRatio: 'RATIO_9_16',
        completedAt: '2026-12-01T10:01:00.000Z',
      }),
    });
  });
});
