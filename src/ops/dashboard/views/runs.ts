import { TASK_STATUSES, type TaskRow } from '../../../core/types.ts';
import { html, type SafeHtml } from '../html.ts';
import { formatDuration, type RunView, type StepView } from '../run-view.ts';
import { actionButtons, outputCell, progressBar, statusBadge, videoPlayer } from './parts.ts';

export interface RunSearch {
  q: string;
  status: string;
  taskType: string;
}

export function searchForm(s: RunSearch, taskTypes: readonly string[]): SafeHtml {
  return html`<form method="get" action="/runs" class="search">
<input name="q" placeholder="run id or task id" value="${s.q}" size="36">
<select name="status"><option value="">any status</option>${TASK_STATUSES.map((st) => html`<option${st === s.status ? html` selected` : ''}>${st}</option>`)}</select>
<select name="task_type"><option value="">any task type</option>${taskTypes.map((t) => html`<option${t === s.taskType ? html` selected` : ''}>${t}</option>`)}</select>
<button type="submit">Search</button> <a href="/runs">clear</a></form>`;
}

export function stepsTable(steps: StepView[], back: string): SafeHtml {
  if (steps.length === 0) return html`<p class="muted">No steps yet.</p>`;
  return html`<table class="steps"><thead><tr><th>#</th><th>step</th><th>status</th><th>progress</th><th>worker</th><th>attempts</th><th>duration</th><th>output / error</th><th></th></tr></thead><tbody>
${steps.map(
  (s) => html`<tr data-task-id="${s.taskId}"><td>${s.index ?? ''}</td><td><a href="/tasks/${encodeURIComponent(s.taskId)}">${s.taskType}</a></td><td>${statusBadge(s.status)}</td>
<td>${progressBar(s.percent, s.stage)}</td><td>${s.workerId ?? ''}</td><td>${s.attempts}</td><td>${formatDuration(s.durationMs)}</td>
<td>${s.errorMessage ? html`<span class="err-msg">${s.errorMessage}</span>` : outputCell(s.taskId, s.outputLocation)}</td><td>${actionButtons('tasks', s.taskId, s.status, back)}</td></tr>`,
)}</tbody></table>`;
}

export function runSummary(run: RunView, opts: { detail: boolean }): SafeHtml {
  const back = opts.detail ? `/runs/${encodeURIComponent(run.runId)}` : '/runs';
  return html`<section class="run" data-run-id="${run.runId}">
<h3><a href="/runs/${encodeURIComponent(run.runId)}">${run.runId}</a> <span class="muted">${run.kind}</span> ${statusBadge(run.status)} ${actionButtons('runs', run.runId, run.status, back)}</h3>
<p>root <a href="/tasks/${encodeURIComponent(run.rootTaskId)}">${run.rootTaskId}</a> · created ${run.createdAt} · ${progressBar(run.percent)} ${run.durationMs !== null ? html`· ${formatDuration(run.durationMs)}` : ''}</p>
${run.errorMessage ? html`<p class="err-msg">${run.errorMessage}</p>` : ''}
${run.finalVideo ? html`<div class="final">${videoPlayer(finalOwner(run), run.finalVideo)}</div>` : ''}
${stepsTable(run.steps, back)}</section>`;
}

/** The row whose output_location is the final video (the /files check looks that row up). */
function finalOwner(run: RunView): string {
  const step = [...run.steps].reverse().find((s) => s.outputLocation === run.finalVideo);
  return step ? step.taskId : run.rootTaskId;
}

export function tasksTable(rows: TaskRow[]): SafeHtml {
  if (rows.length === 0) return html`<p class="muted">No tasks match.</p>`;
  return html`<table class="tasks"><thead><tr><th>task</th><th>type</th><th>status</th><th>run</th><th>worker</th><th>attempts</th><th>updated</th></tr></thead><tbody>
${rows.map(
  (r) => html`<tr><td><a href="/tasks/${encodeURIComponent(r.taskId)}">${r.taskId}</a></td><td>${r.taskType}</td><td>${statusBadge(r.status)}</td>
<td>${r.runId ? html`<a href="/runs/${encodeURIComponent(r.runId)}">${r.runId}</a>` : ''}</td><td>${r.workerId ?? ''}</td><td>${r.attempts}</td><td>${r.updatedAt}</td></tr>`,
)}</tbody></table>`;
}
