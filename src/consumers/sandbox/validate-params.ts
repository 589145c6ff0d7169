import type { ZodError } from 'zod';

/**
 * One line naming every bad field and why, e.g.
 * `invalid params for travel_segment: segment_index: expected number, received string`.
 * The line becomes the job's failedReason and so the row's error_message.
 */
export function formatParamsError(taskType: string, error: ZodError): string {
  const parts = error.issues.map((issue) => {
    const field = issue.path.length ? issue.path.map(String).join('.') : '(params)';
    return `${field}: ${issue.message}`;
  });
  return `invalid params for ${taskType}: ${parts.join('; ')} (fix the task's params)`;
}
