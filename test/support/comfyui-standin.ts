import http from 'node:http';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';

/**
 * A local server following ComfyUI's HTTP API (shared/notes/protocols.md §3) for the routes smq uses:
 * POST /prompt validates the graph (known class types, required inputs, links to existing nodes, an
 * output node) and answers 400 with error/node_errors like ComfyUI; the prompt then "runs" for
 * `runMs`, during which GET /history/<id> answers `{}`; it finishes with core SaveVideo's output shape
 * (`images` + `animated: [true]`) and a real mp4 written by ffmpeg into `outputDir`. GET /view applies
 * ComfyUI's 400/403/404 rules. A CLIPTextEncode text of "__fail__" makes the run end in an
 * execution_error; "__slow__" makes it run until interrupted (POST /interrupt).
 *
 * The video: `length` frames (from any literal `length` input, default 16) of `width`×`height`
 * (from literal inputs, default 64×48), frame i a solid grey of (8·i) mod 256.
 */
interface Job {
  id: string;
  prompt: Record<string, { class_type: string; inputs: Record<string, unknown> }>;
  doneAt: number;
  result: Record<string, unknown> | null;
  interrupted: boolean;
  slow: boolean;
}

const REQUIRED: Record<string, string[]> = {
  CheckpointLoaderSimple: ['ckpt_name'],
  CLIPTextEncode: ['text', 'clip'],
  LoadImage: ['image'],
  KSampler: ['seed', 'model', 'positive', 'negative', 'latent_image'],
  EmptyHunyuanLatentVideo: ['width', 'height', 'length'],
  VAEDecode: ['samples', 'vae'],
  CreateVideo: ['images', 'fps'],
  SaveVideo: ['video', 'filename_prefix'],
  PrimitiveInt: ['value'],
};
const OUTPUT_NODES = new Set(['SaveVideo']);

export interface ComfyStandin {
  url: string;
  outputDir: string;
  inputDir: string;
  prompts: Job['prompt'][];
  historyPolls: number;
  views: number;
  interrupts: string[];
  close(): Promise<void>;
}

