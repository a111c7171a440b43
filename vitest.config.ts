import { createRequire } from 'node:module';
import { relative } from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const require = createRequire(import.meta.url);

/**
 * The files that take longest (each tens of seconds, mostly waiting on builds, child processes, leases
 * and outages), slowest first. A file started last ends the run late; started first, the short files
 * fill the workers around it.
 */
const SLOWEST = [
  'mirror',
  'demo-page',
  'outbound-webhooks',
  'outage',
  'journey',
  'pglite-template',
  'data-dir',
  'orphan-recovery',
  'consumer',
  'cli',
  'process',
  'lifecycle',
  'readiness',
  'atlas-webhooks',
  'start',
  'docs-guide-examples',
  'limits',
  'production',
];

/**
 * Vitest orders files by the durations it measured on an earlier run (kept in node_modules/.vite);
 * where it has none (a fresh checkout, CI), by name, which leaves production.test.ts near the end.
 * Then the list above goes first.
 */
class SlowestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const measured = files.every((file) =>
      this.ctx.cache.getFileTestResults(`${file.project.name}:${relative(this.ctx.config.root, file.moduleId)}`),
    );
    if (measured) return sorted;
    const rank = (file: TestSpecification) => {
      const index = SLOWEST.findIndex((name) => file.moduleId.endsWith(`/test/${name}.test.ts`));
      return index < 0 ? SLOWEST.length : index;
    };
    return sorted
      .map((file, index) => ({ file, index, rank: rank(file) }))
      .sort((a, b) => a.rank - b.rank || a.index - b.index)
      .map(({ file }) => file);
  }
}

export default defineConfig({
  resolve: {
    // One graphql module for source and dependencies alike ("another module or realm" otherwise).
    alias: { graphql: require.resolve('graphql') },
  },
  test: {
    include: ['test/**/*.test.ts'],
    // Drops the server databases the workers pooled (test/support/gateway.ts) when the run ends.
    globalSetup: ['test/support/globalSetup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Files run one after another in each worker process, sharing the modules it has loaded: a file
    // no longer spends 2 to 4 s importing the gateway (Yoga, Pothos, drizzle, zod) again. Nothing the
    // files share keeps state between them: each makes its own databases, gateways and fakes, the
    // gateway's metrics registry is its own, and react-hooks.test.ts removes the DOM globals it adds.
    isolate: false,
    // PGlite's WebAssembly compiled once, fast, not again in the background (see TEST_NODE_FLAGS in
    // test/support/childGateway.ts): a quarter less CPU for files on PGlite.
    execArgv: ['--liftoff-only'],
    // Four at a time on two cores: most of a file's time is waiting (child processes starting,
    // leases running out, an outage lasting, a browser), not computing. Measured on the whole suite,
    // quiet: three workers used 1.2 cores on average (277 s), five 1.3 (239 s) but pushed the load to 7.
    maxWorkers: 4,
    sequence: { sequencer: SlowestFirst },
    // The source and test modules as transformed by the last run, kept in node_modules (keyed by their
    // content), so a run transforms only what changed: about 1 s less CPU per eight light files alone.
    experimental: { fsModuleCache: true },
  },
});
