import { type DragEvent, useEffect, useId, useRef, useState } from 'react';
import { type Upload, UploadRejectedError, useUpload } from '../../packages/client/src/react/index.tsx';
import type { MediaRole } from '../models/descriptor.ts';
import { uploadProblem } from '../models/index.ts';

/** The gateway's cap for one image (src/uploads/service.ts); a video's is the gateway's to say. */
const MAX_IMAGE_BYTES = 10 * 1024 * 1024;

/** A file the visitor picked: its preview, then what its check and upload came to. */
export interface PickedFile {
  key: string;
  file: File;
  preview: string;
  /** Set once checked and uploaded: the READY upload, or why the file cannot be used. */
  upload?: Upload;
  problem?: string;
}

let picked = 0;
export const pickFiles = (files: Iterable<File>): PickedFile[] =>
  Array.from(files, (file) => ({ key: `file-${++picked}`, file, preview: URL.createObjectURL(file) }));

/** The picture's pixel size, from the browser decoding it; undefined if it is not an image it can read. */
async function imageSize(url: string): Promise<{ width: number; height: number } | undefined> {
  const image = new Image();
  image.src = url;
  try {
    await image.decode();
    return { width: image.naturalWidth, height: image.naturalHeight };
  } catch {
    return undefined;
  }
}

/**
 * Why this file cannot serve in this role, checked in the browser before any byte is sent: the
 * model's own rules (src/models), so the message is the one the gateway would give. The gateway
 * checks the real bytes again.
 */
async function checkFile(
  file: File,
  preview: string,
  role: MediaRole,
): Promise<{ problem?: string; size?: { width: number; height: number } }> {
  const accepted: readonly string[] = role.contentTypes;
  if (role.kind === 'video') {
    return accepted.includes(file.type)
      ? {}
      : { problem: `must be an MP4 or MOV video, and this is ${describe(file)}` };
  }
  const size = await imageSize(preview);
  if (!size) return { problem: 'is not an image: its bytes are not a JPEG, PNG or WEBP this browser can read' };
  if (!accepted.includes(file.type))
    return { size, problem: `must be one of ${role.contentTypes.join(', ')}, not ${describe(file)}` };
  if (file.size > MAX_IMAGE_BYTES) return { size, problem: 'must be at most 10 MB' };
  return {
    size,
    problem: uploadProblem(role, { contentType: file.type as MediaRole['contentTypes'][number], ...size }),
  };
}

const describe = (file: File) => (file.type ? `${file.name} (${file.type})` : file.name);

/**
 * Pick or drop files for one media role of the model: each is previewed, checked, uploaded with its
 * own progress bar, and kept in order (move earlier or later, remove) up to the role's maximum.
 */
export function MediaPicker(props: {
  id: string;
  label: string;
  hint: string;
  role: MediaRole;
  files: PickedFile[];
  onChange: (update: (files: PickedFile[]) => PickedFile[]) => void;
  /** The gateway's message for the whole field (`images`), and for each item by its place. */
  error: string | undefined;
  itemErrors: (index: number) => string | undefined;
}) {
  const { id, role, files, onChange } = props;
  const [overflow, setOverflow] = useState<string>();
  const [dragging, setDragging] = useState(false);
  const hintId = useId();

  function add(list: FileList | null) {
    if (!list?.length) return;
    const room = role.max - (role.max === 1 ? 0 : files.length);
    const chosen = Array.from(list).slice(0, room);
    setOverflow(
      list.length > room
        ? `Up to ${role.max} ${role.max === 1 ? 'file' : 'files'}: ${list.length - room} left out`
        : undefined,
    );
    onChange((current) => (role.max === 1 ? pickFiles(chosen) : [...current, ...pickFiles(chosen)]));
  }
  function drop(event: DragEvent) {
    event.preventDefault();
    setDragging(false);
    add(event.dataTransfer.files);
  }
  const move = (from: number, to: number) =>
    onChange((current) => {
      const next = [...current];
      const [item] = next.splice(from, 1);
      next.splice(to, 0, item!);
      return next;
    });
  const error = props.error ?? overflow;

  return (
    // A group holding the file input: dropping is a shortcut to picking, which the keyboard reaches.
    <fieldset
      aria-label={props.label}
      className={`field drop${dragging ? ' dragging' : ''}${error ? ' invalid' : ''}`}
      onDragOver={(event) => {
        event.preventDefault();
        setDragging(true);
      }}
      onDragLeave={() => setDragging(false)}
      onDrop={drop}
      data-testid={`${id}-drop`}
    >
      <label htmlFor={id}>{props.label}</label>
      <p className="hint" id={hintId}>
        {props.hint}
      </p>
      <input
        id={id}
        type="file"
        accept={role.contentTypes.join(',')}
        multiple={role.max > 1}
        aria-describedby={hintId}
        aria-invalid={error ? true : undefined}
        onChange={(event) => {
          add(event.target.files);
          event.target.value = '';
        }}
      />
      {error && (
        <p className="field-error" id={`${id}-error`} role="alert">
          {error}
        </p>
      )}
      {files.length > 0 && (
        <ol className="media-list" aria-label={props.label}>
          {files.map((item, index) => (
            <MediaItem
              key={item.key}
              item={item}
              role={role}
              error={props.itemErrors(index)}
              onSettled={(result) =>
                onChange((current) =>
                  current.map((other) => (other.key === item.key ? { ...other, ...result } : other)),
                )
              }
              onEarlier={index > 0 ? () => move(index, index - 1) : undefined}
              onLater={index < files.length - 1 ? () => move(index, index + 1) : undefined}
              onRemove={() => onChange((current) => current.filter((other) => other.key !== item.key))}
            />
          ))}
        </ol>
      )}
    </fieldset>
  );
}

