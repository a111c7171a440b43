/**
 * The happyhorse command: each subcommand is a few calls of the package's own VideoClient (generate,
 * watchPrediction, uploadMedia …), so the CLI speaks to the gateway exactly as a TypeScript caller does.
 */
import { openAsBlob, readFileSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { basename, relative, resolve } from 'node:path';
import { VideoClientError } from '../client/errors.ts';
import type { MediaReference, Prediction, VideoClient, VideoJobInput } from '../client/index.ts';
import { isFinished } from '../client/status.ts';
import { COMMAND_USAGE, type Command, type JobSpec, parseCommand, USAGE, UsageError } from './args.ts';
import { bytes, duration, type Output, percent, plainView, silentView, terminalView, type View } from './view.ts';

export interface Io {
  stdout: Output;
  stderr: Output;
  env: NodeJS.ProcessEnv;
  /** Aborted on Ctrl-C: following stops, the job keeps running. */
  signal: AbortSignal;
}

/** Ctrl-C while following: the job runs on at the gateway. */
class Interrupted extends Error {}

const RESOLUTION = (value: string) => value.replace(/^RES_/, '');
const RATIO = (value: string | null) => value?.replace(/^RATIO_/, '').replace('_', ':') ?? '';

/** Run one command line; resolves with the exit code. */
export async function main(argv: string[], io: Io): Promise<number> {
  let command: Command;
  try {
    command = parseCommand(argv, io.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(`happyhorse: ${error.message}\nRun happyhorse --help for usage.\n`);
    return 2;
  }
  if (command.kind === 'help') {
    const text = command.topic === undefined ? USAGE : COMMAND_USAGE[command.topic];
    if (text === undefined) {
      io.stderr.write(`happyhorse: no help for "${command.topic}"\n\n${USAGE}\n`);
      return 2;
    }
    io.stdout.write(`${text}\n`);
    return 0;
  }
  if (command.kind === 'version') {
    const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    io.stdout.write(`${manifest.version}\n`);
    return 0;
  }

  // Loaded only now: the client brings graphql, two thirds of the start-up of a command that only prints
  // its usage or a refusal.
  const { createVideoClient } = await import('../client/index.ts');
  const client = createVideoClient({ url: command.url, token: command.token });
  const view: View = command.json ? silentView : io.stdout.isTTY ? terminalView(io.stdout) : plainView(io.stdout);
  let prediction: Prediction | null = null;
  try {
    switch (command.kind) {
      case 'generate': {
        const job = await jobInput(client, command.job, view, io.signal);
        prediction = await client.generate(job);
        view.note(`Submitted ${prediction.id} (${describe(prediction)})`);
        prediction = await follow(client, prediction, view, io.signal);
        const file = await finish(prediction, command.out ?? resolve(`${prediction.id}.mp4`), view, io.signal);
        if (command.json) io.stdout.write(`${JSON.stringify({ prediction, file })}\n`);
        return 0;
      }
      case 'watch': {
        prediction = await follow(client, null, view, io.signal, command.id);
        const file = await finish(prediction, command.out, view, io.signal);
        if (command.json) io.stdout.write(`${JSON.stringify({ prediction, ...(file ? { file } : {}) })}\n`);
        return 0;
      }
      case 'status': {
        prediction = await client.prediction(command.id);
        if (!prediction) throw notFound(command.id);
        io.stdout.write(command.json ? `${JSON.stringify({ prediction })}\n` : details(prediction));
        return 0;
      }
      case 'cancel': {
        prediction = await client.cancelPrediction(command.id);
        if (command.json) io.stdout.write(`${JSON.stringify({ prediction })}\n`);
        else if (prediction.status === 'CANCELED') io.stdout.write(`${prediction.id}  CANCELED\n`);
        else io.stdout.write(`${prediction.id}  had already ended: ${prediction.status}\n`);
        return 0;
      }
      case 'list': {
        const page = await client.predictions({
          ...(command.first === undefined ? {} : { first: command.first }),
          ...(command.after === undefined ? {} : { after: command.after }),
          ...(command.status.length ? { status: command.status } : {}),
        });
        if (command.json) {
          const predictions = page.edges.map((edge) => edge.node);
          io.stdout.write(`${JSON.stringify({ predictions, pageInfo: page.pageInfo })}\n`);
        } else io.stdout.write(table(page.edges, io.stdout));
        if (!command.json && page.pageInfo.hasNextPage)
          io.stdout.write(`More: happyhorse list --after ${page.pageInfo.endCursor}\n`);
        return 0;
      }
    }
  } catch (error) {
    view.close();
    if (error instanceof Interrupted) {
      io.stderr.write(
        prediction
          ? `Stopped following ${prediction.id}; it keeps running. Follow it again: happyhorse watch ${prediction.id}\n`
          : 'Stopped.\n',
      );
      return 130;
    }
    if (!(error instanceof VideoClientError)) throw error;
    const failed = error.prediction ?? prediction;
    if (command.json)
      io.stdout.write(
        `${JSON.stringify({ error: { code: error.code, message: error.message }, ...(failed ? { prediction: failed } : {}) })}\n`,
      );
    io.stderr.write(`Error ${error.code}: ${error.message}${failed ? ` (prediction ${failed.id})` : ''}\n`);
    return 1;
  } finally {
    client.dispose();
  }
}

const notFound = (id: string) =>
  new VideoClientError(`No prediction ${id} (or it is not yours)`, { code: 'NOT_FOUND' });

/** The mode and settings, for the line that says a job was submitted. */
const describe = (prediction: Prediction) => `${prediction.mode}, ${settings(prediction)}`;

function settings(prediction: Prediction): string {
  return [
    RESOLUTION(prediction.resolution),
    RATIO(prediction.aspectRatio),
    prediction.duration ? `${prediction.duration} s` : '',
    prediction.seed === null ? '' : `seed ${prediction.seed}`,
  ]
    .filter(Boolean)
    .join(', ');
}

/** Upload the job's files (each with its own progress), then the input for the client's generate. */
async function jobInput(client: VideoClient, spec: JobSpec, view: View, signal: AbortSignal): Promise<VideoJobInput> {
  const upload = async (path: string): Promise<MediaReference> => {
    const name = basename(path);
    const uploaded = await client.uploadMedia(await openAsBlob(path), {
      filename: name,
      signal,
      onProgress: ({ loaded, total }) => view.transfer(`Uploading ${name}`, loaded, total),
    });
    view.note(`Uploaded ${name} (${bytes(uploaded.byteSize)})`);
    return uploaded;
  };
  const common = {
    ...(spec.prompt === undefined ? {} : { prompt: spec.prompt }),
    ...(spec.resolution === undefined ? {} : { resolution: spec.resolution }),
    ...(spec.seed === undefined ? {} : { seed: spec.seed }),
    ...(spec.timeoutSeconds === undefined ? {} : { timeoutSeconds: spec.timeoutSeconds }),
  };
  const length = spec.duration === undefined ? {} : { duration: spec.duration };
  const ratio = spec.aspectRatio === undefined ? {} : { aspectRatio: spec.aspectRatio };
  const references: MediaReference[] = [];
  switch (spec.mode) {
    case 'TEXT_TO_VIDEO':
      return { ...common, ...length, ...ratio, prompt: spec.prompt! };
    case 'IMAGE_TO_VIDEO':
      return { ...common, ...length, mode: spec.mode, image: await upload(spec.image!) };
    case 'REFERENCE_TO_VIDEO':
      // One after another, in order: the prompt names them character1, character2 … by position.
      for (const path of spec.references) references.push(await upload(path));
      return { ...common, ...length, ...ratio, mode: spec.mode, prompt: spec.prompt!, images: references };
    case 'VIDEO_EDIT': {
      const video = await upload(spec.video!);
      for (const path of spec.references) references.push(await upload(path));
      return {
        ...common,
        mode: spec.mode,
        prompt: spec.prompt!,
        video,
        ...(references.length ? { referenceImages: references } : {}),
        ...(spec.audio === undefined ? {} : { audio: spec.audio }),
      };
    }
  }
}

/**
 * Follow a job until it ends, over the client's live stream with progress ticks. From a submitted
 * prediction (generate) or from an id alone (watch: the stream's first event is the current state).
 */
async function follow(
  client: VideoClient,
  first: Prediction | null,
  view: View,
  signal: AbortSignal,
  id = first?.id ?? '',
): Promise<Prediction> {
  let latest = first;
  if (latest) view.update(latest);
  if (latest && isFinished(latest)) return latest;
  for await (const prediction of client.watchPrediction(id, { progress: true, signal })) {
    latest = prediction;
    view.update(prediction);
  }
  if (signal.aborted) throw new Interrupted();
  // The stream ends only after a final state; without one, the gateway went away mid-way.
  if (!latest || !isFinished(latest))
    throw new VideoClientError('The update stream ended before the job did', { code: 'NETWORK_ERROR' });
  return latest;
}

/** A SUCCEEDED job's video saved to `out` (if given); anything else as the error its code names. */
async function finish(
  prediction: Prediction,
  out: string | undefined,
  view: View,
  signal: AbortSignal,
): Promise<string | undefined> {
  if (prediction.status !== 'SUCCEEDED')
    throw new VideoClientError(prediction.error ?? `The prediction ended ${prediction.status}`, {
      code: prediction.errorCode ?? prediction.status,
      prediction,
    });
  if (!out) {
    view.note(`Video: ${prediction.videoUrl ?? prediction.outputs[0] ?? '(none)'}`);
    return undefined;
  }
  const url = prediction.videoUrl ?? prediction.outputs[0];
  if (!url) throw new VideoClientError('The job succeeded without a video', { code: 'NO_VIDEO', prediction });
  const size = await download(url, out, view, signal);
  view.note(`Saved ${relative(process.cwd(), out) || out} (${bytes(size)})`);
  return out;
}

/**
 * The video's bytes into `out`, through a `.part` file renamed at the end, so an interrupted download
 * never leaves a file that looks whole. The URL is the gateway's signed link (or the upstream's): it
 * is its own credential, so no token is sent with it.
 */
async function download(url: string, out: string, view: View, signal: AbortSignal): Promise<number> {
  let response: Response;
  try {
    response = await fetch(url, { signal });
  } catch (cause) {
    if (signal.aborted) throw new Interrupted();
    throw new VideoClientError(`The video could not be downloaded: ${(cause as Error).message}`, {
      code: 'DOWNLOAD_FAILED',
      cause,
    });
  }
  if (!response.ok || !response.body)
    throw new VideoClientError(`The video could not be downloaded: HTTP ${response.status} from ${url}`, {
      code: 'DOWNLOAD_FAILED',
    });
  const total = Number(response.headers.get('content-length')) || undefined;
  const part = `${out}.part`;
  const file = await open(part, 'w');
  let loaded = 0;
  try {
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      await file.write(value);
      loaded += value.byteLength;
      view.transfer(`Downloading ${basename(out)}`, loaded, total);
    }
    await file.close();
    await rename(part, out);
    return loaded;
  } catch (error) {
    await file.close().catch(() => {});
    await rm(part, { force: true });
    if (signal.aborted) throw new Interrupted();
    if (error instanceof VideoClientError) throw error;
    throw new VideoClientError(`The video download broke off: ${(error as Error).message}`, {
      code: 'DOWNLOAD_FAILED',
      cause: error,
    });
  }
}

/** `status`: one field a line, the ones that are set. */
function details(p: Prediction): string {
  const rows: [string, string | null | undefined][] = [
    ['id', p.id],
    ['status', p.status],
    ['mode', p.mode],
    ['prompt', p.prompt],
    ['settings', settings(p)],
    [
      'progress',
      `${p.estimatedProgress == null ? '' : `${percent(p.estimatedProgress).trim()}, `}${duration(p.elapsedMs)} elapsed`,
    ],
    ['video', p.videoUrl],
    ['error', p.errorCode ? `${p.errorCode}: ${p.error ?? ''}` : p.error],
    ['price', p.priceUsd == null ? null : `$${p.priceUsd}`],
    ['created', p.createdAt as string | null],
    ['completed', p.completedAt as string | null],
  ];
  return rows
    .filter(([, value]) => value != null && value !== '')
    .map(([name, value]) => `${name.padEnd(10)}${value}\n`)
    .join('');
}

/** `list`: one job a line, the prompt cut to fit the terminal. */
function table(edges: { node: Prediction }[], out: Output): string {
  if (!edges.length) return 'No predictions.\n';
  const rows = edges.map(({ node }) => [
    node.id,
    node.status,
    node.mode,
    String(node.createdAt).slice(0, 19).replace('T', ' '),
    node.prompt ?? '',
  ]);
  const head = ['ID', 'STATUS', 'MODE', 'CREATED', 'PROMPT'];
  const widths = head.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const width = out.isTTY ? (out.columns ?? 120) - 1 : Number.POSITIVE_INFINITY;
  return [head, ...rows]
    .map((row) =>
      row
        .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!)))
        .join('  ')
        .slice(0, width),
    )
    .map((line) => `${line.trimEnd()}\n`)
    .join('');
}
