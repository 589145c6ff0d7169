/**
 * Named errors with a typed `code`, so callers can narrow instead of matching message text.
 * `retryable` says whether a job failing with it should be retried by BullMQ.
 */
export type SmqErrorCode =
  | 'CONFIG'
  | 'VALIDATION'
  | 'NOT_FOUND'
  | 'STORE'
  | 'MEDIA'
  | 'ENGINE'
  | 'TIMEOUT'
  | 'CANCELLED'
  | 'UNKNOWN_TASK_TYPE';

export class SmqError extends Error {
  readonly code: SmqErrorCode;
  readonly retryable: boolean;
  constructor(code: SmqErrorCode, message: string, opts: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = opts.retryable ?? false;
  }
}

/** A setting (env var or flag) is missing or wrong; `field` names it. */
export class ConfigError extends SmqError {
  readonly field: string;
  constructor(field: string, message: string) {
    super('CONFIG', message);
    this.field = field;
  }
}

/** Bad input at an edge (CLI flag, params JSON, HTTP body); `field` names it, the message says the fix. */
export class ValidationError extends SmqError {
  readonly field: string;
  constructor(field: string, message: string) {
    super('VALIDATION', `${field}: ${message}`);
    this.field = field;
  }
}

export class NotFoundError extends SmqError {
  constructor(message: string) {
    super('NOT_FOUND', message);
  }
}

export class StoreError extends SmqError {
  constructor(message: string, opts: { retryable?: boolean; cause?: unknown } = {}) {
    super('STORE', message, { retryable: opts.retryable ?? true, cause: opts.cause });
  }
}

export class MediaError extends SmqError {
  constructor(message: string, opts: { retryable?: boolean; cause?: unknown } = {}) {
    super('MEDIA', message, opts);
  }
}

export class EngineError extends SmqError {
  constructor(message: string, opts: { retryable?: boolean; cause?: unknown } = {}) {
    super('ENGINE', message, opts);
  }
}

export class TaskTimeoutError extends SmqError {
  constructor(message: string) {
    super('TIMEOUT', message);
  }
}

export class CancelledError extends SmqError {
  constructor(message = 'cancelled') {
    super('CANCELLED', message);
  }
}

export class UnknownTaskTypeError extends SmqError {
  constructor(taskType: string) {
    super('UNKNOWN_TASK_TYPE', `unknown task_type ${JSON.stringify(taskType)}: smq has no handler for it (known types are listed in README "Task types")`);
  }
}
