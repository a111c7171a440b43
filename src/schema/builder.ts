import SchemaBuilder from '@pothos/core';
import RelayPlugin from '@pothos/plugin-relay';
import ValidationPlugin from '@pothos/plugin-validation';
import type { PredictionService } from '../predictions/service.ts';
import { invalidInput } from './errors.ts';

export interface GatewayContext {
  predictions: PredictionService;
}

export const builder = new SchemaBuilder<{
  Context: GatewayContext;
  Scalars: { DateTime: { Input: Date; Output: Date } };
  DefaultFieldNullability: false;
  DefaultEdgesNullability: false;
  DefaultNodeNullability: false;
}>({
  plugins: [RelayPlugin, ValidationPlugin],
  defaultFieldNullability: false,
  relay: {
    edgesFieldOptions: { nullable: false },
    nodeFieldOptions: { nullable: false },
  },
  validation: { validationError: invalidInput },
});

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});
