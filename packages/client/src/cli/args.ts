/**
 * The command line, parsed (node:util parseArgs) and checked before anything is sent: a paid job is
 * never submitted with a flag the gateway would refuse or a file that cannot be read, and every
 * refusal names the flag and its rule.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, extname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { AspectRatio, AudioSetting, PredictionStatus, Resolution } from '../client/index.ts';

/** A mistake on the command line: printed with a pointer to the usage, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface Common {
  /** The gateway's GraphQL endpoint. */
  url: string;
  /** HAPPYHORSE_API_KEY, sent as the bearer token. */
  token: string | undefined;
  json: boolean;
}

/** A job as given: media as paths, uploaded only once everything has been checked. */
export interface JobSpec {
  mode: 'TEXT_TO_VIDEO' | 'IMAGE_TO_VIDEO' | 'REFERENCE_TO_VIDEO' | 'VIDEO_EDIT';
  prompt: string | undefined;
  duration: number | undefined;
  resolution: Resolution | undefined;
  aspectRatio: AspectRatio | undefined;
  seed: number | undefined;
  timeoutSeconds: number | undefined;
  audio: AudioSetting | undefined;
  image: string | undefined;
  references: string[];
  video: string | undefined;
}

export type Command =
  | { kind: 'help'; topic: string | undefined }
  | { kind: 'version' }
  | (Common & { kind: 'generate'; job: JobSpec; out: string | undefined })
  | (Common & { kind: 'watch'; id: string; out: string | undefined })
  | (Common & { kind: 'status'; id: string })
  | (Common & { kind: 'cancel'; id: string })
  | (Common & { kind: 'list'; first: number | undefined; after: string | undefined; status: PredictionStatus[] });

export const COMMANDS = ['generate', 'status', 'list', 'watch', 'cancel', 'help'] as const;

const OPTIONS = {
  url: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
  out: { type: 'string', short: 'o' },
  duration: { type: 'string', short: 'd' },
  resolution: { type: 'string', short: 'r' },
  'aspect-ratio': { type: 'string', short: 'a' },
  seed: { type: 'string' },
  timeout: { type: 'string' },
  audio: { type: 'string' },
  image: { type: 'string', multiple: true },
  reference: { type: 'string', multiple: true },
  video: { type: 'string', multiple: true },
  limit: { type: 'string' },
  after: { type: 'string' },
  status: { type: 'string', multiple: true },
} as const;

type Flag = keyof typeof OPTIONS;

/** Which flags each command takes besides --url, --json and --help. */
const FLAGS: Record<(typeof COMMANDS)[number], readonly Flag[]> = {
  generate: [
    'out',
    'duration',
    'resolution',
    'aspect-ratio',
    'seed',
    'timeout',
    'audio',
    'image',
    'reference',
    'video',
  ],
  watch: ['out'],
  status: [],
  cancel: [],
  list: ['limit', 'after', 'status'],
  help: [],
};
const COMMON: readonly Flag[] = ['url', 'json', 'help', 'version'];

const RESOLUTIONS: Record<string, Resolution> = { '720P': 'RES_720P', '1080P': 'RES_1080P' };
const ASPECT_RATIOS: Record<string, AspectRatio> = {
  '16:9': 'RATIO_16_9',
  '9:16': 'RATIO_9_16',
  '1:1': 'RATIO_1_1',
  '4:3': 'RATIO_4_3',
  '3:4': 'RATIO_3_4',
};
const AUDIO: Record<string, AudioSetting> = { generate: 'GENERATE', keep: 'KEEP_ORIGINAL' };
const STATUSES: readonly PredictionStatus[] = ['STARTING', 'PROCESSING', 'SUCCEEDED', 'FAILED', 'CANCELED'];
/** What the gateway takes (see uploadMedia): checked here so a wrong file fails before any upload. */
const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp'];
const VIDEO_EXTENSIONS = ['.mp4', '.m4v', '.mov', '.qt'];
const MAX_PROMPT = 2500;

