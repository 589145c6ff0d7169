/**
 * The one place that turns a fluent-ffmpeg command into a promise: it settles when the ffmpeg child
 * process exits, maps failures to MediaError (with ffmpeg's own stderr tail, which says what went
 * wrong far better than an exit code), and kills the child when the caller's AbortSignal fires.
 */
import type { Readable } from 'node:stream';
import path from 'node:path';
import ffmpeg from 'fluent-ffmpeg';
import { CancelledError, MediaError } from '../../core/errors.ts';

export type FfmpegCommand = ffmpeg.FfmpegCommand;

/**
 * A fresh command on its first input. `-v error` keeps stderr down to real errors, so the tail we
 * report is the cause; fluent-ffmpeg has no global-option slot, so it rides on the first input.
 */
export function newCommand(input: string | Readable): FfmpegCommand {
  const cmd = ffmpeg().input(input);
  cmd.inputOptions(['-hide_banner', '-v', 'error']);
  return cmd;
}

export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new CancelledError(`${what}: aborted before it started`);
}

export interface RunningCommand {
  /** Settles when ffmpeg has exited: resolves on exit 0, rejects otherwise. */
  done: Promise<void>;
  /** Kill the child now (idempotent); `done` then rejects with CancelledError. */
  kill(reason?: string): void;
}

/**
 * Start `cmd` (already given its output) and track it. The 'error' listener is attached before
 * `run()` because an EventEmitter without one would throw on ffmpeg's failure.
 */
export function startCommand(cmd: FfmpegCommand, what: string, signal?: AbortSignal): RunningCommand {
  let killedFor: string | null = null;
  const kill = (reason = 'killed') => {
    if (killedFor !== null) return;
    killedFor = reason;
    try {
      cmd.kill('SIGKILL');
    } catch {
      // The process may not be spawned yet or already be gone; `done` settles either way.
    }
  };
  const onAbort = () => kill('aborted');
  const done = new Promise<void>((resolve, reject) => {
    cmd.once('end', () => {
      signal?.removeEventListener('abort', onAbort);
      if (killedFor !== null) reject(new CancelledError(`${what}: ${killedFor}`));
      else resolve();
    });
    cmd.once('error', (err: Error, _stdout: string | null, stderr: string | null) => {
      signal?.removeEventListener('abort', onAbort);
      if (killedFor !== null) {
        reject(new CancelledError(`${what}: ${killedFor}`));
        return;
      }
      const tail = stderrTail(stderr);
      const msg = err.message.includes(tail) || tail === '' ? err.message : `${err.message}: ${tail}`;
      reject(new MediaError(`${what} failed: ${msg}`, { cause: err }));
    });
  });
  // Nobody may be awaiting `done` yet when ffmpeg fails early; the rejection is still delivered
  // to whoever awaits it later.
  done.catch(() => {});
  // fluent-ffmpeg spawns asynchronously (after its capability checks), so a kill that came first
  // is applied as soon as the child exists.
  cmd.once('start', () => {
    if (killedFor !== null) cmd.kill('SIGKILL');
  });
  signal?.addEventListener('abort', onAbort, { once: true });
  cmd.run();
  if (signal?.aborted) kill('aborted');
  return { done, kill };
}

export function runCommand(cmd: FfmpegCommand, what: string, signal?: AbortSignal): Promise<void> {
  throwIfAborted(signal, what);
  return startCommand(cmd, what, signal).done;
}

function stderrTail(stderr: string | null | undefined, lines = 8): string {
  if (!stderr) return '';
  return stderr.trim().split('\n').slice(-lines).join(' | ');
}

/** `+faststart` (moov first, so players start before the download ends) — only mp4-family muxers take it. */
export function faststartFor(file: string): string[] {
  return ['.mp4', '.mov', '.m4v'].includes(path.extname(file).toLowerCase()) ? ['-movflags', '+faststart'] : [];
}
