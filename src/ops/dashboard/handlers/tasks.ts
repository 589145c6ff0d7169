import { html, layout } from '../html.ts';
import { inspectJob } from '../job-inspect.ts';
import { json, page, type Handler } from '../handler.ts';
import { taskPage as renderTask } from '../views/task.ts';
import { parseSearch, searchTasks } from './runs.ts';

export const taskPage: Handler = async (req, deps) => {
  const row = await deps.store.get(req.params.task_id!);
  const role = deps.credentialsConfigured ? req.role : null;
  if (!row) return page(404, layout('Task not found', html`<h2>Task not found</h2><p>No row with task_id <code>${req.params.task_id}</code>. <a href="/runs">All runs</a></p>`, { role }));
  const [job, family] = await Promise.all([inspectJob(deps.queues, deps.config.queuePrefix, row), row.runId ? deps.store.listByRun(row.runId) : Promise.resolve([])]);
  const children = family.filter((r) => r.parentTaskId === row.taskId);
  return page(200, layout(`Task ${row.taskId}`, renderTask(row, job, children), { role, notice: req.query.notice ?? null }));
};

export const apiTask: Handler = async (req, deps) => {
  const row = await deps.store.get(req.params.task_id!);
  if (!row) return json(404, { error: `no task with task_id ${req.params.task_id}` });
  const job = await inspectJob(deps.queues, deps.config.queuePrefix, row);
  return json(200, { task: row, job });
};

export const apiTasks: Handler = async (req, deps) => {
  const limitRaw = req.query.limit;
  let limit = 100;
  if (limitRaw !== undefined) {
    limit = Number(limitRaw);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) return json(400, { error: 'limit: must be an integer from 1 to 1000' });
  }
  const tasks = await searchTasks(deps, parseSearch(req.query), limit);
  return json(200, { tasks });
};
