import { EngineError } from '../../../core/errors.ts';

/**
 * ComfyUI API-format workflows (`{nodeId: {class_type, inputs, _meta: {title}}}`), pure helpers:
 * validating the shape, setting inputs by node title, and finding the video among the outputs.
 */
export interface WorkflowNode {
  class_type: string;
  inputs: Record<string, unknown>;
  _meta?: { title?: string };
}
export type Workflow = Record<string, WorkflowNode>;

export function parseWorkflow(value: unknown, source: string): Workflow {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new EngineError(`${source} is not a ComfyUI API-format workflow (an object of nodes); export it with "Save (API Format)"`);
  }
  const nodes = value as Record<string, unknown>;
  if ('nodes' in nodes && Array.isArray(nodes.nodes)) {
    throw new EngineError(`${source} is a ComfyUI UI workflow (with "nodes"/"links"), not API format; export it with "Save (API Format)"`);
  }
  for (const [id, node] of Object.entries(nodes)) {
    const n = node as Partial<WorkflowNode> | null;
    if (!n || typeof n !== 'object' || typeof n.class_type !== 'string' || typeof n.inputs !== 'object' || n.inputs === null) {
      throw new EngineError(`${source}: node ${JSON.stringify(id)} needs a string class_type and an inputs object (API format)`);
    }
  }
  if (Object.keys(nodes).length === 0) throw new EngineError(`${source} has no nodes`);
  return structuredClone(nodes) as Workflow;
}

/** Which input a plain value sets, per node class (the seed's intended LoadImage → image, CLIPTextEncode → text). */
const INPUT_FOR_CLASS: Record<string, string> = {
  LoadImage: 'image',
  LoadImageMask: 'image',
  CLIPTextEncode: 'text',
  LoadVideo: 'file',
  VHS_LoadVideo: 'video',
  VHS_LoadVideoPath: 'video',
  KSampler: 'seed',
  KSamplerAdvanced: 'noise_seed',
  RandomNoise: 'noise_seed',
  PrimitiveInt: 'value',
  PrimitiveFloat: 'value',
  PrimitiveString: 'value',
  PrimitiveStringMultiline: 'value',
  PrimitiveBoolean: 'value',
};

const isLink = (v: unknown) => Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'number';

/**
 * Sets `inputs` (keyed by node `_meta.title`) on a copy of the workflow. A plain value goes to the
 * class's usual input (table above) or to a node's only literal input; an object value is merged
 * into the node's inputs as given. Keys no node carries as a title are returned, not fatal: travel
 * segments send a standard set and a workflow uses the ones it needs.
 */
export function applyInputs(workflow: Workflow, inputs: Record<string, unknown>): { workflow: Workflow; unmatched: string[] } {
  const wf = structuredClone(workflow);
  const unmatched: string[] = [];
  for (const [title, value] of Object.entries(inputs)) {
    const targets = Object.entries(wf).filter(([, n]) => n._meta?.title === title);
    if (targets.length === 0) {
      unmatched.push(title);
      continue;
    }
    for (const [id, node] of targets) {
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
        Object.assign(node.inputs, value);
        continue;
      }
      const literal = Object.keys(node.inputs).filter((k) => !isLink(node.inputs[k]));
      const key = INPUT_FOR_CLASS[node.class_type] ?? (literal.length === 1 ? literal[0] : undefined);
      if (!key) {
        throw new EngineError(
          `comfyui_inputs.${title}: node ${id} (${node.class_type}) has no single input to set; give an object such as {"${literal[0] ?? 'input_name'}": …} to name the input`,
        );
      }
      node.inputs[key] = value;
    }
  }
  return { workflow: wf, unmatched };
}

export interface OutputFile {
  filename: string;
  subfolder: string;
  type: string;
  nodeId: string;
}

const VIDEO_EXT = /\.(mp4|webm|mov|mkv|gif|webp)$/i;

/**
 * The video a finished prompt produced: `videos` or `gifs` lists (VideoHelperSuite), or core
 * SaveVideo's entry under `images` with `animated: [true]`. `output` files win over `temp` previews.
 */
export function findVideoOutput(outputs: Record<string, unknown>): OutputFile | null {
  const found: OutputFile[] = [];
  for (const nodeId of Object.keys(outputs).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))) {
    const o = outputs[nodeId] as Record<string, unknown>;
    const animated = Array.isArray(o.animated) && o.animated.some(Boolean);
    for (const key of ['videos', 'gifs', 'images']) {
      const list = o[key];
      if (!Array.isArray(list)) continue;
      for (const f of list as Record<string, unknown>[]) {
        const filename = String(f.filename ?? '');
        if (key === 'images' && !animated && !VIDEO_EXT.test(filename)) continue;
        found.push({ filename, subfolder: String(f.subfolder ?? ''), type: String(f.type ?? 'output'), nodeId });
      }
    }
  }
  return found.find((f) => f.type === 'output') ?? found[0] ?? null;
}

/** One readable line from a 400 `/prompt` answer (error plus each node's errors). */
export function describeValidationError(body: unknown): string {
  if (typeof body === 'string') return body;
  const b = (body ?? {}) as { error?: unknown; node_errors?: Record<string, { errors?: { message?: string; details?: string }[]; class_type?: string }> };
  const parts: string[] = [];
  if (typeof b.error === 'string') parts.push(b.error);
  else if (b.error && typeof b.error === 'object') {
    const e = b.error as { type?: string; message?: string; details?: string };
    parts.push([e.message, e.details].filter(Boolean).join(': ') + (e.type ? ` [${e.type}]` : ''));
  }
  for (const [id, ne] of Object.entries(b.node_errors ?? {})) {
    const errs = (ne.errors ?? []).map((x) => [x.message, x.details].filter(Boolean).join(': ')).join('; ');
    parts.push(`node ${id}${ne.class_type ? ` (${ne.class_type})` : ''}: ${errs}`);
  }
  return parts.join('; ') || JSON.stringify(body);
}
