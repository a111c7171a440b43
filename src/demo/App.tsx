import { cloneElement, type FormEvent, type ReactElement, useEffect, useState } from 'react';
import type { GenerateVideoInput, Prediction } from '../../packages/client/src/react/index.tsx';
import { useRecentPredictions, useVideoGeneration } from '../../packages/client/src/react/index.tsx';

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

/** The demo: every piece of it is one of the package's hooks. */
export function App() {
  const generation = useVideoGeneration();
  const recent = useRecentPredictions(8);
  const { refetch } = recent;
  // A finished job changes the list: refresh it once then.
  useEffect(() => {
    if (generation.done) refetch();
  }, [generation.done, refetch]);

  return (
    <main>
      <h1>HappyHorse video</h1>
      <PromptForm
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

function PromptForm(props: {
  busy: boolean;
  errors: Partial<Record<keyof GenerateVideoInput, string>>;
  onSubmit: (input: GenerateVideoInput) => unknown;
}) {
  const [prompt, setPrompt] = useState('A white horse galloping along a beach at sunrise, cinematic');
  const [resolution, setResolution] = useState<GenerateVideoInput['resolution']>('RES_720P');
  const [aspectRatio, setAspectRatio] = useState<GenerateVideoInput['aspectRatio']>('RATIO_16_9');
  const [duration, setDuration] = useState('5');
  const [seed, setSeed] = useState('');

  function submit(event: FormEvent) {
    event.preventDefault();
    // Deliberately no client-side rules: the server's messages are the ones shown.
    props.onSubmit({
      prompt,
      resolution,
      aspectRatio,
      duration: duration === '' ? undefined : Number(duration),
      seed: seed === '' ? undefined : Number(seed),
    });
  }

  return (
    <form onSubmit={submit} noValidate aria-label="Generate a video">
      <Field label="Prompt" name="prompt" error={props.errors.prompt}>
        <textarea id="prompt" rows={3} value={prompt} onChange={(e) => setPrompt(e.target.value)} />
      </Field>
      <div className="row">
        <Field label="Resolution" name="resolution" error={props.errors.resolution}>
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
        <Field label="Aspect ratio" name="aspectRatio" error={props.errors.aspectRatio}>
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
        <Field label="Duration (s)" name="duration" error={props.errors.duration}>
          <input
            id="duration"
            type="number"
            inputMode="numeric"
            value={duration}
            onChange={(e) => setDuration(e.target.value)}
          />
        </Field>
        <Field label="Seed (optional)" name="seed" error={props.errors.seed}>
          <input id="seed" type="number" inputMode="numeric" value={seed} onChange={(e) => setSeed(e.target.value)} />
        </Field>
      </div>
      <button type="submit" disabled={props.busy}>
        {props.busy ? 'Generating…' : 'Generate video'}
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
              <th scope="col">Status</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {predictions.map((p) => (
              <tr key={p.id}>
                <td>{p.videoUrl ? <a href={p.videoUrl}>{p.prompt}</a> : p.prompt}</td>
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
