import type { EngineName } from '../../core/types.ts';

/**
 * The one small interface every generation backend implements: `onnx` (in-process onnxruntime-node,
 * the default, runs anywhere), `wgp` (the real Wan2GP, a Python adapter process over JSON lines) and
 * `comfyui` (ComfyUI's HTTP API). Handlers only see this; they never know which backend ran.
 *
 * Media references are local file paths; the caller has already resolved any remote reference.
 */
export interface GenerateVideoRequest {
  taskId: string;
  prompt: string;
  negativePrompt: string;
  width: number;
  height: number;
  /** Exact number of frames wanted in the output. Engines needing 4k+1 ask for more and trim (decision 2). */
  frames: number;
  fps: number;
  seed: number;
  model: string;
  /** Guide video (VACE control): frame i guides output frame i. Written losslessly by smq. */
  guideVideoPath?: string | null;
  /** Mask video, same length as the guide: white (255) = generate, black (0) = keep the guide frame. */
  maskVideoPath?: string | null;
  imageRefs?: string[];
  /** Engine-specific extras (params_json_str_override, cfg_*, use_causvid_lora, comfyui workflow…). */
  extra?: Record<string, unknown>;
  /** Where the engine must write its mp4. */
  outputPath: string;
  signal: AbortSignal;
  onProgress?: (percent: number) => void;
}

export interface GenerateVideoResult {
  videoPath: string;
  frames: number;
  /** Honest remarks (e.g. "model vace_14B is not available on onnx; synthesized by interpolation"). */
  notes: string[];
}

export interface UpscaleVideoRequest {
  inputPath: string;
  outputPath: string;
  factor: number;
  model: string;
  seed: number;
  signal: AbortSignal;
  onProgress?: (percent: number) => void;
}

export interface StructureRequest {
  /** Image to extract pose/structure from. */
  imagePath: string;
  outputPath: string; // PNG, same size as the input
  /** Optional user-supplied model file (e.g. a DWPose ONNX); default is smq's edge extractor. */
  modelPath?: string | null;
  signal: AbortSignal;
}

export interface InterpolateRequest {
  imagePath1: string;
  imagePath2: string;
  frames: number;
  width: number;
  height: number;
  fps: number;
  outputPath: string;
  /** Optional user-supplied RIFE ONNX model; default is smq's eased synthesizer. */
  modelPath?: string | null;
  signal: AbortSignal;
}

export interface Engine {
  readonly name: EngineName;
  generateVideo(req: GenerateVideoRequest): Promise<GenerateVideoResult>;
  /** Optional capabilities; a handler asking for one an engine lacks gets a clear EngineError. */
  upscaleVideo?(req: UpscaleVideoRequest): Promise<{ videoPath: string; frames: number }>;
  extractStructure?(req: StructureRequest): Promise<{ imagePath: string }>;
  interpolate?(req: InterpolateRequest): Promise<{ videoPath: string; frames: number }>;
  close(): Promise<void>;
}

export interface EngineRegistry {
  get(name: EngineName): Engine;
  /** The engines this worker serves (`smq worker --engine`). */
  names(): EngineName[];
  close(): Promise<void>;
}