function MediaItem(props: {
  item: PickedFile;
  role: MediaRole;
  error: string | undefined;
  onSettled: (result: { upload?: Upload; problem?: string }) => void;
  onEarlier: (() => void) | undefined;
  onLater: (() => void) | undefined;
  onRemove: () => void;
}) {
  const { item, role } = props;
  const uploader = useUpload();
  const { upload } = uploader;
  const [size, setSize] = useState<{ width: number; height: number }>();
  // The latest callback, so the one check-and-upload per file below need not rerun when it changes.
  const settled = useRef(props.onSettled);
  settled.current = props.onSettled;

  useEffect(() => {
    let live = true;
    void (async () => {
      const checked = await checkFile(item.file, item.preview, role);
      if (!live) return;
      setSize(checked.size);
      if (checked.problem) return settled.current({ problem: checked.problem });
      const result = await upload(item.file);
      if (!live || result.error?.code === 'ABORTED') return;
      if (result.upload) return settled.current({ upload: result.upload });
      const reason = result.error instanceof UploadRejectedError ? result.error.rejectionReason : undefined;
      settled.current({ problem: reason ?? result.error?.message ?? 'could not be uploaded' });
    })();
    return () => {
      live = false;
    };
  }, [item.file, item.preview, role, upload]);
  useEffect(() => () => URL.revokeObjectURL(item.preview), [item.preview]);

  const problem = props.error ?? item.problem;
  const name = item.file.name;
  return (
    <li className={`media-item${problem ? ' invalid' : ''}`} data-testid="media-item">
      {role.kind === 'image' ? (
        size ? (
          <img src={item.preview} alt={`Preview of ${name}`} />
        ) : (
          <span className="no-preview" />
        )
      ) : (
        <video src={item.preview} muted playsInline aria-label={`Preview of ${name}`} />
      )}
      <div className="media-detail">
        <span className="media-name">{name}</span>
        {size && <span data-testid="pixels">{`${size.width} × ${size.height} px`}</span>}
        {uploader.progress && !item.problem && (
          <progress
            data-testid="upload-progress"
            max={uploader.progress.total}
            value={uploader.progress.loaded}
            aria-label={`Upload of ${name}`}
          />
        )}
        <span data-testid="upload-status">
          {problem ? '' : item.upload ? 'Uploaded' : uploader.uploading ? 'Uploading…' : 'Checking…'}
        </span>
        {problem && (
          <p className="field-error" role="alert">
            {name} {problem}
          </p>
        )}
      </div>
      <div className="media-actions">
        {props.onEarlier && (
          <button type="button" className="small" onClick={props.onEarlier} aria-label={`Move ${name} earlier`}>
            ↑
          </button>
        )}
        {props.onLater && (
          <button type="button" className="small" onClick={props.onLater} aria-label={`Move ${name} later`}>
            ↓
          </button>
        )}
        <button type="button" className="small" onClick={props.onRemove} aria-label={`Remove ${name}`}>
          ✕
        </button>
      </div>
    </li>
  );
}
