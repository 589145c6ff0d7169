import { stat } from 'node:fs/promises';
import ort from 'onnxruntime-node';
import { EngineError } from '../../../core/errors.ts';

export type Session = ort.InferenceSession;

/**
 * Loads ONNX models by path, once each, with the errors a user can act on: a missing file, a file
 * that is not an ONNX model, or a model whose input names are not the ones smq feeds.
 * With `gpu` set, the CUDA provider is asked for that device; when it is not installed the model
 * runs on CPU and a note says so (the engine reports it with its result), never a crash.
 */
export class SessionCache {
  private readonly sessions = new Map<string, Promise<Session>>();
  readonly notes = new Set<string>();
  /** After one failed CUDA attempt the rest of the models go straight to CPU (no repeated ORT noise). */
  private cudaFailed = false;

  constructor(private readonly gpu: number | undefined) {}

  get(modelPath: string, expectedInputs: readonly string[], role: string): Promise<Session> {
    const key = `${modelPath}\0${expectedInputs.join(',')}`;
    let s = this.sessions.get(key);
    if (!s) {
      s = this.load(modelPath, expectedInputs, role);
      // A failed load is not cached, so fixing the file on disk is enough to recover.
      s.catch(() => this.sessions.delete(key));
      this.sessions.set(key, s);
    }
    return s;
  }

  private async load(modelPath: string, expectedInputs: readonly string[], role: string): Promise<Session> {
    const info = await stat(modelPath).catch(() => null);
    if (!info) throw new EngineError(`${role} model file ${modelPath} does not exist: check the path (smq's own models are written by \`npm run models\`)`);
    if (!info.isFile()) throw new EngineError(`${role} model file ${modelPath} is not a regular file`);
    const session = await this.create(modelPath, role);
    const missing = expectedInputs.filter((n) => !session.inputNames.includes(n));
    if (missing.length > 0) {
      await session.release().catch(() => {});
      throw new EngineError(
        `${role} model ${modelPath} has inputs [${session.inputNames.join(', ')}] but smq feeds [${expectedInputs.join(', ')}] (missing ${missing.join(', ')}); see README "ONNX engine" for the expected names and shapes`,
      );
    }
    return session;
  }

  private async create(modelPath: string, role: string): Promise<Session> {
    if (this.gpu !== undefined && !this.cudaFailed) {
      try {
        return await ort.InferenceSession.create(modelPath, { executionProviders: [{ name: 'cuda', deviceId: this.gpu }] });
      } catch (err) {
        if (isMalformed(err)) throw malformed(modelPath, role, err);
        this.cudaFailed = true;
        this.notes.add(`CUDA execution provider unavailable for GPU ${this.gpu} (${firstLine(err)}); running on CPU`);
      }
    }
    try {
      return await ort.InferenceSession.create(modelPath, { executionProviders: ['cpu'] });
    } catch (err) {
      throw malformed(modelPath, role, err);
    }
  }

  async close(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map((p) => p.then((s) => s.release()).catch(() => {})));
  }
}

function isMalformed(err: unknown): boolean {
  return /protobuf|parsing|invalid model|load model/i.test(String((err as Error)?.message ?? err));
}

function malformed(modelPath: string, role: string, err: unknown): EngineError {
  return new EngineError(`${role} model file ${modelPath} could not be loaded as an ONNX model: ${firstLine(err)}`, { cause: err });
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0].slice(0, 300);
}