/** A whole number in [min, max], or a UsageError naming the flag and the range. */
function wholeNumber(flag: string, value: string, min: number, max: number, unit = ''): number {
  const number = /^-?\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(number) || number < min || number > max)
    throw new UsageError(`--${flag} must be a whole number${unit} from ${min} to ${max} (got "${value}")`);
  return number;
}

function oneOf<T>(flag: string, value: string, choices: Record<string, T>): T {
  const found = choices[value.toUpperCase()] ?? choices[value.toLowerCase()];
  if (found === undefined)
    throw new UsageError(`--${flag} must be one of ${Object.keys(choices).join(', ')} (got "${value}")`);
  return found;
}

/** A readable file of one of the given kinds, or a UsageError naming the flag. */
function mediaFile(flag: string, path: string, extensions: string[], kind: string): string {
  if (!extensions.includes(extname(path).toLowerCase()))
    throw new UsageError(`--${flag} must be ${kind} file (${extensions.join(', ')}): got "${basename(path)}"`);
  if (!existsSync(path)) throw new UsageError(`--${flag} ${path}: no such file`);
  if (!statSync(path).isFile()) throw new UsageError(`--${flag} ${path}: not a file`);
  return path;
}

/** The gateway's GraphQL endpoint from --url or HAPPYHORSE_URL; a bare origin gets /graphql. */
function gatewayUrl(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  const given = flag ?? env.HAPPYHORSE_URL;
  if (!given) throw new UsageError('no gateway: set HAPPYHORSE_URL or pass --url (e.g. http://127.0.0.1:4000/graphql)');
  const source = flag === undefined ? 'HAPPYHORSE_URL' : '--url';
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    throw new UsageError(`${source} must be an http(s) URL (got "${given}")`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UsageError(`${source} must be an http(s) URL (got "${given}")`);
  if (url.pathname === '/') url.pathname = '/graphql';
  return url.toString();
}

/** Where a download goes: its folder must exist now, not after the job has been paid for. */
function outPath(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!value.trim()) throw new UsageError('--out must name a file');
  const path = resolve(value);
  if (existsSync(path) && statSync(path).isDirectory()) throw new UsageError(`--out ${value}: is a folder`);
  if (!existsSync(dirname(path))) throw new UsageError(`--out ${value}: the folder ${dirname(path)} does not exist`);
  return path;
}

