/**
 * What the user sees while a job runs: on a terminal, one line redrawn in place (a carriage return,
 * the line, erase to its end) with the bar, the status and the elapsed time; elsewhere (a pipe, a CI
 * log) a plain line per status change and per tenth of progress; with --json, nothing until the end.
 */
import type { Prediction } from '../client/index.ts';
import { isFinished } from '../client/status.ts';

export interface Output {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface View {
  /** A line of its own (above the bar on a terminal). */
  note(text: string): void;
  /** A transfer's progress (an upload, the download). */
  transfer(label: string, loaded: number, total: number | undefined): void;
  /** A new state of the job. */
  update(prediction: Prediction): void;
  /** Leave the bar as it is and stop redrawing. */
  close(): void;
}

const BAR_WIDTH = 30;
/** The elapsed time moves on between the gateway's progress ticks (every 2 s), redrawn this often. */
const REDRAW_MS = 250;
/** Progress stays below 1 until the job has really SUCCEEDED, as the gateway's own estimate does. */
const MAX_UNFINISHED = 0.99;

export function bar(fraction: number, width = BAR_WIDTH): string {
  const filled = Math.round(Math.max(0, Math.min(1, fraction)) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

export function percent(fraction: number): string {
  return `${Math.floor(Math.max(0, Math.min(1, fraction)) * 100)}%`.padStart(4);
}

export function duration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  const minutes = Math.floor(seconds / 60);
  return `${minutes}:${String(seconds % 60).padStart(2, '0')}`;
}

export function bytes(count: number): string {
  if (count < 1000) return `${count} B`;
  if (count < 1_000_000) return `${(count / 1000).toFixed(1)} kB`;
  return `${(count / 1_000_000).toFixed(1)} MB`;
}

/** The progress and elapsed time now, moved on from the last state by the time since it arrived. */
function estimate(prediction: Prediction, receivedAt: number, now: number): { fraction: number | null; ms: number } {
  if (isFinished(prediction)) return { fraction: prediction.estimatedProgress ?? null, ms: prediction.elapsedMs };
  const ms = prediction.elapsedMs + (now - receivedAt);
  const progress = prediction.estimatedProgress;
  if (progress == null) return { fraction: null, ms };
  // The gateway's estimate is elapsed / expected, so it grows in proportion to the elapsed time.
  const fraction =
    prediction.elapsedMs > 0 ? Math.min(MAX_UNFINISHED, (progress * ms) / prediction.elapsedMs) : progress;
  return { fraction: Math.max(progress, fraction), ms };
}

/** The status line: `PROCESSING  [#####-----]  45%  0:23`, cut to the terminal's width. */
export function statusLine(prediction: Prediction, receivedAt: number, now: number, columns = 80): string {
  const { fraction, ms } = estimate(prediction, receivedAt, now);
  const progress = fraction === null ? '' : `${bar(fraction)} ${percent(fraction)}  `;
  return `${prediction.status.padEnd(10)}  ${progress}${duration(ms)}`.slice(0, Math.max(10, columns - 1));
}

/** On a terminal: the line redrawn in place, also between states so the elapsed time moves. */
export function terminalView(out: Output): View {
  let current: { prediction: Prediction; receivedAt: number } | undefined;
  let line = '';
  let timer: NodeJS.Timeout | undefined;
  // Cut to the width: a line that wraps can no longer be redrawn by a carriage return.
  const fit = (text: string) => text.slice(0, Math.max(10, (out.columns ?? 80) - 1));
  const draw = (text: string) => {
    line = fit(text);
    out.write(`\r${line}\x1b[K`);
  };
  const redraw = () => current && draw(statusLine(current.prediction, current.receivedAt, Date.now(), out.columns));
  const stop = () => {
    if (timer) clearInterval(timer);
    timer = undefined;
  };
  return {
    note(text) {
      // A finished transfer's line gives way to the note; a running job's bar is drawn again below it.
      out.write(`${line ? '\r\x1b[K' : ''}${text}\n`);
      line = '';
      redraw();
    },
    transfer(label, loaded, total) {
      draw(
        total
          ? `${label}  ${bar(loaded / total)} ${percent(loaded / total)}  ${bytes(loaded)}`
          : `${label}  ${bytes(loaded)}`,
      );
    },
    update(prediction) {
      current = { prediction, receivedAt: Date.now() };
      redraw();
      if (isFinished(prediction)) {
        stop();
        out.write('\n');
        line = '';
        current = undefined;
      } else timer ??= setInterval(redraw, REDRAW_MS).unref();
    },
    close() {
      stop();
      if (line) out.write('\n');
      line = '';
    },
  };
}

/** Not a terminal: a line per status change and per tenth of progress, nothing redrawn. */
export function plainView(out: Output): View {
  let last: { status: string; tenth: number } | undefined;
  return {
    note: (text) => out.write(`${text}\n`),
    transfer() {},
    update(prediction) {
      const tenth = Math.floor((prediction.estimatedProgress ?? 0) * 10);
      if (last && last.status === prediction.status && last.tenth === tenth) return;
      last = { status: prediction.status, tenth };
      const now = Date.now();
      out.write(`${statusLine(prediction, now, now, 200)}\n`);
    },
    close() {},
  };
}

/** --json: stdout is kept for the one JSON document at the end. */
export const silentView: View = { note() {}, transfer() {}, update() {}, close() {} };
