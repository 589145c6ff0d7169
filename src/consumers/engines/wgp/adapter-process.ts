import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { CancelledError, EngineError, TaskTimeoutError } from '../../../core/errors.ts';

/**
 * One long-lived adapter process (the model stays loaded between requests) spoken to in JSON
 * lines on stdin/stdout. Requests are serialised: the adapter runs one generation at a time.
 * Abort or timeout kills the process — the only way to really stop a GPU job mid-flight — and the
 * next request starts a fresh one. Lines on stdout that are not JSON are ignored (libraries print).
 */
export interface AdapterMessage {
  id?: string;
  type?: string;
  [key: string]: unknown;
}

interface Pending {
  id: string;
  resolve(m: AdapterMessage): void;
  reject(e: unknown): void;
  onMessage?(m: AdapterMessage): void;
}

export interface AdapterProcessOptions {
  argv: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** How long the hello handshake may take. @defaultValue 60000 */
  helloTimeoutMs?: number;
  /** Grace between SIGTERM and SIGKILL. @defaultValue 3000 */
  killGraceMs?: number;
}

export class AdapterProcess {
  private child: ChildProcess | null = null;
  private pending: Pending | null = null;
  private stderrTail: string[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private seq = 0;
  version: string | null = null;

  constructor(private readonly opts: AdapterProcessOptions) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /**
   * Sends one request and resolves with its final `result` message; `error` messages reject.
   * Every other message for the request (progress) goes to `onMessage`.
   */
  request(
    op: string,
    params: Record<string, unknown>,
    ctl: { signal?: AbortSignal; timeoutMs?: number; onMessage?: (m: AdapterMessage) => void },
  ): Promise<AdapterMessage> {
    const run = this.queue.then(() => this.runOne(op, params, ctl));
    this.queue = run.catch(() => {});
    return run;
  }

  private async runOne(
    op: string,
    params: Record<string, unknown>,
    ctl: { signal?: AbortSignal; timeoutMs?: number; onMessage?: (m: AdapterMessage) => void },
  ): Promise<AdapterMessage> {
    if (ctl.signal?.aborted) throw new CancelledError(`wgp ${op}: aborted before it started`);
    await this.ensureStarted();
    const id = `${op}-${process.pid}-${++this.seq}`;
    return this.exchange({ id, op, params }, ctl);
  }

  private exchange(
    msg: Record<string, unknown> & { id: string },
    ctl: { signal?: AbortSignal; timeoutMs?: number; onMessage?: (m: AdapterMessage) => void },
  ): Promise<AdapterMessage> {
    return new Promise<AdapterMessage>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const cleanup = () => {
        if (timer) clearTimeout(timer);
        ctl.signal?.removeEventListener('abort', onAbort);
        this.pending = null;
      };
      const onAbort = () => {
        cleanup();
        this.kill();
        reject(new CancelledError(`wgp ${String(msg.op)}: aborted; adapter process killed`));
      };
      if (ctl.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          cleanup();
          this.kill();
          reject(new TaskTimeoutError(`wgp ${String(msg.op)}: no result within ${ctl.timeoutMs} ms; adapter process killed`));
        }, ctl.timeoutMs);
      }
      ctl.signal?.addEventListener('abort', onAbort, { once: true });
      this.pending = {
        id: msg.id,
        resolve: (m) => {
          cleanup();
          resolve(m);
        },
        reject: (e) => {
          cleanup();
          reject(e);
        },
        onMessage: ctl.onMessage,
      };
      this.child!.stdin!.write(`${JSON.stringify(msg)}\n`, (err) => {
        if (err && this.pending?.id === msg.id) this.pending.reject(new EngineError(`wgp adapter: could not send the request: ${err.message}`, { retryable: true }));
      });
    });
  }

  private async ensureStarted(): Promise<void> {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) return;
    const [cmd, ...args] = this.opts.argv;
    const child = spawn(cmd, args, { cwd: this.opts.cwd, env: this.opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    this.stderrTail = [];
    child.stdin!.on('error', () => {
      // EPIPE when the adapter died; the exit handler reports it.
    });
    createInterface({ input: child.stderr! }).on('line', (line) => {
      this.stderrTail.push(line);
      if (this.stderrTail.length > 20) this.stderrTail.shift();
    });
    createInterface({ input: child.stdout! }).on('line', (line) => this.onLine(line));
    child.once('error', (err) => {
      // Spawn failures (ENOENT, EACCES) emit 'error' and no 'exit': fail the handshake here.
      if (this.child === child) this.child = null;
      this.pending?.reject(
        new EngineError(`wgp adapter command ${JSON.stringify(this.opts.argv.join(' '))} could not start: ${err.message}; set SMQ_WGP_COMMAND (or --wgp-command) to a working command`),
      );
    });
    child.once('exit', (code, signal) => {
      if (this.child === child) this.child = null;
      const p = this.pending;
      if (p) {
        const tail = this.stderrTail.slice(-5).join(' | ');
        p.reject(
          new EngineError(`wgp adapter exited (${signal ? `signal ${signal}` : `code ${code}`}) during request ${p.id}${tail ? `; stderr: ${tail}` : ''}`, { retryable: true }),
        );
      }
    });
    const hello = await this.exchange({ id: `hello-${process.pid}-${++this.seq}`, op: 'hello' }, { timeoutMs: this.opts.helloTimeoutMs ?? 60_000 });
    this.version = typeof hello.version === 'string' ? hello.version : String(hello.version ?? 'unknown');
  }

  private onLine(line: string): void {
    const text = line.trim();
    if (!text.startsWith('{')) return;
    let m: AdapterMessage;
    try {
      m = JSON.parse(text) as AdapterMessage;
    } catch {
      return;
    }
    const p = this.pending;
    if (!p || m.id !== p.id) return;
    if (m.type === 'result' || m.type === 'hello') p.resolve(m);
    else if (m.type === 'error') p.reject(new EngineError(`wgp adapter: ${String(m.message ?? 'unspecified error')}`));
    else p.onMessage?.(m);
  }

  /** Stops the process (SIGTERM, then SIGKILL after the grace period). */
  kill(): void {
    const child = this.child;
    if (!child) return;
    this.child = null;
    child.kill('SIGTERM');
    const t = setTimeout(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }, this.opts.killGraceMs ?? 3000);
    t.unref();
    child.once('exit', () => clearTimeout(t));
  }

  async close(): Promise<void> {
    const child = this.child;
    if (!child || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) {
      this.child = null;
      return;
    }
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.stdin?.end();
    this.kill();
    await exited;
  }
}
