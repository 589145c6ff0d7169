import { ConfigError, EngineError } from '../../core/errors.ts';
import { ENGINES, type EngineName } from '../../core/types.ts';
import type { Engine, EngineRegistry } from './engine.ts';
import { createComfyuiEngine } from './comfyui-engine.ts';
import { createOnnxEngine } from './onnx-engine.ts';
import { createWgpEngine } from './wgp-engine.ts';

export interface EngineRegistryOptions {
  /** CUDA device for onnx (`smq worker --gpu`). */
  gpu?: number;
  /** Adapter command for wgp; default SMQ_WGP_COMMAND, then the shipped Python adapter. */
  wgpCommand?: string;
  /** The worker's --wgp-* flags, passed to the adapter with every request. */
  wgpOverrides?: Record<string, string>;
  /** @defaultValue http://127.0.0.1:8188 */
  comfyuiUrl?: string;
  /** COMFYUI_OUTPUT_PATH: ComfyUI's output folder, when this machine shares it. */
  comfyuiOutputPath?: string | null;
  /** Where onnx finds its models. @defaultValue <repo>/models */
  modelsDir?: string;
}

/**
 * The engines one worker serves (`smq worker --engine`). Engines are created on first use, so a
 * worker serving wgp does not start the Python adapter until a wgp task arrives. Asking for an
 * engine the worker does not serve is an error — never a silent run on another engine (decision 7).
 */
export function createEngineRegistry(names: EngineName[], opts: EngineRegistryOptions = {}): EngineRegistry {
  const served = [...new Set(names)];
  if (served.length === 0) throw new ConfigError('--engine', `no engine given; use one or more of ${ENGINES.join(', ')}`);
  for (const n of served) {
    if (!(ENGINES as readonly string[]).includes(n)) throw new ConfigError('--engine', `unknown engine ${JSON.stringify(n)}; use one or more of ${ENGINES.join(', ')}`);
  }
  const made = new Map<EngineName, Engine>();
  const factories: Record<EngineName, () => Engine> = {
    onnx: () => createOnnxEngine({ gpu: opts.gpu, modelsDir: opts.modelsDir }),
    wgp: () => createWgpEngine({ command: opts.wgpCommand, overrides: opts.wgpOverrides }),
    comfyui: () => createComfyuiEngine({ url: opts.comfyuiUrl, outputPath: opts.comfyuiOutputPath }),
  };
  return {
    get(name) {
      if (!served.includes(name)) {
        throw new EngineError(`engine ${JSON.stringify(name)} is not served by this worker (it serves ${served.join(', ')}); start a worker with --engine ${name}`);
      }
      let e = made.get(name);
      if (!e) {
        e = factories[name]();
        made.set(name, e);
      }
      return e;
    },
    names: () => [...served],
    async close() {
      const all = [...made.values()];
      made.clear();
      await Promise.all(all.map((e) => e.close()));
    },
  };
}