function jobSpec(values: Values, positionals: string[]): JobSpec {
  if (positionals.length > 1)
    throw new UsageError(`generate takes one prompt; quote it as one argument (got ${positionals.length} words)`);
  const prompt = positionals[0]?.trim() || undefined;
  if (positionals[0] !== undefined && !prompt) throw new UsageError('the prompt must not be blank');
  if (prompt && prompt.length > MAX_PROMPT)
    throw new UsageError(`the prompt must be at most ${MAX_PROMPT} characters (got ${prompt.length})`);

  const [image, ...moreImages] = values.image ?? [];
  const [video, ...moreVideos] = values.video ?? [];
  const references = values.reference ?? [];
  if (moreImages.length) throw new UsageError('--image takes one file (the first frame); use --reference for more');
  if (moreVideos.length) throw new UsageError('--video takes one file');
  if (image && (video || references.length))
    throw new UsageError('--image (image to video) cannot be combined with --video or --reference');

  const mode: JobSpec['mode'] = image
    ? 'IMAGE_TO_VIDEO'
    : video
      ? 'VIDEO_EDIT'
      : references.length
        ? 'REFERENCE_TO_VIDEO'
        : 'TEXT_TO_VIDEO';
  const name = {
    TEXT_TO_VIDEO: 'text to video',
    IMAGE_TO_VIDEO: 'image to video (--image)',
    REFERENCE_TO_VIDEO: 'reference images to video (--reference)',
    VIDEO_EDIT: 'a video edit (--video)',
  }[mode];
  if (!prompt && mode !== 'IMAGE_TO_VIDEO') throw new UsageError(`${name} needs a prompt: happyhorse generate "…"`);
  const maxReferences = mode === 'VIDEO_EDIT' ? 5 : 9;
  if (references.length > maxReferences)
    throw new UsageError(
      `--reference may be given at most ${maxReferences} times for ${name} (got ${references.length})`,
    );
  if (values.duration !== undefined && mode === 'VIDEO_EDIT')
    throw new UsageError('--duration is not for a video edit: the edit is as long as its video');
  if (values['aspect-ratio'] !== undefined && (mode === 'IMAGE_TO_VIDEO' || mode === 'VIDEO_EDIT'))
    throw new UsageError(`--aspect-ratio is not for ${name}: the video takes its source's`);
  if (values.audio !== undefined && mode !== 'VIDEO_EDIT')
    throw new UsageError('--audio is only for a video edit (--video)');

  return {
    mode,
    prompt,
    duration:
      values.duration === undefined ? undefined : wholeNumber('duration', values.duration, 3, 15, ' of seconds'),
    resolution: values.resolution === undefined ? undefined : oneOf('resolution', values.resolution, RESOLUTIONS),
    aspectRatio:
      values['aspect-ratio'] === undefined ? undefined : oneOf('aspect-ratio', values['aspect-ratio'], ASPECT_RATIOS),
    seed: values.seed === undefined ? undefined : wholeNumber('seed', values.seed, 0, 2_147_483_647),
    timeoutSeconds:
      values.timeout === undefined ? undefined : wholeNumber('timeout', values.timeout, 30, 3600, ' of seconds'),
    audio: values.audio === undefined ? undefined : oneOf('audio', values.audio, AUDIO),
    image: image && mediaFile('image', image, IMAGE_EXTENSIONS, 'a JPEG, PNG or WEBP'),
    references: references.map((path) => mediaFile('reference', path, IMAGE_EXTENSIONS, 'a JPEG, PNG or WEBP')),
    video: video && mediaFile('video', video, VIDEO_EXTENSIONS, 'an MP4 or MOV'),
  };
}

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

function onlyId(command: string, positionals: string[]): string {
  if (positionals.length !== 1 || !positionals[0]!.trim())
    throw new UsageError(`${command} takes one prediction id: happyhorse ${command} <id>`);
  return positionals[0]!.trim();
}

/** The command the arguments ask for, checked; a UsageError for anything wrong. */
export function parseCommand(argv: string[], env: NodeJS.ProcessEnv): Command {
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    // parseArgs' own words ("Unknown option '--durration'"), without its advice about '--' for positionals.
    throw new UsageError((error as Error).message.split('. To specify a positional')[0]!);
  }
  const { values, positionals } = parsed;
  const [name, ...rest] = positionals;
  if (values.version && !name) return { kind: 'version' };
  if (!name) return { kind: 'help', topic: undefined };
  if (name === 'help') return { kind: 'help', topic: rest[0] };
  if (!(COMMANDS as readonly string[]).includes(name))
    throw new UsageError(`unknown command "${name}" (commands: ${COMMANDS.join(', ')})`);
  const command = name as Exclude<(typeof COMMANDS)[number], 'help'>;
  if (values.help) return { kind: 'help', topic: command };

  const allowed = [...COMMON, ...FLAGS[command]];
  const stray = (Object.keys(values) as Flag[]).find((flag) => !allowed.includes(flag));
  if (stray) throw new UsageError(`--${stray} is not an option of ${command} (see happyhorse help ${command})`);

  const common: Common = {
    url: gatewayUrl(values.url, env),
    token: env.HAPPYHORSE_API_KEY?.trim() || undefined,
    json: values.json ?? false,
  };
  switch (command) {
    case 'generate':
      return { ...common, kind: 'generate', job: jobSpec(values, rest), out: outPath(values.out) };
    case 'watch':
      return { ...common, kind: 'watch', id: onlyId(command, rest), out: outPath(values.out) };
    case 'status':
    case 'cancel':
      return { ...common, kind: command, id: onlyId(command, rest) };
    case 'list': {
      if (rest.length) throw new UsageError('list takes no arguments; filter with --status');
      const status = (values.status ?? [])
        .flatMap((value) => value.split(','))
        .map((value) => {
          const upper = value.trim().toUpperCase() as PredictionStatus;
          if (!STATUSES.includes(upper))
            throw new UsageError(`--status must be one of ${STATUSES.join(', ')} (got "${value}")`);
          return upper;
        });
      return {
        ...common,
        kind: 'list',
        first: values.limit === undefined ? undefined : wholeNumber('limit', values.limit, 1, 100),
        after: values.after,
        status,
      };
    }
  }
}

