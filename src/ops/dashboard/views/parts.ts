import type { TaskStatus } from '../../../core/types.ts';
import { html, qs, type SafeHtml } from '../html.ts';
import { isVideoLocation } from '../run-view.ts';

export function statusBadge(status: TaskStatus): SafeHtml {
  return html`<span class="st st-${status.replace(/\s+/g, '-')}">${status}</span>`;
}

export function progressBar(percent: number | null, stage: string | null = null): SafeHtml {
  if (percent === null) return html`<span class="muted">${stage ?? '–'}</span>`;
  return html`<span class="bar" title="${percent}%"><span style="width:${percent}%"></span></span> ${percent}%${stage ? html` <span class="muted">${stage}</span>` : ''}`;
}

/** A URL for an output: remote URLs as they are, local files through /files (restricted to rows). */
export function fileHref(taskId: string, location: string): string {
  return /^https?:\/\//i.test(location) ? location : `/files${qs({ task_id: taskId, path: location })}`;
}

export function outputCell(taskId: string, location: string | null): SafeHtml | string {
  if (!location) return '';
  if (isVideoLocation(location) || /^(\/|https?:\/\/)/i.test(location)) return html`<a href="${fileHref(taskId, location)}">${shortPath(location)}</a>`;
  return location;
}

export function videoPlayer(taskId: string, location: string): SafeHtml {
  return html`<video controls preload="metadata" src="${fileHref(taskId, location)}"></video><div class="muted">${location}</div>`;
}

export function shortPath(p: string): string {
  const parts = p.split(/[\\/]/);
  return parts[parts.length - 1] || p;
}

export function actionButtons(kind: 'runs' | 'tasks', id: string, status: TaskStatus, back: string): SafeHtml {
  const action = (verb: 'cancel' | 'retry') =>
    html`<form class="inline" method="post" action="/api/${kind}/${encodeURIComponent(id)}/${verb}"><input type="hidden" name="redirect" value="${back}"><button type="submit">${verb === 'cancel' ? 'Cancel' : 'Retry'}</button></form>`;
  const open = status === 'Queued' || status === 'In Progress';
  const retryable = status === 'Failed' || status === 'Cancelled';
  return html`${open ? action('cancel') : ''}${retryable ? action('retry') : ''}`;
}
