/** The myPredictionsUpdated subscription: every change of any of the caller's own jobs, for lists that stay current. */
import { builder } from './builder.ts';
import { Prediction } from './prediction.ts';

builder.subscriptionField('myPredictionsUpdated', (t) =>
  t.field({
    type: Prediction,
    description:
      "The caller's own predictions as they change: first the newest 50 as they are now, then every change of any of them, new ones included (from any tab, client or gateway instance). Only the caller's own, admins included. Never completes by itself.",
    subscribe: (_root, _args, { predictions, principal }) => predictions.watchOwn(principal),
    resolve: (prediction) => prediction,
  }),
);
