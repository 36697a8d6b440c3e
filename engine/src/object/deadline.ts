/**
 * A client-side request deadline for SDKs that have none (the Azure SDK's `tryTimeoutInMs`
 * only asks the *server* to give up; a silent peer hangs the call forever). Combines the
 * caller's signal with a timer; a call that fails because the timer fired is a transient
 * error (retryable), while a caller's abort stays an ObjectAbortedError.
 */
import { type ObjectStoreError, ObjectTransientError } from "./errors.js";
import { mapStoreError } from "./http-errors.js";

export class Deadline {
  readonly signal: AbortSignal;
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private expired = false;

  constructor(
    private readonly outer: AbortSignal | undefined,
    readonly ms: number,
  ) {
    this.timer = setTimeout(() => {
      this.expired = true;
      this.controller.abort(new Error(`request timed out after ${ms} ms`));
    }, ms);
    this.signal = outer ? AbortSignal.any([outer, this.controller.signal]) : this.controller.signal;
  }

  /** Stops the timer (e.g. once response headers are in). Idempotent. */
  clear(): void {
    clearTimeout(this.timer);
  }

  /** Maps an error from a call made under this deadline. */
  error(err: unknown, key: string | undefined): ObjectStoreError {
    this.clear();
    if (this.expired && !this.outer?.aborted) {
      return new ObjectTransientError(`request timed out after ${this.ms} ms`, key, false, { cause: err });
    }
    return mapStoreError(err, key, this.outer);
  }
}

/** Budget for a transfer of `bytes`: the base plus time at a pessimistic 256 KiB/s. */
export function transferBudgetMs(baseMs: number, bytes: number): number {
  return baseMs + Math.ceil((bytes / (256 * 1024)) * 1000);
}
