import { pino, type Logger, type DestinationStream } from 'pino';

/**
 * Structured JSON-lines logs for workers. One line per event with stable keys (`taskId`,
 * `taskType`, `queue`) so a log shipper can follow one task across workers and child processes.
 */
export interface WorkerLoggerOptions {
  /** Worker name, stamped on every line. */
  name: string;
  /** `--debug` → level debug; otherwise info. */
  debug?: boolean;
  /** Overrides the level (tests use 'silent'). */
  level?: string;
  /** Where lines go; default stdout. */
  destination?: DestinationStream;
}

export function createWorkerLogger(opts: WorkerLoggerOptions): Logger {
  const level = opts.level ?? process.env.SMQ_LOG_LEVEL ?? (opts.debug ? 'debug' : 'info');
  return pino({ level, base: { worker: opts.name, pid: process.pid } }, opts.destination ?? pino.destination(1));
}
