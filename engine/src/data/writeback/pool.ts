/** Upload concurrency and retry-until-aborted for the write-back pipeline. */

/** Thrown into pending work once the write-back is aborted; swallowed by the pipeline. */
export class Stopped extends Error {
  override name = "Stopped";
}

/** At most `size` tasks run at once; the rest wait in FIFO order. */
export class SlotPool {
  private free: number;
  private readonly waiters: Array<() => void> = [];

  constructor(
    size: number,
    private readonly stopped: () => boolean,
  ) {
    this.free = size;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    while (this.free === 0) {
      if (this.stopped()) throw new Stopped();
      await new Promise<void>((r) => this.waiters.push(r));
    }
    if (this.stopped()) throw new Stopped();
    this.free--;
    try {
      return await fn();
    } finally {
      this.free++;
      this.waiters.shift()?.();
    }
  }

  /** Wake every waiter (after abort, so they observe `stopped`). */
  wakeAll(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

export interface Backoff {
  retryBaseMs: number;
  retryMaxMs: number;
}

/**
 * Retry with capped exponential backoff until it works or `stopped()` says the write-back was
 * aborted (after abort nothing more reaches the store or the service: the next mount owns the log).
 */
export async function retryUntilStopped<T>(
  fn: () => Promise<T>,
  backoff: Backoff,
  stopped: () => boolean,
  onError: (err: unknown) => void,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    if (stopped()) throw new Stopped("write-back aborted");
    try {
      return await fn();
    } catch (err) {
      onError(err);
      if (stopped()) throw new Stopped("write-back aborted", { cause: err });
      const delay = Math.min(backoff.retryMaxMs, backoff.retryBaseMs * 2 ** Math.min(attempt, 20));
      await new Promise((r) => setTimeout(r, delay).unref());
    }
  }
}
