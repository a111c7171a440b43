import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createVideoClient } from '../packages/client/src/client/index.ts';
import { cachedFolder, contentHash } from '../scripts/contentCache.js';
import { createApiKey } from '../src/auth/apiKeys.ts';
import { eventually, gatewayFixture, ONE_BACKEND } from './support/gateway.ts';
import { png } from './support/images.ts';

/**
 * The `happyhorse` command (packages/client/src/cli), compiled as the package builds it and run as a
 * real process against a gateway (API keys on, Postgres) in front of the fake Atlas: piped, where it
 * prints plain lines, JSON and exit codes, and in a real terminal (tmux), where it draws its bar in place.
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const execFileAsync = promisify(execFile);
/** In CI a missing tmux must fail the terminal test, not skip it (.ci/run installs it). */
const haveTmux = existsSync('/usr/bin/tmux') || process.env.CI === 'true';
/** Node and the CLI start slowly on a busy two-core machine. */
const SLOW = 90_000;

/**
 * The package's sources compiled with its own tsconfig, once per content, into the layout npm
 * installs (dist/ beside package.json) inside node_modules/.cache, where Node finds its dependencies.
 */
async function buildCli(): Promise<string> {
  const inputs = [
    'packages/client/src',
    'packages/client/tsconfig.json',
    'packages/client/package.json',
    'tsconfig.json',
  ];
  const { dir } = await cachedFolder(
    'cli',
    contentHash(ROOT, inputs),
    async (scratch) => {
      mkdirSync(scratch, { recursive: true });
      await execFileAsync(
        process.execPath,
        [
          join(ROOT, 'node_modules/typescript/bin/tsc'),
          '-p',
          'packages/client/tsconfig.json',
          '--outDir',
          join(scratch, 'dist'),
        ],
        { cwd: ROOT },
      );
      copyFileSync(join(ROOT, 'packages/client/package.json'), join(scratch, 'package.json'));
    },
    join(ROOT, 'node_modules/.cache'),
  );
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { bin: Record<string, string> };
  return join(dir, manifest.bin.happyhorse!);
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Running {
  child: ChildProcess;
  stdout(): string;
  exited: Promise<Run>;
}

const t = gatewayFixture(ONE_BACKEND, { AUTH_MODE: 'apikey' });
let cli: string;
let key: string;
let work: string;
/** The bytes every successful job's video holds (more than one 64 KiB chunk of the download). */
const VIDEO = randomBytes(200_000);

/** Jobs run `runMs` on the fake, then end as `end` says (by default with VIDEO as their one output). */
function jobsTake(runMs: number, end?: (id: string) => Record<string, unknown>) {
  t.fake.timedJobs = {
    runMs,
    terminal:
      end ??
      ((id) => {
        t.fake.files.set(`${id}.mp4`, { body: VIDEO });
        return { status: 'completed', outputs: [t.fake.fileUrl(`${id}.mp4`)], metrics: { predict_time: 2 } };
      }),
  };
}

/** The CLI as a child process, piped, with only the environment a user would give it. */
function start(args: string[], { env = {}, cwd = work }: { env?: Record<string, string>; cwd?: string } = {}): Running {
  const child = spawn(process.execPath, [cli, ...args], {
    cwd,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? tmpdir(),
      HAPPYHORSE_URL: t.gw.url,
      HAPPYHORSE_API_KEY: key,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  // A command that hangs is ended, so the test fails on its output rather than on its own timeout.
  const timer = setTimeout(() => child.kill('SIGKILL'), SLOW - 15_000);
  const exited = new Promise<Run>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  return { child, stdout: () => stdout, exited };
}

const run = (args: string[], options?: Parameters<typeof start>[1]) => start(args, options).exited;

/** The id in "Submitted <id> (…)". */
const submittedId = (stdout: string) => /^Submitted (\S+) /m.exec(stdout)?.[1];

/** How many jobs the gateway holds: what a refused command line must leave unchanged. */
async function jobCount(): Promise<number> {
  const result = await run(['list', '--json', '--limit', '100']);
  expect(result.code, result.stderr).toBe(0);
  return (JSON.parse(result.stdout) as { predictions: unknown[] }).predictions.length;
}

beforeAll(async () => {
  [cli, { key }] = await Promise.all([buildCli(), createApiKey(t.db.database.db, { name: 'cli-test' })]);
  work = mkdtempSync(join(tmpdir(), 'hh-cli-'));
  writeFileSync(join(work, 'frame.png'), png(320, 320));
  writeFileSync(join(work, 'character1.png'), png(400, 400));
  writeFileSync(join(work, 'character2.png'), png(400, 480));
  copyFileSync(join(ROOT, 'src/simulator/sample.mp4'), join(work, 'clip.mp4'));
}, SLOW);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

beforeEach(async () => {
  // The fake numbers its jobs from 1 again: the jobs of earlier tests, with the same upstream ids, must go.
  await t.db.truncate();
  t.fake.reset();
  jobsTake(1_500);
});

describe('happyhorse, piped', () => {
  it(
    'generates: plain status lines, the settings sent, the video downloaded to --out with its bytes',
    async () => {
      const result = await run([
        'generate',
        'A white horse galloping along a beach at sunrise',
        '--duration',
        '3',
        '--resolution',
        '1080p',
        '--aspect-ratio',
        '9:16',
        '--seed',
        '7',
        '--out',
        'horse.mp4',
      ]);
      expect(result.code, result.stderr).toBe(0);
      // Not a terminal: whole lines, nothing redrawn, no escape codes.
      expect(result.stdout).not.toContain('\r');
      expect(result.stdout).not.toContain('\x1b');
      const lines = result.stdout.trim().split('\n');
      const id = submittedId(result.stdout)!;
      expect(lines[0]).toBe(`Submitted ${id} (TEXT_TO_VIDEO, 1080P, 9:16, 3 s, seed 7)`);
      expect(lines.some((line) => /^PROCESSING +\[[#-]{30}\] +\d+% +\d+:\d\d$/.test(line))).toBe(true);
      expect(lines.at(-2)).toMatch(/^SUCCEEDED +\[#{30}\] 100% +\d+:\d\d$/);
      expect(lines.at(-1)).toBe('Saved horse.mp4 (200.0 kB)');
      expect(readFileSync(join(work, 'horse.mp4')).equals(VIDEO)).toBe(true);
      expect(readdirSync(work).filter((name) => name.endsWith('.part'))).toEqual([]);

      // What reached Atlas: the flags, as the model's fields.
      expect(t.fake.creates).toHaveLength(1);
      expect(t.fake.creates[0]!.body).toMatchObject({
        prompt: 'A white horse galloping along a beach at sunrise',
        duration: 3,
        resolution: '1080P',
        aspect_ratio: '9:16',
        seed: 7,
      });

      // status and list show it; --json is one document a script can parse.
      const status = await run(['status', id]);
      expect(status.code, status.stderr).toBe(0);
      expect(status.stdout).toMatch(new RegExp(`^id +${id}$`, 'm'));
      expect(status.stdout).toMatch(/^status +SUCCEEDED$/m);
      expect(status.stdout).toMatch(/^settings +1080P, 9:16, 3 s, seed 7$/m);
      const json = JSON.parse((await run(['status', id, '--json'])).stdout) as { prediction: Record<string, unknown> };
      expect(json.prediction).toMatchObject({
        id,
        status: 'SUCCEEDED',
        resolution: 'RES_1080P',
        aspectRatio: 'RATIO_9_16',
      });
      const list = await run(['list', '--status', 'succeeded']);
      expect(list.code, list.stderr).toBe(0);
      expect(list.stdout.split('\n')[0]).toMatch(/^ID +STATUS +MODE +CREATED +PROMPT$/);
      expect(list.stdout).toContain(`${id}  SUCCEEDED  TEXT_TO_VIDEO`);
      // A finished job: cancel leaves it as it is, and says so.
      expect(await run(['cancel', id])).toMatchObject({ code: 0, stdout: `${id}  had already ended: SUCCEEDED\n` });
    },
    SLOW,
  );

  it(
    'with --json prints only one JSON document, and saves to <id>.mp4 by default',
    async () => {
      const result = await run(['generate', 'a horse', '--duration', '3', '--json']);
      expect(result.code, result.stderr).toBe(0);
      const output = JSON.parse(result.stdout) as { prediction: { id: string; status: string }; file: string };
      expect(output.prediction.status).toBe('SUCCEEDED');
      expect(output.file).toBe(join(work, `${output.prediction.id}.mp4`));
      expect(readFileSync(output.file).equals(VIDEO)).toBe(true);
    },
    SLOW,
  );

  it(
    'exits 1 with the error code when the job fails, in words and in JSON',
    async () => {
      jobsTake(500, () => ({ status: 'failed', error: 'The prompt was flagged', error_code: 1039 }));
      const result = await run(['generate', 'a horse', '--out', 'never.mp4']);
      expect(result.code).toBe(1);
      const id = submittedId(result.stdout);
      expect(result.stdout).toMatch(/^FAILED +\d+:\d\d$/m);
      expect(result.stderr).toBe(`Error CONTENT_POLICY: The prompt was flagged (prediction ${id})\n`);
      expect(existsSync(join(work, 'never.mp4'))).toBe(false);

      const json = await run(['generate', 'a horse', '--json']);
      expect(json.code).toBe(1);
      expect(JSON.parse(json.stdout)).toMatchObject({
        error: { code: 'CONTENT_POLICY', message: 'The prompt was flagged' },
        prediction: { status: 'FAILED', errorCode: 'CONTENT_POLICY' },
      });
    },
    SLOW,
  );

  it(
    "exits 1 with the gateway's GraphQL error code: no key, an unknown id",
    async () => {
      const anonymous = await run(['list'], { env: { HAPPYHORSE_API_KEY: '' } });
      expect(anonymous.code).toBe(1);
      expect(anonymous.stderr).toMatch(/^Error UNAUTHENTICATED: /);
      const unknown = await run(['cancel', 'no-such-job', '--json']);
      expect(unknown.code).toBe(1);
      expect(JSON.parse(unknown.stdout)).toMatchObject({ error: { code: 'NOT_FOUND' } });
      const status = await run(['status', 'no-such-job']);
      expect(status).toMatchObject({
        code: 1,
        stderr: 'Error NOT_FOUND: No prediction no-such-job (or it is not yours)\n',
      });
    },
    SLOW,
  );

  it(
    'watch follows a job live; cancel ends it; both followers exit 1 with CANCELED',
    async () => {
      jobsTake(600_000);
      const generate = start(['generate', 'a long horse', '--duration', '15']);
      const id = await eventually(() => submittedId(generate.stdout()), Boolean, SLOW);
      const watch = start(['watch', id!]);
      // Following: its first line is the running job's state.
      await eventually(watch.stdout, (stdout) => /^PROCESSING /m.test(stdout), SLOW);

      const cancel = await run(['cancel', id!]);
      expect(cancel).toMatchObject({ code: 0, stdout: `${id}  CANCELED\n` });
      const [watched, generated] = await Promise.all([watch.exited, generate.exited]);
      for (const result of [watched, generated]) {
        expect(result.code).toBe(1);
        expect(result.stdout).toMatch(/^CANCELED +\d+:\d\d$/m);
        expect(result.stderr).toMatch(/^Error CANCELED: /);
      }
      const status = await run(['status', id!, '--json']);
      expect(JSON.parse(status.stdout)).toMatchObject({ prediction: { status: 'CANCELED', errorCode: 'CANCELED' } });
    },
    SLOW,
  );

  it(
    'uploads --image, --reference and --video files and submits the matching mode',
    async () => {
      const [image, references, edit] = await Promise.all([
        run(['generate', '--image', 'frame.png', '--duration', '3', '--json', '--out', 'image.mp4']),
        run([
          'generate',
          'character1 waves at character2',
          '--reference',
          'character1.png',
          '--reference',
          'character2.png',
          '--json',
          '--out',
          'references.mp4',
        ]),
        run([
          'generate',
          'make it snow',
          '--video',
          'clip.mp4',
          '--reference',
          'frame.png',
          '--audio',
          'keep',
          '--json',
        ]),
      ]);
      type Output = { prediction: { mode: string; media: { role: string; uploadId: string | null }[] }; file: string };
      const [a, b, c] = [image, references, edit].map((result) => {
        expect(result.code, result.stderr).toBe(0);
        return JSON.parse(result.stdout) as Output;
      });
      expect(a!.prediction).toMatchObject({ mode: 'IMAGE_TO_VIDEO', media: [{ role: 'IMAGE' }] });
      expect(b!.prediction).toMatchObject({
        mode: 'REFERENCE_TO_VIDEO',
        media: [{ role: 'REFERENCE' }, { role: 'REFERENCE' }],
      });
      expect(c!.prediction).toMatchObject({ mode: 'VIDEO_EDIT', media: [{ role: 'VIDEO' }, { role: 'REFERENCE' }] });
      for (const output of [a, b, c]) {
        expect(output!.prediction.media.every((media) => media.uploadId)).toBe(true);
        expect(readFileSync(output!.file).equals(VIDEO)).toBe(true);
      }
      // Each file uploaded under its own name, in the order given, and its bytes passed on to Atlas.
      const client = createVideoClient({ url: t.gw.url, token: key });
      const names = async (output: Output) =>
        Promise.all(output.prediction.media.map(async (media) => (await client.upload(media.uploadId!))?.filename));
      expect(await names(a!)).toEqual(['frame.png']);
      expect(await names(b!)).toEqual(['character1.png', 'character2.png']);
      expect(await names(c!)).toEqual(['clip.mp4', 'frame.png']);
      client.dispose();
      const sent = t.fake.media.map((media) => media.body);
      for (const file of ['frame.png', 'character1.png', 'character2.png', 'clip.mp4'])
        expect(sent).toContainEqual(readFileSync(join(work, file)));
    },
    SLOW,
  );

  it(
    'refuses bad options before anything is sent, naming the flag and its rule (exit 2)',
    async () => {
      const before = await jobCount();
      const cases: [string[], string][] = [
        [
          ['generate', 'a horse', '--duration', '20'],
          '--duration must be a whole number of seconds from 3 to 15 (got "20")',
        ],
        [['generate', 'a horse', '--resolution', '4K'], '--resolution must be one of 720P, 1080P (got "4K")'],
        [['generate', 'a horse', '--aspect-ratio', '21:9'], '--aspect-ratio must be one of 16:9, 9:16, 1:1, 4:3, 3:4'],
        [['generate', 'a horse', '--seed', '-1'], '--seed'],
        [['generate', '--duration', '5'], 'text to video needs a prompt'],
        [['generate', 'a horse', '--image', 'missing.png'], '--image missing.png: no such file'],
        [['generate', 'a horse', '--image', 'clip.mp4'], '--image must be a JPEG, PNG or WEBP file'],
        [
          ['generate', 'snow', '--video', 'clip.mp4', '--aspect-ratio', '1:1'],
          '--aspect-ratio is not for a video edit',
        ],
        [['generate', 'a horse', '--out', 'no/such/folder/x.mp4'], 'does not exist'],
        [['generate', 'a horse', '--durration', '5'], "Unknown option '--durration'"],
        [['list', '--limit', '500'], '--limit must be a whole number from 1 to 100 (got "500")'],
        [['status'], 'status takes one prediction id'],
        [['frobnicate'], 'unknown command "frobnicate"'],
      ];
      const results = await Promise.all(cases.map(([args]) => run(args)));
      results.forEach((result, index) => {
        const [args, message] = cases[index]!;
        expect({ args, code: result.code, stdout: result.stdout }).toEqual({ args, code: 2, stdout: '' });
        expect(result.stderr).toContain(message);
        expect(result.stderr).toContain('Run happyhorse --help for usage.');
      });
      const noUrl = await run(['list'], { env: { HAPPYHORSE_URL: '' } });
      expect(noUrl.code).toBe(2);
      expect(noUrl.stderr).toContain('set HAPPYHORSE_URL or pass --url');
      expect(await jobCount()).toBe(before);
      expect(t.fake.creates).toEqual([]);
    },
    SLOW,
  );

  it(
    'prints usage for --help and help <command>',
    async () => {
      const [help, generateHelp, flagHelp] = await Promise.all([
        run(['--help'], { env: { HAPPYHORSE_URL: '' } }),
        run(['help', 'generate']),
        run(['watch', '--help']),
      ]);
      expect(help.code).toBe(0);
      for (const command of ['generate', 'watch', 'status', 'list', 'cancel'])
        expect(help.stdout).toContain(`happyhorse ${command}`);
      expect(help.stdout).toContain('HAPPYHORSE_API_KEY');
      expect(generateHelp).toMatchObject({ code: 0 });
      expect(generateHelp.stdout).toContain('--aspect-ratio RATIO');
      expect(flagHelp.stdout).toMatch(/^Usage: happyhorse watch <id>/);
    },
    SLOW,
  );
});

/** One command in a real terminal (tmux, 100 columns), its bytes as written and the screen at its end. */
async function inTerminal(args: string[]): Promise<{ code: number; raw: string; screen: string }> {
  const name = `tmux-${randomBytes(3).toString('hex')}`;
  // A server of its own, its socket in the test's folder (removed with it), not in the user's tmux.
  const socket = join(work, name);
  const tmux = (...rest: string[]) => execFileAsync('tmux', ['-S', socket, ...rest]);
  const rawFile = join(work, `${name}.raw`);
  const codeFile = join(work, `${name}.code`);
  const quote = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;
  // The command waits for "go" until the pane's output is being recorded, and keeps the pane open
  // until "done", after its screen has been read.
  const command = [
    `tmux -S ${quote(socket)} wait-for go`,
    `${quote(process.execPath)} ${[cli, ...args].map(quote).join(' ')}`,
    `echo $? > ${quote(codeFile)}`,
    `tmux -S ${quote(socket)} wait-for done`,
  ].join('; ');
  try {
    await tmux(
      'new-session',
      '-d',
      '-x',
      '100',
      '-y',
      '20',
      '-c',
      work,
      '-e',
      `HAPPYHORSE_URL=${t.gw.url}`,
      '-e',
      `HAPPYHORSE_API_KEY=${key}`,
      command,
    );
    await tmux('pipe-pane', '-o', `cat > ${quote(rawFile)}`);
    await tmux('wait-for', '-S', 'go');
    const code = Number(
      await eventually(() => (existsSync(codeFile) ? readFileSync(codeFile, 'utf8') : ''), Boolean, SLOW),
    );
    const screen = (await tmux('capture-pane', '-p')).stdout;
    await tmux('wait-for', '-S', 'done');
    // Everything the command wrote has reached the recording once its last line has.
    const raw = await eventually(
      () => (existsSync(rawFile) ? readFileSync(rawFile, 'utf8') : ''),
      (text) => text.includes('Saved') || code !== 0,
    );
    return { code, raw, screen };
  } finally {
    await tmux('kill-server').catch(() => {});
  }
}

describe.skipIf(!haveTmux)('happyhorse in a terminal', () => {
  it(
    'draws the progress bar in place: one line redrawn with carriage returns, the percent and the time',
    async () => {
      jobsTake(3_000);
      const { code, raw, screen } = await inTerminal([
        'generate',
        'a horse in a terminal',
        '--duration',
        '3',
        '--out',
        'tty.mp4',
      ]);
      expect(code, raw).toBe(0);
      // Each frame: carriage return, the status line, erase to the end of the line.
      // (The erase, ESC [K, as <EL>: a regular expression may not hold a control character.)
      const text = raw.replaceAll('\x1b[K', '<EL>');
      const frames = [...text.matchAll(/\r(\w+) +\[([#-]{30})\] +(\d+)% +(\d+:\d\d)<EL>/g)];
      const running = frames.filter((frame) => frame[1] === 'PROCESSING');
      expect(running.length).toBeGreaterThanOrEqual(3);
      // The elapsed time moved on between redraws, and the last frame is the finished bar.
      expect(new Set(running.map((frame) => frame[4])).size).toBeGreaterThanOrEqual(2);
      expect(frames.at(-1)?.slice(1, 4)).toEqual(['SUCCEEDED', '#'.repeat(30), '100']);
      // In place: every frame of the job is on one line of output, ended once, after SUCCEEDED.
      const barLines = text.split('\n').filter((line) => line.includes('PROCESSING'));
      expect(barLines).toHaveLength(1);
      expect(barLines[0]).toMatch(/SUCCEEDED +\[#{30}\] 100% +\d+:\d\d<EL>\r?$/);

      // What the user is left looking at: the submission, the finished bar, the saved file.
      const visible = screen.split('\n').filter((line) => line.trim());
      expect(visible).toHaveLength(3);
      expect(visible[0]).toMatch(/^Submitted \S+ \(TEXT_TO_VIDEO, 720P, 16:9, 3 s\)$/);
      expect(visible[1]).toMatch(/^SUCCEEDED +\[#{30}\] 100% +\d+:\d\d$/);
      expect(visible[2]).toBe('Saved tty.mp4 (200.0 kB)');
      expect(readFileSync(join(work, 'tty.mp4')).equals(VIDEO)).toBe(true);
    },
    SLOW,
  );
});
