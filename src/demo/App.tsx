import { cloneElement, type FormEvent, type ReactElement, useEffect, useState } from 'react';
import type {
  FieldErrors,
  GenerateVideoInput,
  Prediction,
  VideoEditInput,
  VideoJobInput,
} from '../../packages/client/src/react/index.tsx';
import { useRecentPredictions, useVideoGeneration } from '../../packages/client/src/react/index.tsx';
import { defaultModelOf } from '../models/index.ts';
import { MediaPicker, type PickedFile } from './media.tsx';

const RESOLUTIONS = [
  ['RES_720P', '720p'],
  ['RES_1080P', '1080p'],
] as const;
const ASPECT_RATIOS = [
  ['RATIO_16_9', '16:9 landscape'],
  ['RATIO_9_16', '9:16 portrait'],
  ['RATIO_1_1', '1:1 square'],
  ['RATIO_4_3', '4:3'],
  ['RATIO_3_4', '3:4'],
] as const;

const MODES = [
  ['TEXT_TO_VIDEO', 'Text to video'],
  ['IMAGE_TO_VIDEO', 'Image to video'],
  ['REFERENCE_TO_VIDEO', 'Reference images to video'],
  ['VIDEO_EDIT', 'Edit a video'],
] as const;
type DemoMode = (typeof MODES)[number][0];

const AUDIO = [
  ['GENERATE', 'Generate new sound'],
  ['KEEP_ORIGINAL', 'Keep the original sound'],
] as const;

/** The job the page follows, from its URL (`?job=<id>`): a reload, or a shared link, shows it again. */
function jobInUrl(): string | undefined {
  return new URLSearchParams(window.location.search).get('job') ?? undefined;
}

/** Replaced, not pushed: Back leaves the page rather than stepping through its jobs. */
function keepJobInUrl(id: string | undefined) {
  const url = new URL(window.location.href);
  if ((url.searchParams.get('job') ?? undefined) === id) return;
  if (id) url.searchParams.set('job', id);
  else url.searchParams.delete('job');
  window.history.replaceState(window.history.state, '', url);
}

/** The demo: every piece of it is one of the package's hooks. */
export function App() {
  const [jobOnLoad] = useState(jobInUrl);
  const generation = useVideoGeneration({ id: jobOnLoad });
  // Live: a job started or finished in another tab shows here too.
  const recent = useRecentPredictions(8);
  const [mode, setMode] = useState<DemoMode>('TEXT_TO_VIDEO');
  useEffect(() => keepJobInUrl(generation.id), [generation.id]);

  return (
    <main>
      <h1>HappyHorse video</h1>
      <fieldset className="modes">
        <legend>Mode</legend>
        {MODES.map(([value, label]) => (
          <label key={value} className="mode">
            <input
              type="radio"
              name="mode"
              value={value}
              checked={mode === value}
              onChange={() => {
                setMode(value);
                generation.reset();
              }}
            />
            {label}
          </label>
        ))}
      </fieldset>
      {/* A form per mode (keyed), so switching starts from a clean one. */}
      <JobForm
        key={mode}
        mode={mode}
        busy={generation.submitting || generation.running}
        errors={generation.fieldErrors}
        onSubmit={generation.submit}
      />
      {generation.error && !Object.keys(generation.fieldErrors).length && (
        <p role="alert" className="error">
          {generation.error.message} <code>{generation.error.code}</code>
        </p>
      )}
      {generation.prediction && (
        <Progress
          prediction={generation.prediction}
          elapsedMs={generation.elapsedMs}
          progress={generation.progress}
          eta={generation.estimatedCompletionAt}
          onCancel={generation.running ? () => void generation.cancel() : undefined}
        />
      )}
      <Recent predictions={recent.predictions} />
    </main>
  );
}

const DEFAULT_PROMPTS: Record<DemoMode, string> = {
  TEXT_TO_VIDEO: 'A white horse galloping along a beach at sunrise, cinematic',
  IMAGE_TO_VIDEO: '',
  REFERENCE_TO_VIDEO: 'character1 rides along a beach at sunrise, cinematic',
  VIDEO_EDIT: 'Make it snow',
};

const media = (mode: Exclude<DemoMode, 'TEXT_TO_VIDEO'>) => defaultModelOf(mode).media;
const IMAGE_ROLE = media('IMAGE_TO_VIDEO')[0]!;
const REFERENCE_ROLE = media('REFERENCE_TO_VIDEO')[0]!;
const EDIT_VIDEO_ROLE = media('VIDEO_EDIT').find((role) => role.role === 'video')!;
const EDIT_REFERENCE_ROLE = media('VIDEO_EDIT').find((role) => role.role === 'reference')!;

/** Each item's gateway message by its place in a list field (`images.2.uploadId`). */
const itemErrors = (errors: FieldErrors, field: string) => (index: number) =>
  errors[`${field}.${index}.uploadId`] ?? errors[`${field}.${index}.url`] ?? errors[`${field}.${index}`];

