#!/usr/bin/env node
// Stand-in for adapters/wgp/wgp_adapter.py: same JSON-lines protocol, but instead of Wan2GP it
// writes a real mp4 with ffmpeg whose frame i is a solid grey of value (8·i) mod 256, so a test
// can tell which frames survived a trim. Like Wan it refuses lengths that are not 4k+1.
// Prompts steer failures: "__error__" answers an error, "__die__" exits mid-request,
// "__hang__" never answers. `--pid-file <path>` records the pid; `--fps <n>` sets the output fps.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const pidFile = opt('--pid-file');
if (pidFile) writeFileSync(pidFile, String(process.pid));
const fps = Number(opt('--fps', '16'));
const send = (m) => process.stdout.write(`${JSON.stringify(m)}\n`);

// Libraries print to stdout; the engine must ignore non-JSON lines.
console.log('wgp stand-in starting (this line is not protocol)');

let busy = Promise.resolve();
createInterface({ input: process.stdin }).on('line', (line) => {
  busy = busy.then(() => handle(line)).catch((err) => console.error(err));
});

async function handle(line) {
  const req = JSON.parse(line);
  if (req.op === 'hello') return send({ id: req.id, type: 'hello', version: 'standin-1', wgp: 'stand-in' });
  if (req.op !== 'generate') return send({ id: req.id, type: 'error', message: `unknown op ${req.op}` });
  const p = req.params ?? {};
  const m = /^(\d+)x(\d+)$/.exec(String(p.resolution));
  if (!m) return send({ id: req.id, type: 'error', message: `bad resolution ${p.resolution}` });
  const n = p.video_length;
  if (!Number.isInteger(n) || n < 1 || (n - 1) % 4 !== 0) return send({ id: req.id, type: 'error', message: `video_length ${n} is not 4k+1` });
  send({ id: req.id, type: 'progress', percent: 10 });
  if (p.prompt === '__error__') return send({ id: req.id, type: 'error', message: 'CUDA out of memory (stand-in)' });
  if (p.prompt === '__die__') {
    console.error('stand-in: dying on purpose');
    process.exit(3);
  }
  if (p.prompt === '__hang__') return new Promise(() => {});
  const out = path.join(p.output_dir, `standin_seed${p.seed}.mp4`);
  await new Promise((resolve, reject) => {
    const ff = spawn('ffmpeg', [
      '-hide_banner', '-v', 'error', '-y',
      '-f', 'lavfi', '-i', `color=c=black:s=${m[1]}x${m[2]}:r=${fps},format=gray,geq=lum='mod(N*8\\,256)'`,
      '-frames:v', String(n), '-c:v', 'libx264', '-qp', '0', '-pix_fmt', 'yuv444p', out,
    ], { stdio: ['ignore', 'ignore', 'inherit'] });
    ff.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exit ${code}`))));
  });
  send({ id: req.id, type: 'progress', percent: 100 });
  send({ id: req.id, type: 'result', video_path: out });
}
