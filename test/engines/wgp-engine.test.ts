import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CancelledError, EngineError, SmqError } from '../../src/core/errors.ts';
import { probeVideo, readFrames } from '../../src/consumers/media/frames-io.ts';
import { createWgpEngine } from '../../src/consumers/engines/wgp-engine.ts';
import { splitCommand, wanLength } from '../../src/consumers/engines/wgp/wgp-params.ts';
import type { GenerateVideoRequest } from '../../src/consumers/engines/engine.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const STANDIN = path.resolve(HERE, '../support/wgp-standin.mjs');
const ADAPTER = path.resolve(HERE, '../../adapters/wgp/wgp_adapter.py');

function request(dir: string, over: Partial<GenerateVideoRequest>): GenerateVideoRequest {
  return {
    taskId: 'seg1', prompt: 'a boat', negativePrompt: '', width: 64, height: 48, frames: 30, fps: 25, seed: 5, model: 'vace_14B',
    outputPath: path.join(dir, 'out.mp4'), signal: new AbortController().signal, ...over,
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('wanLength and splitCommand', () => {
  assert.deepEqual([1, 2, 5, 6, 29, 30, 32, 33, 81].map(wanLength), [1, 5, 5, 9, 29, 33, 33, 33, 81]);
  assert.deepEqual(splitCommand(`python3 "/a b/adapter.py" --x 'y z' plain\\ esc`), ['python3', '/a b/adapter.py', '--x', 'y z', 'plain esc']);
  assert.throws(() => splitCommand('  '), /SMQ_WGP_COMMAND/);
  assert.throws(() => splitCommand('node "x'), /unterminated/);
});

test('generate through the stand-in: asks for 4k+1 and trims to the exact frames', { timeout: 120_000 }, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'smq-wgp-'));
  const engine = createWgpEngine({ command: `${process.execPath} ${STANDIN}`, overrides: { attention_mode: 'sdpa' } });
  try {
    const progress: number[] = [];
    const res = await engine.generateVideo(request(dir, { frames: 30, onProgress: (p) => progress.push(p) }));
    assert.equal(res.frames, 30);
    const info = await probeVideo(res.videoPath);
    assert.deepEqual([info.frames, info.width, info.height, info.fps], [30, 64, 48, 25]);
    const frames = await readFrames(res.videoPath);
    // The stand-in's frame i is grey 8·i: the first 30 of its 33 were kept, in order.
    frames.forEach((f, i) => assert.ok(Math.abs(f[0] - ((8 * i) % 256)) <= 2, `frame ${i} is ${f[0]}, expected ~${(8 * i) % 256}`));
    assert.ok(res.notes.some((n) => /16 fps; written at 25/.test(n)), res.notes.join('; '));
    assert.ok(progress.length >= 2 && progress.at(-1) === 100);
    // The adapter's temp dir beside the output is gone.
    assert.deepEqual((await readdir(dir)).filter((n) => n.startsWith('.wgp-')), []);

    // The same process serves the next request (model stays loaded), and an adapter error is an EngineError.
    const pid = engine.adapterPid();
    await assert.rejects(engine.generateVideo(request(dir, { prompt: '__error__' })), (e: Error) => e instanceof EngineError && /CUDA out of memory/.test(e.message));
    const five = await engine.generateVideo(request(dir, { frames: 5, outputPath: path.join(dir, 'five.mp4') }));
    assert.equal((await probeVideo(five.videoPath)).frames, 5);
    assert.equal(engine.adapterPid(), pid);
  } finally {
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('adapter dying mid-request is a clear error; the next request starts a new process', { timeout: 120_000 }, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'smq-wgp-'));
  const engine = createWgpEngine({ command: `${process.execPath} ${STANDIN}` });
  try {
    await assert.rejects(engine.generateVideo(request(dir, { prompt: '__die__' })), (e: Error) => {
      assert.ok(e instanceof EngineError);
      assert.match(e.message, /wgp adapter exited \(code 3\) during request/);
      assert.match(e.message, /dying on purpose/);
      assert.equal(e.retryable, true);
      return true;
    });
    const res = await engine.generateVideo(request(dir, { frames: 9 }));
    assert.equal((await probeVideo(res.videoPath)).frames, 9);
  } finally {
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('abort and timeout kill the adapter process', { timeout: 60_000 }, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'smq-wgp-'));
  const pidFile = path.join(dir, 'pid');
  const engine = createWgpEngine({ command: `${process.execPath} ${STANDIN} --pid-file ${pidFile}`, requestTimeoutMs: 60_000 });
  const timed = createWgpEngine({ command: `${process.execPath} ${STANDIN} --pid-file ${pidFile}.2`, requestTimeoutMs: 500 });
  try {
    const ac = new AbortController();
    let sawProgress = false;
    const run = engine.generateVideo(request(dir, { prompt: '__hang__', signal: ac.signal, onProgress: () => (sawProgress = true) }));
    await waitFor(() => sawProgress, 20_000, 'first progress line');
    const pid = Number(await readFile(pidFile, 'utf8'));
    assert.ok(alive(pid));
    ac.abort();
    await assert.rejects(run, CancelledError);
    await waitFor(() => !alive(pid), 10_000, 'adapter process to exit after abort');

    await assert.rejects(timed.generateVideo(request(dir, { prompt: '__hang__' })), (e: Error) => e instanceof SmqError && e.code === 'TIMEOUT' && /500 ms; adapter process killed/.test(e.message));
    const pid2 = Number(await readFile(`${pidFile}.2`, 'utf8'));
    await waitFor(() => !alive(pid2), 10_000, 'adapter process to exit after timeout');
  } finally {
    await engine.close();
    await timed.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a command that cannot start is a clear EngineError', { timeout: 30_000 }, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'smq-wgp-'));
  const engine = createWgpEngine({ command: path.join(dir, 'no-such-adapter') });
  try {
    await assert.rejects(engine.generateVideo(request(dir, {})), (e: Error) => e instanceof EngineError && /could not start.*SMQ_WGP_COMMAND/.test(e.message));
  } finally {
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('the shipped Python adapter speaks the protocol and says plainly when wgp is missing', { timeout: 60_000 }, async () => {
  const lines = [
    JSON.stringify({ id: 'h1', op: 'hello' }),
    JSON.stringify({ id: 'g1', op: 'generate', params: { prompt: 'x', resolution: '64x48', video_length: 5, seed: 1, model: 't2v', output_dir: os.tmpdir() } }),
  ].join('\n');
  const r = spawnSync('python3', [ADAPTER], { input: `${lines}\n`, encoding: 'utf8', env: { ...process.env, WAN2GP_DIR: '/nonexistent/Wan2GP' }, timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  const msgs = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(msgs[0].id, 'h1');
  assert.equal(msgs[0].type, 'hello');
  assert.equal(typeof msgs[0].version, 'string');
  assert.equal(msgs[1].id, 'g1');
  assert.equal(msgs[1].type, 'error');
  assert.match(msgs[1].message, /cannot import wgp.*\/nonexistent\/Wan2GP.*WAN2GP_DIR/);
});
