import path from 'node:path';

const TYPES: Record<string, string> = {
  '.mp4': 'video/mp4',
  '.webm': 'video/webm',
  '.mov': 'video/quicktime',
  '.mkv': 'video/x-matroska',
  '.gif': 'image/gif',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.json': 'application/json',
};

/** Content type for an upload; Storage would otherwise store a Buffer as text/plain. */
export function contentTypeFor(fileName: string): string {
  return TYPES[path.extname(fileName).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * The object key the seed used: `<task_id>/<URL-quoted file name>`. Python's quote() leaves
 * letters, digits and `_.-~` alone; encodeURIComponent also leaves `!'()*`, so those are escaped too.
 */
export function objectKey(taskId: string, fileName: string): string {
  const quoted = encodeURIComponent(fileName).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${taskId}/${quoted}`;
}

/** A safe local file name for a downloaded reference (last URL path segment). */
export function localNameFor(url: URL): string {
  let last = url.pathname.split('/').filter(Boolean).pop() ?? '';
  try {
    last = decodeURIComponent(last);
  } catch {
    // A malformed escape is kept literally; the sanitising below makes it safe either way.
  }
  const safe = last.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '');
  return safe === '' ? 'download' : safe;
}
