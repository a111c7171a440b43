/** The cancelPrediction mutation. */
import { builder } from './builder.ts';
import { notFound } from './errors.ts';
import { Prediction } from './prediction.ts';

builder.mutationField('cancelPrediction', (t) =>
  t.field({
    type: Prediction,
    description:
      'End an unfinished job as CANCELED at once: polling stops, subscribers get the final state. Atlas Cloud has no cancel, so the job may still run and be billed there (it is charged as such). A finished job is returned unchanged.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, { predictions, principal }) => {
      const row = await predictions.cancel(principal, String(id));
      if (!row) throw notFound(`Prediction ${id}`);
      return row;
    },
  }),
);
