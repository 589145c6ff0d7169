import { SmqError } from '../../../core/errors.ts';
import { json, localPath, redirect, type DashboardDeps, type Handler, type HandlerRequest, type HandlerResult } from '../handler.ts';
import { rootOf } from './runs.ts';

/**
 * Cancel and retry, for one task or a whole run (its root task). They call the producers'
 * control functions — the same code path as `smq cancel|retry` — never a copy of them.
 */
type Verb = 'cancel' | 'retry';

async function perform(deps: DashboardDeps, verb: Verb, taskId: string): Promise<unknown> {
  return verb === 'cancel' ? deps.control.cancel(taskId) : deps.control.retry(taskId);
}

function respond(req: HandlerRequest, status: number, body: Record<string, unknown>): HandlerResult {
  const back = req.fromForm ? localPath(req.body.redirect) : null;
  if (back) {
    const note = status < 300 ? `${String(body.action)} requested for ${String(body.id)}` : `error: ${String(body.error)}`;
    const sep = back.includes('?') ? '&' : '?';
    return redirect(`${back}${sep}notice=${encodeURIComponent(note)}`);
  }
  return json(status, body);
}

async function act(req: HandlerRequest, deps: DashboardDeps, verb: Verb, taskId: string, id: string): Promise<HandlerResult> {
  try {
    const result = await perform(deps, verb, taskId);
    return respond(req, 200, { ok: true, action: verb, id, taskId, result: result ?? null });
  } catch (err) {
    if (err instanceof SmqError && (err.code === 'NOT_FOUND' || err.code === 'VALIDATION')) {
      return respond(req, err.code === 'NOT_FOUND' ? 404 : 409, { error: err.message, action: verb, id });
    }
    throw err;
  }
}

const taskAction =
  (verb: Verb): Handler =>
  async (req, deps) => {
    const id = req.params.task_id!;
    if (!(await deps.store.get(id))) return respond(req, 404, { error: `no task with task_id ${id}`, action: verb, id });
    return act(req, deps, verb, id, id);
  };

const runAction =
  (verb: Verb): Handler =>
  async (req, deps) => {
    const id = req.params.run_id!;
    const root = rootOf(await deps.store.listByRun(id)) ?? (await deps.store.get(id));
    if (!root) return respond(req, 404, { error: `no run with id ${id}`, action: verb, id });
    return act(req, deps, verb, root.taskId, id);
  };

export const cancelTask = taskAction('cancel');
export const retryTask = taskAction('retry');
export const cancelRun = runAction('cancel');
export const retryRun = runAction('retry');
