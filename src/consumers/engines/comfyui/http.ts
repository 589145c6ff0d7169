import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { EngineError } from '../../../core/errors.ts';
import { describeValidationError, type OutputFile } from './workflow.ts';

/** The three ComfyUI routes smq uses (plus /interrupt), with errors that say which server and why. */
export class ComfyClient {
  readonly base: string;
  constructor(url: string) {
    this.base = url.replace(/\/+$/, '');
  }

  async queuePrompt(prompt: unknown, clientId: string, signal: AbortSignal): Promise<string> {
    const res = await this.fetch('/prompt', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt, client_id: clientId }), signal });
    const text = await res.text();
    const body = parseJson(text);
    if (res.status === 400) throw new EngineError(`ComfyUI at ${this.base} rejected the workflow: ${describeValidationError(body ?? text)}`);
    if (!res.ok) throw new EngineError(`ComfyUI at ${this.base}: POST /prompt answered HTTP ${res.status}: ${text.slice(0, 300)}`, { retryable: res.status >= 500 });
    const id = (body as { prompt_id?: unknown } | null)?.prompt_id;
    if (typeof id !== 'string' || id === '') throw new EngineError(`ComfyUI at ${this.base}: POST /prompt answered without a prompt_id: ${text.slice(0, 300)}`);
    return id;
  }

  /** The history entry of a prompt, or null while it is queued or running (ComfyUI answers `{}`). */
  async history(promptId: string, signal: AbortSignal): Promise<Record<string, unknown> | null> {
    const res = await this.fetch(`/history/${encodeURIComponent(promptId)}`, { signal });
    if (!res.ok) throw new EngineError(`ComfyUI at ${this.base}: GET /history answered HTTP ${res.status}`, { retryable: true });
    const body = (await res.json()) as Record<string, unknown>;
    return (body?.[promptId] as Record<string, unknown> | undefined) ?? null;
  }

  async download(file: OutputFile, target: string, signal: AbortSignal): Promise<void> {
    const q = new URLSearchParams({ filename: file.filename, subfolder: file.subfolder, type: file.type });
    const res = await this.fetch(`/view?${q}`, { signal });
    if (!res.ok || !res.body) {
      throw new EngineError(`ComfyUI at ${this.base}: GET /view of ${file.subfolder ? `${file.subfolder}/` : ''}${file.filename} (${file.type}) answered HTTP ${res.status}`, { retryable: res.status >= 500 });
    }
    const part = `${target}.part`;
    try {
      await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), createWriteStream(part), { signal });
      await rename(part, target);
    } catch (err) {
      await rm(part, { force: true });
      throw err;
    }
  }

  /** Best effort: stops the prompt on the server when smq gives up on it. */
  async interrupt(promptId: string): Promise<void> {
    await this.fetch('/interrupt', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt_id: promptId }), signal: AbortSignal.timeout(5000) }).catch(() => {});
  }

  private async fetch(route: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(`${this.base}${route}`, init);
    } catch (err) {
      if ((init.signal as AbortSignal | undefined)?.aborted) throw err;
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new EngineError(`ComfyUI at ${this.base} is not reachable (${cause?.code ?? cause?.message ?? (err as Error).message}); check comfyui_server_address / --comfyui-url`, { retryable: true, cause: err });
    }
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
