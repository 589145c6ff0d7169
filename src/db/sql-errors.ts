import { SmqError, StoreError, ValidationError } from '../core/errors.ts';

/**
 * One translator from database errors to smq's typed errors, for the direct PostgreSQL driver and
 * PostgREST alike. The sql/ functions raise SQLSTATE 22023 with "<field>: <fix>" for bad input;
 * that becomes ValidationError(field). Errors a retry cannot fix (syntax, missing objects, bad
 * data) are StoreErrors marked non-retryable; connection trouble stays retryable.
 */
export function errorFromSql(code: string | undefined | null, message: string, cause?: unknown, source = 'database'): SmqError {
  if (code === '22023') {
    const m = /^([A-Za-z_][A-Za-z0-9_.]*): ([\s\S]*)$/.exec(message);
    if (m) return new ValidationError(m[1], m[2]);
  }
  const permanent = code !== undefined && code !== null && /^(22|23|42|P0|PGRST1|PGRST2)/.test(code);
  return new StoreError(`${source}: ${message}${code ? ` (${code})` : ''}`, { retryable: !permanent, cause });
}
