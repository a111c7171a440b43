/**
 * The README's examples, run as a reader runs them, against a real gateway on the built-in simulator
 * (no API key, no auth, as `npm start` makes it): each `curl` of "Try it with curl" through bash, with
 * the answers shown beside them (`# => …`, and the SSE stream's `# data: …` lines) as the shapes the
 * real answers must have, `…` matching anything; and the TypeScript example of "From your app", run
 * with the client package's source. A changed answer, or an example that no longer runs, fails here.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { simulatorGatewayFixture } from './support/gateway.ts';
import { blockUnder, curlExamples, sameShape } from './support/markdownExamples.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

const block = (heading: string, language: string) => blockUnder(README, heading, language);

// As `npm start` runs it, with shorter simulated jobs.
const sim = simulatorGatewayFixture({ SIMULATOR_JOB_MS: '1500', POLL_INTERVAL_MS: '200' });

describe("the README's examples", () => {
  it('"Try it with curl": every command runs, and answers as shown', { timeout: 60_000 }, async () => {
    const examples = curlExamples(block('Try it with curl', 'sh'));
    expect(examples.map((example) => example.command.split(' ')[0])).toEqual(['curl', 'curl', 'curl', 'curl']);
    let id = '';
    const answers: string[] = [];
    for (const [index, example] of examples.entries()) {
      const command = example.command
        .replaceAll('localhost:4000', sim.origin.replace('http://', ''))
        .replaceAll('8c0d…', id);
      const { stdout } = await run('bash', ['-c', command], { timeout: 30_000 });
      answers.push(stdout);
      if (index === 0)
        id = (JSON.parse(stdout) as { data: { generateVideo: { prediction: { id: string } } } }).data.generateVideo
          .prediction.id;
      const streamed = stdout.includes('event: next');
      const received = streamed
        ? [...stdout.matchAll(/^data: (\{.*\})$/gm)].map((match) => JSON.parse(match[1]!) as unknown)
        : [JSON.parse(stdout) as unknown];
      // The README's gateway is on port 4000; this one is wherever it could listen.
      for (const text of example.shown) {
        const shown = JSON.parse(text.replaceAll('127.0.0.1:4000', sim.origin.replace('http://', ''))) as unknown;
        expect(
          received.some((answer) => sameShape(answer, shown)),
          `${stdout}\nshould hold the shape of\n${text}`,
        ).toBe(true);
      }
      if (streamed) expect(stdout).toMatch(/event: complete/);
    }
    // The list holds the job, which the stream saw end.
    expect(answers[3]).toContain(id);
  });

  it('"From your app": the TypeScript example runs against the gateway', { timeout: 60_000 }, async () => {
    const source = block('From your app', 'ts')
      .replace("'happyhorse-gateway/client'", `'${join(ROOT, 'packages/client/src/client/index.ts')}'`)
      .replace("'http://127.0.0.1:4000/graphql'", `'${sim.url}'`);
    const dir = mkdtempSync(join(tmpdir(), 'hh-readme-example-'));
    try {
      writeFileSync(join(dir, 'example.mts'), source);
      const { stdout } = await run(process.execPath, ['--import', 'tsx', join(dir, 'example.mts')], {
        cwd: ROOT,
        timeout: 45_000,
      });
      expect(stdout.trim()).toMatch(/^SUCCEEDED http:\/\/\S+$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
