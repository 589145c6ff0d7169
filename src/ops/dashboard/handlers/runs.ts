import { isTaskStatus, KNOWN_TASK_TYPES, type TaskRow } from '../../../core/types.ts';
import { ValidationError } from '../../../core/errors.ts';
import type { TaskFilter } from '../../../db/task-store.ts';
import { html, layout } from '../html.ts';
import { buildRunView, RUN_ROOT_TYPES, type RunView } from '../run-view.ts';
import { json, page, type DashboardDeps, type Handler, type HandlerRequest } from '../handler.ts';
import { runSummary, searchForm, tasksTable, type RunSearch } from '../views/runs.ts';

const PAGE_SIZE = 50;

export function parseSearch(query: Record<string, string>): RunSearch {
  const q = (query.q ?? '').trim();
  const status = (query.status ?? '').trim();
  const taskType = (query.task_type ?? '').trim();
  if (status !== '' && !isTaskStatus(status)) throw new ValidationError('status', `${JSON.stringify(status)} is not a task status; use one of Queued, In Progress, Complete, Failed, Cancelled`);
  if (q.length > 200) throw new ValidationError('q', 'search text is longer than 200 characters; paste a run id or task id');
  if (taskType.length > 100) throw new ValidationError('task_type', 'task type is longer than 100 characters');
  return { q, status, taskType };
}

/** The root row of a run: the row without a parent (the orchestrator). */
export function rootOf(rows: TaskRow[]): TaskRow | null {
  return rows.find((r) => r.parentTaskId === null && (RUN_ROOT_TYPES as readonly string[]).includes(r.taskType)) ?? rows.find((r) => r.parentTaskId === null) ?? null;
}

export async function loadRun(deps: DashboardDeps, runId: string): Promise<RunView | null> {
  const rows = await deps.store.listByRun(runId);
  const root = rootOf(rows);
  return root ? buildRunView(root, rows) : null;
}

async function runViewForRoot(deps: DashboardDeps, root: TaskRow): Promise<RunView> {
  const rows = root.runId ? await deps.store.listByRun(root.runId) : [root];
  return buildRunView(root, rows.some((r) => r.taskId === root.taskId) ? rows : [root, ...rows]);
}

/** Runs matching a search: by run id or task id when `q` is given, else the newest roots. */
export async function searchRuns(deps: DashboardDeps, s: RunSearch): Promise<{ runs: RunView[]; tasks: TaskRow[] | null }> {
  const roots = new Map<string, TaskRow>();
  if (s.q) {
    const hit = await deps.store.get(s.q);
    const runIds = new Set<string>([s.q]);
    if (hit?.runId) runIds.add(hit.runId);
    for (const id of runIds) {
      const root = rootOf(await deps.store.listByRun(id));
      if (root) roots.set(root.taskId, root);
    }
    if (hit && !hit.runId && hit.parentTaskId === null && (RUN_ROOT_TYPES as readonly string[]).includes(hit.taskType)) roots.set(hit.taskId, hit);
  } else {
    const types = s.taskType && (RUN_ROOT_TYPES as readonly string[]).includes(s.taskType) ? [s.taskType] : [...RUN_ROOT_TYPES];
    for (const taskType of types) {
      const filter: TaskFilter = { rootsOnly: true, taskType, limit: PAGE_SIZE };
      if (isTaskStatus(s.status)) filter.status = s.status;
      for (const r of await deps.store.list(filter)) roots.set(r.taskId, r);
    }
  }
  let rootRows = [...roots.values()];
  if (s.q && isTaskStatus(s.status)) rootRows = rootRows.filter((r) => r.status === s.status);
  if (s.q && s.taskType && (RUN_ROOT_TYPES as readonly string[]).includes(s.taskType)) rootRows = rootRows.filter((r) => r.taskType === s.taskType);
  rootRows.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  const runs = await Promise.all(rootRows.slice(0, PAGE_SIZE).map((r) => runViewForRoot(deps, r)));
  const searching = s.q !== '' || s.status !== '' || s.taskType !== '';
  return { runs, tasks: searching ? await searchTasks(deps, s) : null };
}

export async function searchTasks(deps: DashboardDeps, s: RunSearch, limit = 200): Promise<TaskRow[]> {
  const base: TaskFilter = { limit };
  if (isTaskStatus(s.status)) base.status = s.status;
  if (s.taskType) base.taskType = s.taskType;
  if (!s.q) return deps.store.list(base);
  const [byId, byRun] = await Promise.all([deps.store.list({ ...base, taskId: s.q }), deps.store.list({ ...base, runId: s.q })]);
  const seen = new Map<string, TaskRow>();
  for (const r of [...byId, ...byRun]) seen.set(r.taskId, r);
  return [...seen.values()];
}

function roleOf(req: HandlerRequest, deps: DashboardDeps): string | null {
  return deps.credentialsConfigured ? req.role : null;
}

export const runsPage: Handler = async (req, deps) => {
  const s = parseSearch(req.query);
  const { runs, tasks } = await searchRuns(deps, s);
  const body = html`<h2>Runs</h2>${searchForm(s, KNOWN_TASK_TYPES)}
${runs.length === 0 ? html`<p class="muted empty">No runs${s.q || s.status || s.taskType ? ' match this search' : ' yet'}.</p>` : runs.map((r) => runSummary(r, { detail: false }))}
${tasks !== null ? html`<h2>Matching tasks</h2>${tasksTable(tasks)}` : ''}`;
  return page(200, layout('Runs', body, { role: roleOf(req, deps), notice: req.query.notice ?? null }));
};

export const runPage: Handler = async (req, deps) => {
  const run = await loadRun(deps, req.params.run_id!);
  if (!run) return page(404, layout('Run not found', html`<h2>Run not found</h2><p>No rows carry run id <code>${req.params.run_id}</code>. <a href="/runs">All runs</a></p>`, { role: roleOf(req, deps) }));
  return page(200, layout(`Run ${run.runId}`, runSummary(run, { detail: true }), { role: roleOf(req, deps), notice: req.query.notice ?? null }));
};

export const apiRun: Handler = async (req, deps) => {
  const run = await loadRun(deps, req.params.run_id!);
  return run ? json(200, run) : json(404, { error: `no run with id ${req.params.run_id}` });
};

export const apiRuns: Handler = async (req, deps) => {
  const { runs } = await searchRuns(deps, parseSearch(req.query));
  return json(200, { runs });
};
