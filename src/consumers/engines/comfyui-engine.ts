import { randomUUID } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CancelledError, EngineError, TaskTimeoutError } from '../../core/errors.ts';
import { decodeFrames, probeVideo, writeVideo } from '../media/frames-io.ts';
import type { Engine, GenerateVideoRequest, GenerateVideoResult } from './engine.ts';
import { ComfyClient } from './comfyui/http.ts';
import { applyInputs, findVideoOutput, parseWorkflow, type Workflow } from './comfyui/workflow.ts';

/**
 * ComfyUI over its HTTP API (spec 03 §5, "intended protocol"): load the API-format workflow, set
 * inputs by node title, POST /prompt, poll GET /history/<id> until it has an entry, detect
 * `status_str: "error"`, fetch the video (GET /view, or straight from COMFYUI_OUTPUT_PATH when this
 * machine shares ComfyUI's output folder), and re-encode exactly the requested frames at the
 * requested size and fps into outputPath.
 *
 * Request extras: `comfyui_workflow_path` (file) or `comfyui_workflow` (object), `comfyui_inputs`
 * ({title: value}), `comfyui_server_address` (overrides the engine's URL).
 */
export interface ComfyuiEngineOptions {
  /** @defaultValue http://127.0.0.1:8188 */
  url?: string;
  /** ComfyUI's output directory as seen from this machine (COMFYUI_OUTPUT_PATH), if shared. */
  outputPath?: string | null;
  /** @defaultValue 2000 */
  pollMs?: number;
  /** Limit for one prompt, queue time included. @defaultValue 1800000 (30 min) */
  timeoutMs?: number;
}

export function createComfyuiEngine(opts: ComfyuiEngineOptions = {}): Engine {
  const pollMs = opts.pollMs ?? 2000;
  const timeoutMs = opts.timeoutMs ?? 1_800_000;

  return {
    name: 'comfyui',

    async generateVideo(req: GenerateVideoRequest): Promise<GenerateVideoResult> {
      const extra = req.extra ?? {};
      const client = new ComfyClient(typeof extra.comfyui_server_address === 'string' && extra.comfyui_server_address ? extra.comfyui_server_address : (opts.url ?? 'http://127.0.0.1:8188'));
      const base = await loadWorkflow(extra);
      const inputs = extra.comfyui_inputs ?? {};
      if (typeof inputs !== 'object' || inputs === null || Array.isArray(inputs)) throw new EngineError('comfyui_inputs must be an object of {node title: value}');
      const { workflow, unmatched } = applyInputs(base, inputs as Record<string, unknown>);
      const notes: string[] = [];
      if (unmatched.length > 0) notes.push(`comfyui_inputs without a node of that title (ignored): ${unmatched.join(', ')}`);

      const deadline = AbortSignal.timeout(timeoutMs);
      const signal = AbortSignal.any([req.signal, deadline]);
      let promptId: string | null = null;
      const work = await mkdtemp(path.join(path.dirname(req.outputPath), `.comfy-${req.taskId}-`));
      try {
        promptId = await client.queuePrompt(workflow, randomUUID(), signal);
        const entry = await waitForHistory(client, promptId, pollMs, signal, req.onProgress);
        const status = (entry.status ?? {}) as { status_str?: string; messages?: [string, Record<string, unknown>][] };
        if (status.status_str === 'error') throw new EngineError(`ComfyUI prompt ${promptId} failed: ${executionError(status.messages)}`);
        const outputs = (entry.outputs ?? {}) as Record<string, unknown>;
        const file = findVideoOutput(outputs);
        if (!file) {
          throw new EngineError(`ComfyUI prompt ${promptId} finished without a video output (outputs: ${JSON.stringify(outputs).slice(0, 300)}); the workflow needs a SaveVideo or VHS_VideoCombine node`);
        }
        const local = path.join(work, `comfy${path.extname(file.filename) || '.mp4'}`);
        const shared = opts.outputPath && file.type === 'output' ? path.join(opts.outputPath, file.subfolder, file.filename) : null;
        if (shared && (await stat(shared).catch(() => null))?.isFile()) await copyFile(shared, local);
        else await client.download(file, local, signal);
        const info = await probeVideo(local, signal);
        const frames = Math.min(info.frames, req.frames);
        if (info.frames < req.frames) notes.push(`ComfyUI produced ${info.frames} frames, fewer than the ${req.frames} requested`);
        await reencode(local, req, frames, info.width !== req.width || info.height !== req.height);
        req.onProgress?.(100);
        return { videoPath: req.outputPath, frames, notes };
      } catch (err) {
        if (promptId && (req.signal.aborted || deadline.aborted)) await client.interrupt(promptId);
        if (req.signal.aborted) throw new CancelledError(`ComfyUI prompt ${promptId ?? '(not queued)'}: aborted`);
        if (deadline.aborted) throw new TaskTimeoutError(`ComfyUI prompt ${promptId ?? '(not queued)'} did not finish within ${timeoutMs} ms; interrupted`);
        throw err;
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    },

    async close() {},
  };
}

async function loadWorkflow(extra: Record<string, unknown>): Promise<Workflow> {
  if (extra.comfyui_workflow !== undefined) return parseWorkflow(extra.comfyui_workflow, 'comfyui_workflow');
  const file = extra.comfyui_workflow_path;
  if (typeof file !== 'string' || file === '') throw new EngineError('comfyui engine needs comfyui_workflow_path (an API-format workflow JSON file)');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new EngineError(`comfyui_workflow_path ${file} cannot be read: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new EngineError(`comfyui_workflow_path ${file} is not JSON: ${(err as Error).message}`);
  }
  return parseWorkflow(json, file);
}

async function waitForHistory(client: ComfyClient, promptId: string, pollMs: number, signal: AbortSignal, onProgress?: (p: number) => void): Promise<Record<string, unknown>> {
  // Without the websocket there is no real progress: report a slow creep so watchers see it is alive.
  let polls = 0;
  for (;;) {
    const entry = await client.history(promptId, signal);
    if (entry) return entry;
    polls++;
    onProgress?.(Math.min(90, Math.round(90 * (1 - Math.exp(-polls / 30)))));
    await sleep(pollMs, undefined, { signal });
  }
}

function executionError(messages: [string, Record<string, unknown>][] | undefined): string {
  for (const [event, data] of messages ?? []) {
    if (event === 'execution_error') return `node ${String(data.node_id)} (${String(data.node_type)}): ${String(data.exception_type ?? '')}: ${String(data.exception_message ?? '')}`.replace(': : ', ': ');
    if (event === 'execution_interrupted') return `interrupted at node ${String(data.node_id)} (${String(data.node_type)})`;
  }
  return 'status_str "error" without an execution_error message';
}

async function reencode(source: string, req: GenerateVideoRequest, frames: number, resize: boolean): Promise<void> {
  const out = writeVideo(req.outputPath, { width: req.width, height: req.height, fps: req.fps, lossless: true, signal: req.signal });
  try {
    for await (const f of decodeFrames(source, { ...(resize ? { width: req.width, height: req.height } : {}), count: frames, signal: req.signal })) await out.write(f);
    await out.close();
  } catch (err) {
    out.abort();
    throw err;
  }
}
