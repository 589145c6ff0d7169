import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import type { SmqConfig } from '../../core/config.ts';
import { ConfigError, NotFoundError, StoreError } from '../../core/errors.ts';
import type { OutputStorage } from '../handlers/types.ts';
import { contentTypeFor, objectKey } from './content-type.ts';
import { downloadToDir } from './download.ts';

export interface OutputStorageOptions {
  /** Whole-transfer limit for downloading a URL reference. @defaultValue 600000 (10 min) */
  downloadTimeoutMs?: number;
}

/**
 * Where outputs go (spec decision 3). SQLite/PostgreSQL: files stay on the shared output root and
 * the reference is the absolute path. Supabase: the file is uploaded to SUPABASE_VIDEO_BUCKET at
 * `<task_id>/<quoted name>` with upsert (a retried job overwrites its own object) and the
 * reference is the public URL. `resolve` accepts either kind, so any worker can open any reference.
 */
export function createOutputStorage(config: SmqConfig, opts: OutputStorageOptions = {}): OutputStorage {
  const downloadTimeoutMs = opts.downloadTimeoutMs ?? 600_000;
  let client: SupabaseClient | null = null;
  const supabase = (): SupabaseClient => {
    if (client) return client;
    if (!config.supabaseUrl) throw new ConfigError('SUPABASE_URL', 'Supabase mode uploads outputs to Storage and needs SUPABASE_URL');
    if (!config.supabaseServiceKey) throw new ConfigError('SUPABASE_SERVICE_KEY', 'Supabase mode uploads outputs to Storage and needs SUPABASE_SERVICE_KEY');
    client = createClient(config.supabaseUrl, config.supabaseServiceKey, { auth: { persistSession: false, autoRefreshToken: false } });
    return client;
  };

  return {
    async publish(localPath, { taskId, fileName }) {
      const abs = path.resolve(localPath);
      const info = await stat(abs).catch(() => null);
      if (!info?.isFile()) throw new NotFoundError(`cannot publish ${abs}: no such file (the step that should have written it did not)`);
      if (config.dbType !== 'supabase') return abs;
      const name = fileName ?? path.basename(abs);
      const key = objectKey(taskId, name);
      const bucket = supabase().storage.from(config.supabaseVideoBucket);
      const { error } = await bucket.upload(key, createReadStream(abs), { upsert: true, contentType: contentTypeFor(name), duplex: 'half' });
      if (error) {
        const status = String((error as { statusCode?: unknown }).statusCode ?? (error as { status?: unknown }).status ?? '');
        // 4xx (bad key, missing bucket, too large) will not heal by retrying; 5xx and network errors may.
        const retryable = status === '' || status.startsWith('5');
        throw new StoreError(
          `upload of ${abs} to Storage bucket ${JSON.stringify(config.supabaseVideoBucket)} as ${key} failed${status ? ` (status ${status})` : ''}: ${error.message}`,
          { retryable, cause: error },
        );
      }
      // Storage decodes the object path once, so the stored name is the plain file name. supabase-js's
      // getPublicUrl would encodeURI the quoted key a second time (and leaves `#`/`?` raw), giving a
      // URL that misses the object; the quoted key itself is the URL path that decodes to the name.
      return `${config.supabaseUrl!.replace(/\/+$/, '')}/storage/v1/object/public/${encodeURIComponent(config.supabaseVideoBucket)}/${key}`;
    },

    async resolve(reference, workDir) {
      if (/^https?:\/\//i.test(reference)) return downloadToDir(new URL(reference), workDir, { timeoutMs: downloadTimeoutMs });
      const local = reference.startsWith('file://') ? fileURLToPath(reference) : path.resolve(reference);
      const info = await stat(local).catch(() => null);
      if (!info?.isFile()) {
        throw new NotFoundError(`reference ${JSON.stringify(reference)} is not a readable file on this worker: intermediate files must live under the shared output root every worker mounts (or be Storage URLs)`);
      }
      return local;
    },
  };
}