function JobForm(props: {
  mode: DemoMode;
  busy: boolean;
  errors: FieldErrors;
  onSubmit: (input: VideoJobInput) => unknown;
}) {
  const { mode, errors } = props;
  const [prompt, setPrompt] = useState(DEFAULT_PROMPTS[mode]);
  const [resolution, setResolution] = useState<GenerateVideoInput['resolution']>('RES_720P');
  const [aspectRatio, setAspectRatio] = useState<GenerateVideoInput['aspectRatio']>('RATIO_16_9');
  const [duration, setDuration] = useState('5');
  const [seed, setSeed] = useState('');
  const [audio, setAudio] = useState<VideoEditInput['audio']>('GENERATE');
  /** The image, the reference images or the edit's reference images, in order. */
  const [images, setImages] = useState<PickedFile[]>([]);
  const [video, setVideo] = useState<PickedFile[]>([]);
  const [mediaError, setMediaError] = useState<string>();

  const picked = [...images, ...video];
  const uploading = picked.some((item) => !item.upload && !item.problem);

  function submit(event: FormEvent) {
    event.preventDefault();
    // The files were checked (and uploaded) as they were picked: a refused one holds the job back.
    const refused = picked.filter((item) => item.problem);
    if (refused.length)
      return setMediaError(`Remove or replace ${refused.map((item) => item.file.name).join(', ')} first.`);
    const required =
      mode === 'IMAGE_TO_VIDEO' || mode === 'REFERENCE_TO_VIDEO' ? images : mode === 'VIDEO_EDIT' ? video : [];
    if (mode !== 'TEXT_TO_VIDEO' && required.length === 0)
      return setMediaError(mode === 'VIDEO_EDIT' ? 'Pick a video to edit first.' : 'Pick an image first.');
    setMediaError(undefined);
    const uploads = images.map((item) => item.upload!);
    const common = {
      resolution,
      seed: seed === '' ? undefined : Number(seed),
    };
    const seconds = duration === '' ? undefined : Number(duration);
    // Deliberately no client-side rules beyond the files': the server's messages are the ones shown.
    switch (mode) {
      case 'TEXT_TO_VIDEO':
        return props.onSubmit({ prompt, aspectRatio, duration: seconds, ...common });
      case 'IMAGE_TO_VIDEO':
        return props.onSubmit({ mode, image: uploads[0]!, prompt: prompt || undefined, duration: seconds, ...common });
      case 'REFERENCE_TO_VIDEO':
        return props.onSubmit({ mode, images: uploads, prompt, aspectRatio, duration: seconds, ...common });
      case 'VIDEO_EDIT':
        return props.onSubmit({
          mode,
          video: video[0]!.upload!,
          referenceImages: uploads,
          prompt,
          audio,
          ...common,
        });
    }
  }

  return (
    <form onSubmit={submit} noValidate aria-label="Generate a video">
      {mode === 'IMAGE_TO_VIDEO' && (
        <MediaPicker
          id="image"
          label="First frame"
          hint="JPEG, PNG or WEBP, at least 300 px on each side, from 1:2.5 to 2.5:1. Drop it here or pick it."
          role={IMAGE_ROLE}
          files={images}
          onChange={setImages}
          error={errors['image.uploadId'] ?? errors.image}
          itemErrors={() => undefined}
        />
      )}
      {mode === 'REFERENCE_TO_VIDEO' && (
        <MediaPicker
          id="images"
          label="Reference images"
          hint="Up to 9, in order (character1, character2 … in the prompt); the shorter side at least 400 px."
          role={REFERENCE_ROLE}
          files={images}
          onChange={setImages}
          error={errors.images}
          itemErrors={itemErrors(errors, 'images')}
        />
      )}
      {mode === 'VIDEO_EDIT' && (
        <>
          <MediaPicker
            id="video"
            label="Video to edit"
            hint="MP4 or MOV. Drop it here or pick it."
            role={EDIT_VIDEO_ROLE}
            files={video}
            onChange={setVideo}
            error={errors['video.uploadId'] ?? errors.video}
            itemErrors={() => undefined}
          />
          <MediaPicker
            id="referenceImages"
            label="Reference images (optional)"
            hint="Up to 5 images to draw on, in order."
            role={EDIT_REFERENCE_ROLE}
            files={images}
            onChange={setImages}
            error={errors.referenceImages}
            itemErrors={itemErrors(errors, 'referenceImages')}
          />
        </>
      )}
      {mediaError && (
        <p className="error" role="alert" data-testid="media-error">
          {mediaError}
        </p>
      )}
      <Field label={mode === 'IMAGE_TO_VIDEO' ? 'Prompt (optional)' : 'Prompt'} name="prompt" error={errors.prompt}>
        <textarea id="prompt" rows={3} value={prompt} onChange={(e) => setPrompt(e.target.value)} />
      </Field>
      <div className="row">
        <Field label="Resolution" name="resolution" error={errors.resolution}>
          <select
            id="resolution"
            value={resolution ?? ''}
            onChange={(e) => setResolution(e.target.value as typeof resolution)}
          >
            {RESOLUTIONS.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </Field>
        {(mode === 'TEXT_TO_VIDEO' || mode === 'REFERENCE_TO_VIDEO') && (
          <Field label="Aspect ratio" name="aspectRatio" error={errors.aspectRatio}>
            <select
              id="aspectRatio"
              value={aspectRatio ?? ''}
              onChange={(e) => setAspectRatio(e.target.value as typeof aspectRatio)}
            >
              {ASPECT_RATIOS.map(([value, label]) => (
                <option key={value} value={value}>
                  {label}
                </option>
              ))}
            </select>
          </Field>
        )}
        {mode === 'VIDEO_EDIT' ? (
          <Field label="Sound" name="audio" error={errors.audio}>
            <select id="audio" value={audio ?? ''} onChange={(e) => setAudio(e.target.value as typeof audio)}>
              {AUDIO.map(([value, label]) => (
                <option key={value} value={value}>
                  {label}
                </option>
              ))}
            </select>
          </Field>
        ) : (
          <Field label="Duration (s)" name="duration" error={errors.duration}>
            <input
              id="duration"
              type="number"
              inputMode="numeric"
              value={duration}
              onChange={(e) => setDuration(e.target.value)}
            />
          </Field>
        )}
        <Field label="Seed (optional)" name="seed" error={errors.seed}>
          <input id="seed" type="number" inputMode="numeric" value={seed} onChange={(e) => setSeed(e.target.value)} />
        </Field>
      </div>
      <button type="submit" disabled={props.busy || uploading}>
        {uploading ? 'Uploading…' : props.busy ? 'Generating…' : 'Generate video'}
      </button>
    </form>
  );
}

function Field(props: {
  label: string;
  name: string;
  error: string | undefined;
  children: ReactElement<Record<string, unknown>>;
}) {
  const described = props.error ? { 'aria-invalid': true, 'aria-describedby': `${props.name}-error` } : {};
  return (
    <div className={`field${props.error ? ' invalid' : ''}`}>
      <label htmlFor={props.name}>{props.label}</label>
      {cloneElement(props.children, described)}
      {props.error && (
        <p className="field-error" id={`${props.name}-error`} role="alert">
          {props.error}
        </p>
      )}
    </div>
  );
}

function Progress(props: {
  prediction: Prediction;
  elapsedMs: number;
  progress: number | undefined;
  eta: Date | undefined;
  onCancel: (() => void) | undefined;
}) {
  const { prediction, elapsedMs, progress, eta, onCancel } = props;
  const secondsLeft = eta ? Math.max(0, Math.round((eta.getTime() - Date.now()) / 1000)) : undefined;
  return (
    <section aria-labelledby="progress-title" className="progress">
      <h2 id="progress-title">Your video</h2>
      <p aria-live="polite">
        <span className={`status status-${prediction.status.toLowerCase()}`} data-testid="status">
          {prediction.status}
        </span>{' '}
        <span data-testid="elapsed">{(elapsedMs / 1000).toFixed(1)} s</span>
        {secondsLeft !== undefined && <span data-testid="eta"> · about {secondsLeft} s left (estimate)</span>}
      </p>
      {progress !== undefined && (
        <progress data-testid="progress" max={1} value={progress} aria-label="Estimated progress">
          {Math.round(progress * 100)}%
        </progress>
      )}
      {onCancel && (
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      )}
      {prediction.status === 'SUCCEEDED' && prediction.videoUrl && (
        <video
          src={prediction.videoUrl}
          controls
          autoPlay
          muted
          loop
          playsInline
          width={640}
          aria-label={prediction.prompt ?? undefined}
        />
      )}
      {prediction.error && (
        <p className="error">
          {prediction.error} {prediction.errorCode && <code>{prediction.errorCode}</code>}
        </p>
      )}
    </section>
  );
}

function Recent({ predictions }: { predictions: Prediction[] }) {
  return (
    <section aria-labelledby="recent-title">
      <h2 id="recent-title">Recent</h2>
      {predictions.length === 0 ? (
        <p>Nothing yet.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Prompt</th>
              <th scope="col">Mode</th>
              <th scope="col">Status</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {predictions.map((p) => (
              <tr key={p.id}>
                <td>{p.videoUrl ? <a href={p.videoUrl}>{p.prompt ?? 'Untitled'}</a> : p.prompt}</td>
                <td>{MODES.find(([value]) => value === p.mode)?.[1] ?? p.mode}</td>
                <td>
                  <span className={`status status-${p.status.toLowerCase()}`}>{p.status}</span>
                </td>
                <td>{new Date(p.createdAt).toLocaleTimeString()}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
