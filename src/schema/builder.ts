import SchemaBuilder from '@pothos/core';
import RelayPlugin from '@pothos/plugin-relay';
import ValidationPlugin from '@pothos/plugin-validation';
import type { KeyAdmin } from '../auth/keyAdmin.ts';
import type { Principal } from '../auth/principal.ts';
import type { Logger } from '../log.ts';
import type { PredictionService } from '../predictions/service.ts';
import type { OutputLinks } from '../storage/index.ts';
import type { UploadService } from '../uploads/service.ts';
import { invalidInput } from './errors.ts';

export interface GatewayContext {
  predictions: PredictionService;
  /** Who is calling; every operation sees only what this caller may. */
  principal: Principal;
  /** This request's id: in the x-request-id response header, every error's extensions and every log line. */
  requestId: string;
  /** Writes `requestId` on every line: what resolvers (and what they call) log with. */
  log: Logger;
  /** Staged uploads: create, check, find. */
  uploads: UploadService;
  /** API keys, managed by admins. */
  keys: KeyAdmin;
  /** Links to outputs (signed, expiring, for the gateway's copies), built for the address the caller used. */
  videos: { links: OutputLinks; origin: string };
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
