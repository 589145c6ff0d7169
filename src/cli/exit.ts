import { SmqError } from '../core/errors.ts';

/** Exit codes shared by every CLI: 0 ok, 2 bad arguments/configuration (the message names the fix), 1 anything else. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof SmqError && (err.code === 'VALIDATION' || err.code === 'CONFIG')) return 2;
  return 1;
}

export function printError(err: unknown): void {
  const msg = err instanceof Error ? err.message : String(err);
  process.stderr.write(`error: ${msg}\n`);
  if (process.env.SMQ_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
}
