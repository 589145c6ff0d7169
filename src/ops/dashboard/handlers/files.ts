import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { json, type Handler } from '../handler.ts';

/**
 * Serves a task's recorded output so the runs page can play the final video inline. Only a path
 * that is exactly some row's output_location is served (the row is named by task_id), so the
 * endpoint cannot be turned into a file browser; traversal attempts are refused outright.
 */
export function checkRequestedPath(raw: string | undefined): { ok: true; path: string } | { ok: false; status: number; error: string } {
  if (!raw) return { ok: false, status: 400, error: 'path: missing; use /files?task_id=<id>&path=<output_location>' };
  if (raw.includes('\0')) return { ok: false, status: 400, error: 'path: contains a NUL byte' };
  if (!path.isAbsolute(raw)) return { ok: false, status: 400, error: 'path: must be absolute (an output_location from the table)' };
  if (raw.split(/[\\/]+/).includes('..')) return { ok: false, status: 400, error: 'path: ".." segments are not allowed' };
  return { ok: true, path: path.normalize(raw) };
}

export const serveFile: Handler = async (req, deps) => {
  const checked = checkRequestedPath(req.query.path);
  if (!checked.ok) return json(checked.status, { error: checked.error });
  const taskId = req.query.task_id;
  if (!taskId) return json(400, { error: 'task_id: missing; files are served only as the output of a named task' });
  const row = await deps.store.get(taskId);
  if (!row || !row.outputLocation || path.normalize(row.outputLocation) !== checked.path) {
    return json(403, { error: 'path: not the output_location recorded for this task' });
  }
  let real: string;
  try {
    real = await realpath(checked.path);
    if (!(await stat(real)).isFile()) return json(404, { error: 'path: not a file' });
  } catch {
    return json(404, { error: 'path: the recorded output no longer exists on this machine' });
  }
  return { status: 200, kind: 'file', path: real };
};
