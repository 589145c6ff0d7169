import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CancelledError, MediaError } from '../../core/errors.ts';
import { localNameFor } from './content-type.ts';

/**
 * Streams an http(s) URL into `workDir` (never whole in memory), under a `.part` name renamed on
 * success so a reader never sees a half file. The timeout covers the whole transfer.
 */
export async function downloadToDir(url: URL, workDir: string, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<string> {
  await mkdir(workDir, { recursive: true });
  const target = path.join(workDir, localNameFor(url));
  const part = `${target}.${process.pid}.part`;
  const timeout = AbortSignal.timeout(opts.timeoutMs);
  const signal = opts.signal ? AbortSignal.any([timeout, opts.signal]) : timeout;
  try {
    const res = await fetch(url, { signal });
    if (!res.ok || !res.body) {
      const text = await res.text().catch(() => '');
      throw new MediaError(`download of ${url.href} failed: HTTP ${res.status}${text ? `: ${text.slice(0, 300)}` : ''}`, { retryable: res.status >= 500 });
    }
    await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), createWriteStream(part), { signal });
    await rename(part, target);
    return target;
  } catch (err) {
    await rm(part, { force: true });
    if (err instanceof MediaError) throw err;
    if (opts.signal?.aborted) throw new CancelledError(`download of ${url.href} aborted`);
    if (timeout.aborted) throw new MediaError(`download of ${url.href} timed out after ${opts.timeoutMs} ms`, { retryable: true });
    throw new MediaError(`download of ${url.href} failed: ${(err as Error).message}`, { retryable: true, cause: err });
  }
}
