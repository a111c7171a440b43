/**
 * The shell and TypeScript examples of docs/*.md, each held to what its fence says (```ts run,
 * ```tsx check, ```sh config, ```sh skip: why):
 * - run: a program runs against a real gateway on the built-in simulator, printing what its
 *   `// => …` comments show (`…` matching anything); a webhook handler (it reads `req`) verifies a
 *   real delivery of that gateway.
 * - check: a fragment compiles against the client package's source (all in one tsc run), so a renamed
 *   method, hook, option or field fails here.
 * - config: the variables a command line sets are the gateway's, and its configuration accepts them.
 * - skip: not runnable here (Docker, your app, a gateway of your own); the fence says why.
 * An example without one of these fails, so a new one cannot go untested unnoticed.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, loadConfig } from '../src/config.ts';
import { eventually, simulatorGatewayFixture } from './support/gateway.ts';
import { type FencedBlock, fencedBlocks, sameShape } from './support/markdownExamples.ts';
import { tscState } from './support/tscState.ts';
import { WebhookReceiver } from './support/webhookReceiver.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DOCS = readdirSync(join(ROOT, 'docs')).filter((name) => name.endsWith('.md'));
const BLOCKS = DOCS.flatMap((name) => fencedBlocks(readFileSync(join(ROOT, 'docs', name), 'utf8'), `docs/${name}`));

const SHELL = new Set(['sh', 'bash', 'shell', 'console', 'zsh']);
const TYPESCRIPT = new Set(['ts', 'tsx', 'typescript', 'js', 'jsx', 'javascript', 'mjs']);
const EXAMPLES = BLOCKS.filter((block) => SHELL.has(block.language) || TYPESCRIPT.has(block.language));
const decided = (decision: FencedBlock['decision']) => EXAMPLES.filter((block) => block.decision === decision);

/** The package's entries, as the docs import them, mapped to their source. */
const CLIENT_SOURCES: Record<string, string> = {
  '': join(ROOT, 'packages/client/src/client/index.ts'),
  '/client': join(ROOT, 'packages/client/src/client/index.ts'),
  '/react': join(ROOT, 'packages/client/src/react/index.tsx'),
  '/webhooks': join(ROOT, 'packages/client/src/webhooks/index.ts'),
};
const fromSource = (code: string) =>
  code.replace(/(['"])happyhorse-gateway(\/\w+)?\1/g, (whole, _quote, entry: string | undefined) => {
    const source = CLIENT_SOURCES[entry ?? ''];
    if (!source) throw new Error(`no source for ${whole}`);
    return `'${source}'`;
  });

/** A run block reading `req` is a webhook handler: run on a delivery, not as a program. */
const isHandler = (block: FencedBlock) => /\breq\b/.test(block.code);

/**
 * tsc's incremental state from the last passing check of the fragments (tsc took 8.3 s of CPU without
 * it, 5.2 s with it). Each run's folder is a new one beside the last, so the state's relative paths hold.
 */
const TSC_STATE_FILE = 'examples.tsbuildinfo';
const tscStateOfExamples = tscState(join(ROOT, 'node_modules/.cache/docs-examples-tsc/state'), [TSC_STATE_FILE]);

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
// As `npm start` runs it, with shorter simulated jobs, and signing the webhooks it sends.
const sim = simulatorGatewayFixture({
  SIMULATOR_JOB_MS: '1500',
  POLL_INTERVAL_MS: '200',
  WEBHOOK_SIGNING_SECRET: SECRET,
});
// The docs' gateway listens on 127.0.0.1:4000; this one is wherever it could.
const here = (code: string) => code.replaceAll('http://127.0.0.1:4000', sim.origin);

describe("the docs' examples", () => {
  it('each says whether it is run, type-checked, config-checked or skipped (and why)', () => {
    const undecided = EXAMPLES.filter((block) => !block.decision).map((block) => block.where);
    const misfits = EXAMPLES.filter(
      (block) =>
        ((block.decision === 'run' || block.decision === 'check') && !TYPESCRIPT.has(block.language)) ||
        (block.decision === 'config' && !SHELL.has(block.language)) ||
        (block.decision === 'skip' && !block.note),
    ).map((block) => `${block.where}: ${block.language} ${block.decision} ${block.note}`);
    expect(undecided, 'add run, check, config or "skip: why" after the language').toEqual([]);
    expect(misfits).toEqual([]);
    // The pages hold examples of each kind: a parser that found none would pass everything.
    for (const decision of ['run', 'check', 'config', 'skip'] as const)
      expect(decided(decision).length, decision).toBeGreaterThan(0);
  });

  it('run: each program runs against the gateway and prints what it shows', { timeout: 90_000 }, async () => {
    const programs = decided('run').filter((block) => !isHandler(block));
    expect(programs.length).toBeGreaterThan(0);
    const dir = mkdtempSync(join(tmpdir(), 'hh-docs-example-'));
    try {
      for (const [index, block] of programs.entries()) {
        const file = join(dir, `example${index}.mts`);
        writeFileSync(file, here(fromSource(block.code)));
        const { stdout } = await run(process.execPath, ['--import', 'tsx', file], { cwd: ROOT, timeout: 45_000 });
        const printed = stdout.trim().split('\n');
        const shown = [...block.code.matchAll(/console\.log\(.*\/\/ => (.+)$/gm)].map((match) => here(match[1]!));
        for (const line of shown)
          expect(
            printed.some((out) => sameShape(out, line)),
            `${block.where} printed\n${stdout}\nwith no line like\n${line}`,
          ).toBe(true);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('run: a webhook handler', () => {
    let receiver: WebhookReceiver;
    beforeAll(async () => {
      receiver = await WebhookReceiver.start(SECRET);
    });
    afterAll(() => receiver?.close());

    it('takes a real delivery of the gateway and returns its event', { timeout: 60_000 }, async () => {
      const handlers = decided('run').filter(isHandler);
      expect(handlers.length).toBeGreaterThan(0);
      const reply = await fetch(sim.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          query: 'mutation G($input: GenerateVideoInput!) { generateVideo(input: $input) { prediction { id } } }',
          variables: { input: { prompt: 'a horse', webhook: { url: `${receiver.url}/done`, events: ['COMPLETED'] } } },
        }),
      });
      const generated = (await reply.json()) as { data?: { generateVideo: { prediction: { id: string } } } };
      const id = generated.data?.generateVideo.prediction.id;
      expect(id, JSON.stringify(generated)).toBeTruthy();
      const [delivery] = await eventually(
        () => receiver.at('/done'),
        (hooks) => hooks.length > 0,
      );

      const dir = mkdtempSync(join(ROOT, '.docs-examples-'));
      const secretBefore = process.env.WEBHOOK_SIGNING_SECRET;
      process.env.WEBHOOK_SIGNING_SECRET = SECRET;
      try {
        for (const [index, block] of handlers.entries()) {
          // Its imports stay on top; the rest is the handler's body, which must end with an `event`.
          const code = fromSource(block.code).split('\n');
          const imports = code.filter((line) => line.startsWith('import '));
          const body = code.filter((line) => !line.startsWith('import '));
          const file = join(dir, `handler${index}.ts`);
          writeFileSync(
            file,
            [
              ...imports,
              "import type { IncomingHttpHeaders } from 'node:http';",
              'export function handle(req: { body: Buffer; headers: IncomingHttpHeaders }) {',
              ...body,
              '  return event;',
              '}',
            ].join('\n'),
          );
          const { handle } = (await import(pathToFileURL(file).href)) as {
            handle: (req: { body: Buffer; headers: IncomingHttpHeaders }) => unknown;
          };
          const event = handle({ body: Buffer.from(delivery!.body), headers: delivery!.headers });
          expect(event, block.where).toEqual(JSON.parse(delivery!.body));
          expect(event).toMatchObject({ type: 'prediction.completed', data: { id, status: 'SUCCEEDED' } });
          // A body changed on the way is refused.
          expect(() =>
            handle({ body: Buffer.from(delivery!.body.replace('SUCCEEDED', 'FAILED')), headers: delivery!.headers }),
          ).toThrow(/signature/i);
        }
      } finally {
        if (secretBefore === undefined) delete process.env.WEBHOOK_SIGNING_SECRET;
        else process.env.WEBHOOK_SIGNING_SECRET = secretBefore;
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  it('check: every TypeScript example compiles against the client source', { timeout: 120_000 }, async () => {
    const blocks = EXAMPLES.filter((block) => block.decision === 'check' || block.decision === 'run');
    const entries = await Promise.all(
      (['/react', '', '/webhooks'] as const).map(
        async (entry) => [entry, Object.keys(await import(CLIENT_SOURCES[entry]!))] as const,
      ),
    );
    // Inside the repository, so the fragments' own imports (vite, @apollo/client …) resolve from its node_modules.
    const dir = mkdtempSync(join(ROOT, '.docs-examples-'));
    try {
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'ES2022',
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            lib: ['ES2023', 'DOM'],
            strict: true,
            noUncheckedIndexedAccess: true,
            allowImportingTsExtensions: true,
            skipLibCheck: true,
            noEmit: true,
            types: ['node'],
            jsx: 'react-jsx',
            incremental: true,
            tsBuildInfoFile: TSC_STATE_FILE,
          },
          include: ['*.ts', '*.tsx'],
        }),
      );
      // What the fragments take as already there, from the text around them.
      writeFileSync(
        join(dir, 'context.d.ts'),
        [
          "import type { IncomingHttpHeaders } from 'node:http';",
          `import type { VideoClient } from '${CLIENT_SOURCES['']}';`,
          `import type { useVideoGeneration } from '${CLIENT_SOURCES['/react']}';`,
          'declare global {',
          '  const videos: VideoClient;',
          '  const file: File;',
          '  const controller: AbortController;',
          '  const url: string;',
          "  const submit: ReturnType<typeof useVideoGeneration>['submit'];",
          '  const req: { body: Buffer; headers: IncomingHttpHeaders };',
          '  function getAccessToken(): Promise<string>;',
          '}',
          'export {};',
        ].join('\n'),
      );
      /** Per temporary file: its block, and how many lines were put before the block's first. */
      const sources: Record<string, { block: FencedBlock; offset: number }> = {};
      for (const [index, block] of blocks.entries()) {
        const code = fromSource(block.code);
        const imported = new Set(
          [...code.matchAll(/^import (?:type )?\{([^}]*)\}/gm)].flatMap((m) => m[1]!.split(',').map((n) => n.trim())),
        );
        // A fragment uses the package's exports without importing them: import those it names.
        const taken = new Set(imported);
        const preamble = entries.flatMap(([entry, exported]) => {
          const used = exported.filter((name) => !taken.has(name) && new RegExp(`\\b${name}\\b`).test(code));
          for (const name of used) taken.add(name);
          return used.length ? [`import { ${used.join(', ')} } from '${CLIENT_SOURCES[entry]}';`] : [];
        });
        const name = `example${index}.${block.language === 'tsx' ? 'tsx' : 'ts'}`;
        sources[name] = { block, offset: preamble.length };
        // `export {}`: each fragment a module of its own, so their names do not meet.
        writeFileSync(join(dir, name), [...preamble, code, 'export {};'].join('\n'));
      }
      await tscStateOfExamples.restore(dir);
      const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
      const output = await run(process.execPath, [tsc, '-p', dir], { cwd: dir, timeout: 110_000 }).then(
        () => '',
        (error: { stdout?: string }) => error.stdout ?? String(error),
      );
      // Name the docs' lines (file:line:column), not the temporary files'.
      const errors = output.replace(
        /(example\d+\.tsx?)\((\d+),(\d+)\)/g,
        (whole, file: string, line: string, column: string) => {
          const source = sources[file];
          if (!source) return whole;
          const [doc, fence] = source.block.where.split(':');
          return `${doc}:${Number(fence) + Number(line) - source.offset}:${column}`;
        },
      );
      expect(errors).toBe('');
      await tscStateOfExamples.keep(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('config: each command line sets variables the gateway reads, with values it accepts', async () => {
    const blocks = decided('config');
    const known = new Set(CONFIG_VARIABLES);
    for (const block of blocks) {
      // Every `npm …` prints the environment it would start with (after a \x1e, NUL-separated): first
      // the shell's own, then each command line's, then what the example leaves set.
      const script = ['set -a', `npm() { printf '\\x1e'; env -0; }`, 'npm', block.code, 'npm'].join('\n');
      const { stdout } = await run('bash', ['-c', script], { env: { PATH: process.env.PATH }, timeout: 10_000 });
      const [base, ...starts] = stdout
        .split('\x1e')
        .slice(1)
        .map(
          (dump) =>
            Object.fromEntries(
              dump
                .split('\0')
                .filter(Boolean)
                .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
            ) as Record<string, string>,
        );
      const settings = starts
        .map((env) =>
          Object.fromEntries(Object.entries(env).filter(([key, value]) => key !== '_' && base![key] !== value)),
        )
        .filter((set) => Object.keys(set).length > 0);
      expect(settings.length, `${block.where} sets nothing`).toBeGreaterThan(0);
      for (const set of settings) {
        expect(
          Object.keys(set).filter((key) => !known.has(key)),
          `${block.where}: not read by the gateway`,
        ).toEqual([]);
        expect(() => loadConfig({ NODE_ENV: 'development', ...set }), block.where).not.toThrow();
      }
    }
  });
});
