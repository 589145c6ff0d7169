import type { TaskRow } from '../../../core/types.ts';
import { html, type SafeHtml } from '../html.ts';
import type { FlowNode, JobInfo } from '../job-inspect.ts';
import { durationMs, formatDuration, isVideoLocation, progressOf } from '../run-view.ts';
import { actionButtons, outputCell, progressBar, statusBadge, videoPlayer } from './parts.ts';

function taskLink(id: string): SafeHtml {
  return html`<a href="/tasks/${encodeURIComponent(id)}">${id}</a>`;
}

export function taskPage(row: TaskRow, job: JobInfo | null, children: TaskRow[]): SafeHtml {
  const { percent, stage } = progressOf(row);
  const back = `/tasks/${encodeURIComponent(row.taskId)}`;
  const fields: [string, SafeHtml | string | number][] = [
    ['task_id', row.taskId],
    ['task_type', row.taskType],
    ['status', statusBadge(row.status)],
    ['progress', progressBar(percent, stage)],
    ['run_id', row.runId ? html`<a href="/runs/${encodeURIComponent(row.runId)}">${row.runId}</a>` : ''],
    ['parent_task_id', row.parentTaskId ? taskLink(row.parentTaskId) : ''],
    ['worker_id', row.workerId ?? ''],
    ['attempts', row.attempts],
    ['queue_name', row.queueName ?? ''],
    ['created_at', row.createdAt],
    ['updated_at', row.updatedAt],
    ['started_at', row.startedAt ?? ''],
    ['finished_at', row.finishedAt ?? ''],
    ['duration', formatDuration(durationMs(row))],
    ['output_location', outputCell(row.taskId, row.outputLocation)],
    ['error_message', row.errorMessage ?? ''],
  ];
  return html`<h2>Task ${row.taskId} ${actionButtons('tasks', row.taskId, row.status, back)}</h2>
${isVideoLocation(row.outputLocation) ? videoPlayer(row.taskId, row.outputLocation) : ''}
<h3>Row</h3><table class="row">${fields.map(([k, v]) => html`<tr><th>${k}</th><td>${v}</td></tr>`)}</table>
<h3>BullMQ job</h3>${jobSection(job)}
<h3>Flow</h3>${flowSection(row, job, children)}
<h3>params</h3><pre>${row.params ? JSON.stringify(row.params, null, 2) : `not a JSON object: ${row.paramsError ?? ''}`}</pre>`;
}

function jobSection(job: JobInfo | null): SafeHtml {
  if (!job) return html`<p class="muted">No BullMQ job for this task (not dispatched yet, or removed after completion — the table is the record).</p>`;
  const t = (ms: number | null) => (ms ? new Date(ms).toISOString() : '');
  return html`<table class="job"><tr><th>queue</th><td><a href="/admin/queues/queue/${encodeURIComponent(job.queue)}">${job.queue}</a></td></tr>
<tr><th>state</th><td class="job-state">${job.state}</td></tr><tr><th>attemptsMade / started</th><td>${job.attemptsMade} / ${job.attemptsStarted}</td></tr>
<tr><th>processedBy</th><td>${job.processedBy ?? ''}</td></tr><tr><th>processedOn</th><td>${t(job.processedOn)}</td></tr>
<tr><th>finishedOn</th><td>${t(job.finishedOn)}</td></tr><tr><th>failedReason</th><td>${job.failedReason ?? ''}</td></tr></table>`;
}

function flowSection(row: TaskRow, job: JobInfo | null, children: TaskRow[]): SafeHtml {
  const parent = job?.parent ? html`${taskLink(job.parent.taskId)} <span class="muted">(${job.parent.queue})</span>` : row.parentTaskId ? taskLink(row.parentTaskId) : html`<span class="muted">none (root)</span>`;
  const jobChildren = job?.children ?? [];
  const seen = new Set<string>();
  const collect = (nodes: FlowNode[]) => nodes.forEach((n) => (seen.add(n.taskId), collect(n.children)));
  collect(jobChildren);
  const rowChildren = children.filter((c) => !seen.has(c.taskId));
  return html`<p>parent: ${parent}</p>
${jobChildren.length || rowChildren.length ? html`<ul class="flow">${flowList(jobChildren)}${rowChildren.map((c) => html`<li>${taskLink(c.taskId)} <span class="muted">${c.taskType} · row ${c.status}</span></li>`)}</ul>` : html`<p class="muted">no children</p>`}`;
}

function flowList(nodes: FlowNode[]): SafeHtml {
  return html`${nodes.map((c) => html`<li>${taskLink(c.taskId)} <span class="muted">${c.queue} · ${c.bucket}</span>${c.children.length ? html`<ul>${flowList(c.children)}</ul>` : ''}</li>`)}`;
}
