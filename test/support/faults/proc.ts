import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/** Process plumbing the fault suite shares: spawning smq commands, waiting, killing, pid checks. */

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const SMQ_BIN = fileURLToPath(new URL('../../../bin/smq.js', import.meta.url));
export const SM_BIN = fileURLToPath(new URL('../../../bin/steerable-motion.js', import.meta.url));
export const FAULT_HANDLERS = fileURLToPath(new URL('./handlers.ts', import.meta.url));

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `probe` until it returns something truthy; the error names what never happened. */
export async function until<T>(what: string, probe: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs: number, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown = null;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? ` (last error: ${(lastErr as Error).message})` : ''}`);
    await sleep(intervalMs);
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A TCP port nobody listens on right now (the kernel picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface Spawned {
  child: ChildProcess;
  name: string;
  /** Last 8 KB of stderr, for failure messages. */
  stderr(): string;
  exited(): Promise<void>;
  alive(): boolean;
}

export function spawnNode(name: string, args: string[], env: NodeJS.ProcessEnv, opts: { cwd?: string; nodeFlags?: string[] } = {}): Spawned {
  const child = spawn(process.execPath, [...(opts.nodeFlags ?? []), ...args], { env: { ...process.env, ...env }, cwd: opts.cwd ?? REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let tail = '';
  child.stderr!.on('data', (d: Buffer) => {
    tail = (tail + d.toString()).slice(-8192);
    if (process.env.SMQ_FAULTS_VERBOSE) process.stderr.write(`[${name}] ${d}`);
  });
  const done = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child,
    name,
    stderr: () => tail,
    exited: () => done,
    alive: () => child.exitCode === null && child.signalCode === null,
  };
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export async function stopProcess(p: Spawned, graceMs = 8000): Promise<void> {
  if (!p.alive()) return;
  p.child.kill('SIGTERM');
  const t = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
  await p.exited();
  clearTimeout(t);
}

export async function sigkill(p: Spawned): Promise<void> {
  if (!p.alive()) return;
  p.child.kill('SIGKILL');
  await p.exited();
}

/** Runs a command to completion, capturing output; never throws on a non-zero exit. */
export function runCommand(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number; uid?: number; gid?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...(opts.env ?? {}) }, cwd: opts.cwd ?? REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], uid: opts.uid, gid: opts.gid });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : null;
    child.once('error', reject);
    child.once('close', (code) => {
      if (t) clearTimeout(t);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** Direct children of `pid` (from /proc), e.g. the task processes a worker forked. */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // Fields after the parenthesised command: state, ppid, …
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}
