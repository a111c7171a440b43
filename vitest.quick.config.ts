import { defineConfig } from 'vitest/config';
import base from './vitest.config.ts';

/**
 * `npm run test:quick`, the inner loop: the unit tests and the in-process ones (a gateway in the test's
 * own process, PGlite or the Postgres server, a fake Atlas on a real socket), no child processes,
 * browsers or builds. The whole suite (`npm test`) runs the rest: restarts, crashes, outages, deploys.
 */
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    // Replaces the base list (mergeConfig would add to it).
    include: [
      'test/loop-health.test.ts',
      'test/leased-write.test.ts',
      'test/single-flight.test.ts',
      'test/wake-times.test.ts',
      'test/progress-ticks.test.ts',
      'test/promise-helpers.test.ts',
      'test/poll-schedule.test.ts',
      'test/config.test.ts',
      'test/log.test.ts',
      'test/events.test.ts',
      'test/cache.test.ts',
      'test/atlas-client.test.ts',
      'test/apikeys.test.ts',
      'test/request-id.test.ts',
      'test/persisted.test.ts',
      'test/error-logs.test.ts',
      'test/secrets.test.ts',
      'test/upstream-replies.test.ts',
      'test/client.test.ts',
      'test/webhook-payload.test.ts',
    ],
  },
});
