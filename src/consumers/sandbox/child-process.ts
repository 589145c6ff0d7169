import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { MediaError, SmqError } from '../../core/errors.ts';
import type { JobResult } from '../../core/types.ts';
import type { ProgressUpdate } from '../handlers/types.ts';
import { deserializeError } from './job-errors.ts';
import type { ChildMessage, ChildTaskSpec, ParentMessage } from './protocol.ts';

/**
 * Runs one task in a fresh child process (node + tsx), so heavy media/inference work never
 * blocks the worker's event loop (and with it BullMQ's lock renewal), and so cancel and timeout
 * can really stop the work: the child leads its own process group, and the whole group
 * (ffmpeg, adapters) is SIGKILLed. One process per job: GPU jobs take seconds, a fork ~0.3 s.
 */
const ENTRY = fileURLToPath(new URL('./child-entry.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');
const STDERR_TAIL = 4096;
/** After the result arrives the child closes its services and exits; past this it is killed. */
const EXIT_GRACE_MS = 5000;

export interface ChildRunOptions {
  spec: ChildTaskSpec;
  /** Aborting kills the process group; the run then rejects with `signal.reason`. */
  signal: AbortSignal;
  onProgress: (update: ProgressUpdate) => void;
  /** Called once the child is forked (tests read the pid to check it is gone). */
  onSpawn?: (pid: number) => void;
}

export function runInChildProcess(opts: ChildRunOptions): Promise<JobResult> {
  return new Promise<JobResult>((resolve, reject) => {
    if (opts.signal.aborted) return reject(opts.signal.reason);
    let child: ChildProcess;
    try {
      child = fork(ENTRY, [], {
        execArgv: ['--import', TSX],
        detached: true,
        stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
        env: process.env,
      });
    } catch (err) {
      return reject(new SmqError('ENGINE', `could not start the task's child process: ${(err as Error).message}`, { retryable: true }));
    }
    let settled = false;
    let stderrTail = '';
    const pid = child.pid;
    if (pid !== undefined) opts.onSpawn?.(pid);

    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      opts.signal.removeEventListener('abort', onAbort);
      fn();
    };
    const onAbort = () => {
      killGroup(pid);
      finish(() => reject(opts.signal.reason));
    };
    opts.signal.addEventListener('abort', onAbort, { once: true });

    child.stderr?.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk);
      stderrTail = (stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL);
    });
    child.on('message', (raw) => {
      const msg = raw as ChildMessage;
      switch (msg.type) {
        case 'ready':
          child.send({ type: 'run', spec: opts.spec } satisfies ParentMessage);
          break;
        case 'progress':
          if (!settled) opts.onProgress(msg.update);
          break;
        case 'result':
          finish(() => resolve(msg.result));
          reapLater(child, pid);
          break;
        case 'error':
          finish(() => reject(deserializeError(msg.error)));
          reapLater(child, pid);
          break;
      }
    });
    child.on('error', (err) => {
      killGroup(pid);
      finish(() => reject(new SmqError('ENGINE', `task child process failed: ${err.message}`, { retryable: true })));
    });
    child.on('exit', (code, signal) => {
      // The child exits after sending its answer; any exit before that is a crash.
      finish(() => reject(crashError(code, signal, stderrTail)));
      // Its helpers (ffmpeg…) may outlive it; the group goes with it.
      killGroup(pid);
    });
  });
}

function crashError(code: number | null, signal: NodeJS.Signals | null, stderrTail: string): Error {
  const tail = lastLines(stderrTail, 5);
  const why =
    signal === 'SIGKILL'
      ? 'child process killed by SIGKILL (out of memory?)'
      : signal
        ? `child process killed by ${signal}`
        : `child process exited with code ${code} before reporting a result`;
  // A crash is worth another attempt (OOM and driver hiccups are transient); attempts bound it.
  return new MediaError(tail ? `${why}; last stderr: ${tail}` : why, { retryable: true });
}

function lastLines(text: string, n: number): string {
  return text.trim().split('\n').slice(-n).join(' | ');
}

function reapLater(child: ChildProcess, pid: number | undefined): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const t = setTimeout(() => killGroup(pid), EXIT_GRACE_MS);
  t.unref();
  child.once('exit', () => clearTimeout(t));
}

/** SIGKILLs the child's whole process group (it was forked detached, so it leads one). */
export function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // ESRCH: already gone.
  }
}