export const USAGE = `happyhorse: make videos with a HappyHorse gateway

Usage:
  happyhorse generate "<prompt>" [options]   submit a job, show its progress, download the video
  happyhorse watch <id> [--out FILE]         follow a job live until it ends
  happyhorse status <id>                     a job's stored state
  happyhorse list [--limit N] [--status S]   your jobs, newest first
  happyhorse cancel <id>                     end an unfinished job as CANCELED
  happyhorse help [command]                  this text, or a command's

Everywhere:
  --url URL        the gateway's GraphQL endpoint (default: $HAPPYHORSE_URL)
  --json           machine-readable output on stdout (one JSON document), no progress bar
  -h, --help       usage
  -v, --version    the package's version

Environment:
  HAPPYHORSE_URL      e.g. http://127.0.0.1:4000/graphql (a bare origin gets /graphql)
  HAPPYHORSE_API_KEY  an API key (hhk_…) or a JWT, sent as Authorization: Bearer

Exit codes: 0 done; 1 the job or the gateway failed (the error code is printed); 2 a usage mistake;
130 interrupted (the job keeps running: happyhorse watch <id>).`;

export const COMMAND_USAGE: Record<string, string> = {
  generate: `Usage: happyhorse generate "<prompt>" [options]

Submits a job, shows a progress bar (plain status lines when stdout is not a terminal), and downloads
the video when it succeeds. Exits 1 with the error code if it ends FAILED (TIMED_OUT, CONTENT_POLICY …)
or CANCELED, or the gateway refuses it.

  -o, --out FILE            where the video goes (default: <id>.mp4 here)
  -d, --duration SECONDS    3 to 15 (default 5; not for --video)
  -r, --resolution RES      720P or 1080P (default 720P)
  -a, --aspect-ratio RATIO  16:9, 9:16, 1:1, 4:3 or 3:4 (default 16:9; not for --image or --video)
      --seed N              0 to 2147483647: the same seed gives a closer rerun
      --timeout SECONDS     30 to 3600: end it FAILED (TIMED_OUT) if not done by then
Media (uploaded first; JPEG, PNG or WEBP images, MP4 or MOV videos):
      --image FILE          image to video: FILE is the first frame (the prompt is optional)
      --reference FILE      reference images to video, 1 to 9 times, named character1, character2 … in the prompt
      --video FILE          edit FILE as the prompt says; with up to 5 --reference images
      --audio generate|keep a video edit's sound: new, or the source's (default generate)`,
  watch: `Usage: happyhorse watch <id> [--out FILE]

Follows a job live until it ends, with the same progress bar as generate; with --out, downloads the
video once it succeeded. Exits 1 with the error code if it ended FAILED or CANCELED.`,
  status: `Usage: happyhorse status <id>

A job's stored state: status, progress, settings, its video's URL or its error.`,
  list: `Usage: happyhorse list [--limit N] [--status STATUS] [--after CURSOR]

Your jobs, newest first.
  --limit N         1 to 100 (default 20)
  --status STATUS   only these: STARTING, PROCESSING, SUCCEEDED, FAILED, CANCELED (repeat or comma-separate)
  --after CURSOR    the next page (the previous page prints its cursor)`,
  cancel: `Usage: happyhorse cancel <id>

Ends an unfinished job as CANCELED (Atlas may still run and bill it); a finished job stays as it is.`,
};
