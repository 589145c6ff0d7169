import { DelayedError, RateLimitError, UnrecoverableError, WaitingChildrenError } from 'bullmq';
import { SmqError } from '../../core/errors.ts';
import type { SerializedError } from './protocol.ts';

/**
 * The retry policy in one place: what a processor throws decides whether BullMQ retries.
 * Non-retryable SmqErrors (bad params, cancel, timeout, a missing file) become UnrecoverableError
 * so the row gets the reason at once; plain Errors and retryable SmqErrors are retried per `attempts`.
 * BullMQ's own control-flow errors (waiting-children, delayed, rate limit) pass through untouched.
 */
export function toJobError(err: unknown): Error {
  if (err instanceof WaitingChildrenError || err instanceof DelayedError || err instanceof RateLimitError) return err;
  if (err instanceof UnrecoverableError) return err;
  if (err instanceof SmqError) return err.retryable ? err : unrecoverable(err.message, err);
  if (err instanceof Error) return err;
  return new Error(typeof err === 'string' ? err : `non-Error thrown: ${safeString(err)}`);
}

export function isUnrecoverable(err: unknown): boolean {
  return err instanceof UnrecoverableError || (err instanceof SmqError && !err.retryable);
}

export function serializeError(err: unknown): SerializedError {
  if (err instanceof Error) {
    return {
      name: err.name,
      message: err.message,
      code: err instanceof SmqError ? err.code : undefined,
      unrecoverable: isUnrecoverable(err),
      stack: err.stack,
    };
  }
  return { name: 'Error', message: safeString(err), unrecoverable: false };
}

/** Rebuilds an error sent by a child so toJobError treats it as the child meant. */
export function deserializeError(e: SerializedError): Error {
  const err = e.unrecoverable ? new UnrecoverableError(e.message) : new Error(e.message);
  if (!e.unrecoverable) err.name = e.name;
  if (e.stack) err.stack = e.stack;
  return err;
}

function unrecoverable(message: string, cause: unknown): UnrecoverableError {
  const err = new UnrecoverableError(message);
  (err as Error & { cause?: unknown }).cause = cause;
  return err;
}

function safeString(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
