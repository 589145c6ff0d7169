import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CancelledError, EngineError } from '../../core/errors.ts';
import { decodeFrames, probeVideo, writeVideo } from '../media/frames-io.ts';
import type { Engine, GenerateVideoRequest, GenerateVideoResult } from './engine.ts';
import { AdapterProcess } from './wgp/adapter-process.ts';
import { splitCommand, wanLength } from './wgp/wgp-params.ts';

/**
 * The real Wan2GP, through the Python adapter shipped in adapters/wgp/ (JSON lines over
 * stdin/stdout; protocol in adapters/wgp/README.md). The command is `SMQ_WGP_COMMAND` or the
 * `command` option, default `python3 adapters/wgp/wgp_adapter.py`.
 *
 * Wan makes 4k+1 frames at its own fps and its resolution may be rounded, so the adapter is asked
 * for the next 4k+1 length and the engine re-encodes exactly `frames` frames at the requested size
 * and fps (losslessly: the result is an intermediate the stitch decodes again).
 */
export interface WgpEngineOptions {
  command?: string;
  /** The --wgp-* global overrides, passed to the adapter with every request. */
  overrides?: Record<string, string>;
  /** Limit on one generation; absent = only the caller's AbortSignal stops it. */
  requestTimeoutMs?: number;
  helloTimeoutMs?: number;
  cwd?: string;
}

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const DEFAULT_WGP_COMMAND = `python3 ${path.join(REPO_ROOT, 'adapters/wgp/wgp_adapter.py')}`;

export function createWgpEngine(opts: WgpEngineOptions = {}): Engine & { adapterPid(): number | undefined } {
  const command = opts.command ?? process.env.SMQ_WGP_COMMAND ?? DEFAULT_WGP_COMMAND;
  const adapter = new AdapterProcess({ argv: splitCommand(command), cwd: opts.cwd, helloTimeoutMs: opts.helloTimeoutMs });

  return {
    name: 'wgp',
    adapterPid: () => adapter.pid,

    async generateVideo(req: GenerateVideoRequest): Promise<GenerateVideoResult> {
      const length = wanLength(req.frames);
      const outDir = await mkdtemp(path.join(path.dirname(req.outputPath), `.wgp-${req.taskId}-`));
      const notes: string[] = [];
      try {
        const result = await adapter.request(
          'generate',
          {
            prompt: req.prompt,
            negative_prompt: req.negativePrompt,
            resolution: `${req.width}x${req.height}`,
            video_length: length,
            seed: req.seed,
            model: req.model,
            video_guide: req.guideVideoPath ?? null,
            video_mask: req.maskVideoPath ?? null,
            image_refs: req.imageRefs ?? [],
            overrides: opts.overrides ?? {},
            extra: req.extra ?? {},
            output_dir: outDir,
          },
          {
            signal: req.signal,
            timeoutMs: opts.requestTimeoutMs,
            onMessage: (m) => {
              // Generation is most of the work; the trim below takes the last few percent.
              if (m.type === 'progress' && typeof m.percent === 'number') req.onProgress?.(Math.min(95, Math.max(0, m.percent * 0.95)));
            },
          },
        );
        const produced = typeof result.video_path === 'string' ? result.video_path : '';
        if (!produced) throw new EngineError('wgp adapter answered without a video_path');
        const info = await probeVideo(produced, req.signal).catch((err) => {
          throw new EngineError(`wgp adapter reported ${produced}, which is not a readable video: ${(err as Error).message}`, { cause: err });
        });
        if (info.frames < req.frames) {
          throw new EngineError(`wgp returned ${info.frames} frames for a request of ${req.frames} (asked for ${length}); refusing to pad a generation`);
        }
        if (info.frames !== length) notes.push(`wgp returned ${info.frames} frames, not the ${length} asked for`);
        if (Math.abs(info.fps - req.fps) > 0.01) notes.push(`wgp generated at ${info.fps} fps; written at ${req.fps} fps`);
        const resize = info.width !== req.width || info.height !== req.height;
        if (resize) notes.push(`wgp generated ${info.width}x${info.height}; scaled to ${req.width}x${req.height}`);
        await trimTo(produced, req, resize);
        req.onProgress?.(100);
        return { videoPath: req.outputPath, frames: req.frames, notes };
      } catch (err) {
        if (req.signal.aborted && !(err instanceof CancelledError)) throw new CancelledError('wgp generation aborted');
        throw err;
      } finally {
        await rm(outDir, { recursive: true, force: true });
      }
    },

    async close() {
      await adapter.close();
    },
  };
}

async function trimTo(source: string, req: GenerateVideoRequest, resize: boolean): Promise<void> {
  const out = writeVideo(req.outputPath, { width: req.width, height: req.height, fps: req.fps, lossless: true, signal: req.signal });
  try {
    const size = resize ? { width: req.width, height: req.height } : {};
    for await (const f of decodeFrames(source, { ...size, count: req.frames, signal: req.signal })) await out.write(f);
    await out.close();
  } catch (err) {
    out.abort();
    throw err;
  }
}
