/**
 * How a running job is stopped (cancel, timeout, shutdown hand-back, BullMQ's own cancel): the first
 * reason wins, `stopped` rejects with it, and `signal` aborts with it.
 *
 * The AbortController behind `signal` is made only when someone asks for it (a child-process task,
 * or an inline handler that reads `ctx.signal`): Node's AbortController and its EventTarget cost
 * more per job than a no-op handler, and most quick inline handlers never look at the signal.
 */
export class JobStop {
  private reasonValue: unknown;
  private isStopped = false;
  private controller: AbortController | undefined;
  private rejectStopped!: (reason: unknown) => void;
  /** Rejects with the reason once the job is stopped; never resolves. */
  readonly stopped: Promise<never>;

  constructor() {
    this.stopped = new Promise<never>((_, reject) => (this.rejectStopped = reject));
    // Nobody may be racing it (the job finished first); a stop then is not an unhandled rejection.
    this.stopped.catch(() => {});
  }

  get aborted(): boolean {
    return this.isStopped;
  }

  get reason(): unknown {
    return this.reasonValue;
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.isStopped) this.controller.abort(this.reasonValue);
    }
    return this.controller.signal;
  }

  stop(reason: unknown): void {
    if (this.isStopped) return;
    this.isStopped = true;
    this.reasonValue = reason;
    this.controller?.abort(reason);
    this.rejectStopped(reason);
  }
}
