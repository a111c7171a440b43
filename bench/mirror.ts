/**
 * `npm run bench` (fourth part): copying and serving a large video. A gateway in a process of its
 * own (`node --import tsx src/main.ts`, Postgres server, files under a temporary DATA_DIR) copies a
 * 200 MB output from a local HTTP source (the fake Atlas of the tests), then serves it back, whole and
 * as ranges. Its resident memory is sampled every 20 ms from /proc: flat memory means the peak stays
 * near the baseline whatever the file size. Prints bytes, time, throughput and RSS in a table.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { type Child, startChild } from '../test/support/childGateway.ts';
import { FakeAtlas } from '../test/support/fakeAtlas.ts';
import { createServerDatabase } from '../test/support/gateway.ts';
import { loadAverage, printTableFooter } from './support.ts';

const SIZE = 200 * 1024 * 1024;
const MiB = 1024 * 1024;

/** Resident set size of a process, in bytes (Linux). */
function rssOf(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : 0;
}

/** Sample a process' RSS until stopped; returns the peak. */
function sampleRss(pid: number) {
  let peak = rssOf(pid);
  const timer = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 20);
  return {
    stop: () => {
      clearInterval(timer);
      return Math.max(peak, rssOf(pid));
    },
  };
}

interface Row {
  phase: string;
  bytes: number;
  seconds: number;
  baseline: number;
  peak: number;
}

async function graphql<T>(child: Child, query: string, variables?: Record<string, unknown>): Promise<T> {
  const response = await fetch(`${child.base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data: T; errors?: unknown };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

/** Read a response to the end, counting bytes, keeping none. */
async function drain(response: Response): Promise<number> {
  let bytes = 0;
  const reader = response.body!.getReader();
  for (let read = await reader.read(); !read.done; read = await reader.read()) bytes += read.value.byteLength;
  return bytes;
}

async function main() {
  const loadBefore = loadAverage();
  const fake = await FakeAtlas.start();
  fake.record = false;
  const database = await createServerDatabase();
  // The source's bytes live in this process, not in the gateway's. Job 1 copies 50 MiB, job 2 the
  // full 200 MiB: flat memory shows as the same growth for both.
  const body = Buffer.alloc(SIZE);
  for (let i = 0; i < SIZE; i += 4) body.writeUInt32LE((i * 2654435761) >>> 0, i);
  fake.jobsWithFiles((n) => ({ body: n === 1 ? body.subarray(0, SIZE / 4) : body }));
  let child: Child | undefined;
  const rows: Row[] = [];
  try {
    child = await startChild({
      DATABASE_URL: database.url,
      ATLASCLOUD_BASE_URL: fake.url,
      STORAGE_URL: '',
      MIRROR_MAX_BYTES: String(1024 * MiB),
      LOG_LEVEL: 'warn',
    });
    const pid = child.proc.pid!;
    await new Promise((resolve) => setTimeout(resolve, 1_000));

    // Copy: from submission (two polls, 50 ms apart, until Atlas says done) to SUCCEEDED with the copy in place.
    let baseline = 0;
    let rss = { stop: () => 0 };
    let done!: {
      status: string;
      mirrored: boolean;
      mirrorError: string | null;
      videoUrl: string;
      outputFiles: Array<{ sizeBytes: number }>;
    };
    for (const size of [SIZE / 4, SIZE]) {
      baseline = rssOf(pid);
      rss = sampleRss(pid);
      const started = performance.now();
      const { generateVideo } = await graphql<{ generateVideo: { prediction: { id: string } } }>(
        child,
        'mutation { generateVideo(input: { prompt: "bench" }) { prediction { id } } }',
      );
      const id = generateVideo.prediction.id;
      for (;;) {
        ({ prediction: done } = await graphql<{ prediction: typeof done }>(
          child,
          'query($id: ID!) { prediction(id: $id) { status mirrored mirrorError videoUrl outputFiles { sizeBytes } } }',
          { id },
        ));
        if (done.status !== 'STARTING' && done.status !== 'PROCESSING') break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      if (!done.mirrored) throw new Error(`not copied: ${done.status} ${done.mirrorError}`);
      if (done.outputFiles[0]!.sizeBytes !== size)
        throw new Error(`copied ${done.outputFiles[0]!.sizeBytes} bytes of ${size}`);
      rows.push({
        phase: `copy ${size / MiB} MiB (submit to SUCCEEDED)`,
        bytes: size,
        seconds: (performance.now() - started) / 1000,
        baseline,
        peak: rss.stop(),
      });
    }

    // Serve the whole file, then 200 ranges of 1 MiB at random places (a browser seeking).
    baseline = rssOf(pid);
    rss = sampleRss(pid);
    let t = performance.now();
    const whole = await drain(await fetch(done.videoUrl));
    if (whole !== SIZE) throw new Error(`served ${whole} bytes of ${SIZE}`);
    rows.push({
      phase: 'serve whole file (200)',
      bytes: whole,
      seconds: (performance.now() - t) / 1000,
      baseline,
      peak: rss.stop(),
    });

    baseline = rssOf(pid);
    rss = sampleRss(pid);
    t = performance.now();
    let ranged = 0;
    for (let i = 0; i < 200; i++) {
      const start = Math.floor(Math.random() * (SIZE - MiB));
      const response = await fetch(done.videoUrl, { headers: { range: `bytes=${start}-${start + MiB - 1}` } });
      if (response.status !== 206) throw new Error(`range answered ${response.status}`);
      ranged += await drain(response);
    }
    rows.push({
      phase: '200 ranges of 1 MiB (206)',
      bytes: ranged,
      seconds: (performance.now() - t) / 1000,
      baseline,
      peak: rss.stop(),
    });
  } finally {
    await child?.kill9();
    await fake.close();
    await database.drop();
  }

  const mib = (bytes: number) => (bytes / MiB).toFixed(1);
  console.log(
    `\nMirroring outputs of ${SIZE / 4 / MiB} and ${SIZE / MiB} MiB (gateway process RSS sampled every 20 ms)\n`,
  );
  console.log('| phase | MiB | s | MiB/s | RSS before | peak RSS | growth |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const row of rows) {
    console.log(
      `| ${row.phase} | ${mib(row.bytes)} | ${row.seconds.toFixed(2)} | ${(row.bytes / MiB / row.seconds).toFixed(1)} | ${mib(row.baseline)} | ${mib(row.peak)} | ${mib(row.peak - row.baseline)} |`,
    );
  }
  printTableFooter(loadBefore);
}

await main();
