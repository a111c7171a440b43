/** The predictionUpdated subscription: one job's state, live, with optional progress ticks. */
import { builder } from './builder.ts';
import { notFound } from './errors.ts';
import { Prediction } from './prediction.ts';
import { withProgressTicks } from './progressTicks.ts';

/** How often a `progress: true` subscription repeats the state of a running job, for a progress bar. */
export const PROGRESS_EVERY_MS = 2_000;

builder.subscriptionField('predictionUpdated', (t) =>
  t.field({
    type: Prediction,
    description: 'The current state at once, then every change; completes after SUCCEEDED, FAILED or CANCELED.',
    args: {
      id: t.arg.id({ required: true }),
      progress: t.arg.boolean({
        defaultValue: false,
        description: `Also repeat the state every ${PROGRESS_EVERY_MS / 1000} s while the job runs, so estimatedProgress moves.`,
      }),
    },
    subscribe: async (_root, { id, progress }, { predictions, principal }) => {
      const current = await predictions.find(principal, String(id));
      if (!current) throw notFound(`Prediction ${id}`);
      const updates = predictions.watch(current);
      return progress ? withProgressTicks(updates, PROGRESS_EVERY_MS) : updates;
    },
    resolve: (prediction) => prediction,
  }),
);
