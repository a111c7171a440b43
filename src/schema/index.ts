import { builder } from './builder.ts';
import './scalars.ts';
// In this order, which is the order of the types and fields in the printed schema (schema/schema.graphql).
import './webhookInput.ts';
import './enums.ts';
import './prediction.ts';
import './generateVideo.ts';
import './generateVideoFromImage.ts';
import './generateVideoFromReferences.ts';
import './editVideo.ts';
import './cancelPrediction.ts';
import './predictionUpdated.ts';
import './myPredictionsUpdated.ts';
import './viewer.ts';
import './webhooks.ts';
import './upload.ts';
import './apiKeys.ts';

export const schema = builder.toSchema({ sortSchema: false });