export async function startComfyStandin(opts: { outputDir: string; inputDir: string; runMs?: number }): Promise<ComfyStandin> {
  const jobs = new Map<string, Job>();
  const state: ComfyStandin = { url: '', outputDir: opts.outputDir, inputDir: opts.inputDir, prompts: [], historyPolls: 0, views: 0, interrupts: [], close: async () => {} };
  mkdirSync(opts.outputDir, { recursive: true });

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      handle(req, Buffer.concat(chunks).toString('utf8'), res).catch((err) => json(res, 500, { error: String(err) }));
    });
  });

  async function handle(req: http.IncomingMessage, body: string, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const route = url.pathname.replace(/^\/api(?=\/)/, '');
    if (req.method === 'POST' && route === '/prompt') return postPrompt(body, res);
    if (req.method === 'GET' && route.startsWith('/history/')) {
      state.historyPolls++;
      const job = jobs.get(decodeURIComponent(route.slice('/history/'.length)));
      if (!job) return json(res, 200, {});
      await settle(job);
      return json(res, 200, job.result ? { [job.id]: job.result } : {});
    }
    if (req.method === 'GET' && route === '/view') {
      state.views++;
      return view(url, res);
    }
    if (req.method === 'POST' && route === '/interrupt') {
      const id = (parse(body) as { prompt_id?: string } | null)?.prompt_id;
      for (const job of jobs.values()) if (!job.result && (!id || job.id === id)) job.interrupted = true;
      state.interrupts.push(id ?? '');
      res.writeHead(200).end();
      return;
    }
    json(res, 404, { error: `no route ${req.method} ${route}` });
  }

  function postPrompt(body: string, res: http.ServerResponse): void {
    const b = parse(body) as { prompt?: unknown; client_id?: string } | null;
    if (!b || typeof b.prompt !== 'object' || b.prompt === null) {
      return json(res, 400, { error: { type: 'no_prompt', message: 'No prompt provided', details: '', extra_info: {} }, node_errors: {} });
    }
    const prompt = b.prompt as Job['prompt'];
    const nodeErrors: Record<string, unknown> = {};
    for (const [id, node] of Object.entries(prompt)) {
      if (!(node.class_type in REQUIRED)) {
        return json(res, 400, {
          error: { type: 'missing_node_type', message: `Node '${id}' has no class_type or it does not exist: ${node.class_type}`, details: `Node ID '#${id}'`, extra_info: {} },
          node_errors: {},
        });
      }
      const errors: unknown[] = [];
      for (const key of REQUIRED[node.class_type]) {
        const v = node.inputs?.[key];
        if (v === undefined) errors.push({ type: 'required_input_missing', message: 'Required input is missing', details: key, extra_info: { input_name: key } });
        else if (Array.isArray(v) && !(String(v[0]) in prompt)) errors.push({ type: 'bad_linked_input', message: 'Bad linked input', details: `${key} -> missing node ${v[0]}`, extra_info: {} });
      }
      if (node.class_type === 'LoadImage' && typeof node.inputs.image === 'string' && !existsSync(path.join(opts.inputDir, node.inputs.image))) {
        errors.push({ type: 'custom_validation_failed', message: 'Custom validation failed for node', details: `image - Invalid image file: ${node.inputs.image}`, extra_info: {} });
      }
      if (errors.length > 0) nodeErrors[id] = { errors, dependent_outputs: [], class_type: node.class_type };
    }
    if (!Object.values(prompt).some((n) => OUTPUT_NODES.has(n.class_type))) {
      return json(res, 400, { error: { type: 'prompt_no_outputs', message: 'Prompt has no outputs', details: '', extra_info: {} }, node_errors: {} });
    }
    if (Object.keys(nodeErrors).length > 0) {
      return json(res, 400, { error: { type: 'prompt_outputs_failed_validation', message: 'Prompt outputs failed validation', details: '', extra_info: {} }, node_errors: nodeErrors });
    }
    const id = randomUUID();
    state.prompts.push(prompt);
    const texts = Object.values(prompt).filter((n) => n.class_type === 'CLIPTextEncode').map((n) => n.inputs.text);
    jobs.set(id, { id, prompt, doneAt: Date.now() + (opts.runMs ?? 300), result: null, interrupted: false, slow: texts.includes('__slow__') });
    json(res, 200, { prompt_id: id, number: jobs.size, node_errors: {} });
  }

  async function settle(job: Job): Promise<void> {
    if (job.result) return;
    const ts = Date.now();
    const failNode = Object.entries(job.prompt).find(([, n]) => n.class_type === 'CLIPTextEncode' && n.inputs.text === '__fail__');
    if (job.interrupted) {
      const [nodeId, node] = Object.entries(job.prompt)[0];
      job.result = history(job, {}, 'error', [['execution_start', { prompt_id: job.id, timestamp: ts }], ['execution_interrupted', { prompt_id: job.id, node_id: nodeId, node_type: node.class_type, executed: [], timestamp: ts }]]);
      return;
    }
    if (job.slow || Date.now() < job.doneAt) return;
    if (failNode) {
      job.result = history(job, {}, 'error', [
        ['execution_start', { prompt_id: job.id, timestamp: ts }],
        ['execution_error', { prompt_id: job.id, node_id: failNode[0], node_type: 'CLIPTextEncode', executed: [], exception_message: 'stand-in failure requested', exception_type: 'RuntimeError', traceback: [], current_inputs: {}, current_outputs: {}, timestamp: ts }],
      ]);
      return;
    }
    const literal = (key: string, dflt: number) => {
      for (const n of Object.values(job.prompt)) if (typeof n.inputs[key] === 'number') return n.inputs[key] as number;
      return dflt;
    };
    const outputs: Record<string, unknown> = {};
    for (const [nodeId, node] of Object.entries(job.prompt)) {
      if (node.class_type !== 'SaveVideo') continue;
      const prefix = String(node.inputs.filename_prefix ?? 'video/ComfyUI');
      const subfolder = path.dirname(prefix) === '.' ? '' : path.dirname(prefix);
      const filename = `${path.basename(prefix)}_00001_.mp4`;
      mkdirSync(path.join(opts.outputDir, subfolder), { recursive: true });
      await makeVideo(path.join(opts.outputDir, subfolder, filename), literal('width', 64), literal('height', 48), literal('length', 16));
      outputs[nodeId] = { images: [{ filename, subfolder, type: 'output' }], animated: [true] };
    }
    job.result = history(job, outputs, 'success', [['execution_start', { prompt_id: job.id, timestamp: ts }], ['execution_success', { prompt_id: job.id, timestamp: ts }]]);
  }

  function view(url: URL, res: http.ServerResponse): void {
    const filename = url.searchParams.get('filename') ?? '';
    const subfolder = url.searchParams.get('subfolder') ?? '';
    const type = url.searchParams.get('type') ?? 'output';
    if (filename === '' || filename.startsWith('/') || filename.includes('..')) {
      res.writeHead(400).end();
      return;
    }
    const root = type === 'output' ? opts.outputDir : type === 'input' ? opts.inputDir : null;
    if (!root) {
      res.writeHead(400).end();
      return;
    }
    const dir = path.resolve(root, subfolder);
    if (dir !== path.resolve(root) && !dir.startsWith(path.resolve(root) + path.sep)) {
      res.writeHead(403).end();
      return;
    }
    const file = path.join(dir, filename);
    if (!existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    const data = readFileSync(file);
    res.writeHead(200, { 'content-type': filename.endsWith('.mp4') ? 'video/mp4' : 'application/octet-stream', 'content-disposition': `filename="${filename}"`, 'content-length': data.length });
    res.end(data);
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}

function history(job: Job, outputs: Record<string, unknown>, statusStr: string, messages: unknown[]): Record<string, unknown> {
  return {
    prompt: [0, job.id, job.prompt, {}, Object.keys(outputs)],
    outputs,
    status: { status_str: statusStr, completed: statusStr === 'success', messages },
    meta: {},
  };
}

function makeVideo(file: string, w: number, h: number, n: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const ff = spawn('ffmpeg', ['-hide_banner', '-v', 'error', '-y', '-f', 'lavfi', '-i', `color=c=black:s=${w}x${h}:r=16,format=gray,geq=lum='mod(N*8\\,256)'`, '-frames:v', String(n), '-c:v', 'libx264', '-qp', '0', '-pix_fmt', 'yuv444p', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    ff.stderr.on('data', (d: Buffer) => (err += d));
    ff.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exit ${code}: ${err}`))));
  });
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const t = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(t) });
  res.end(t);
}
