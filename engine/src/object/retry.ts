/**
 * Retry wrapper: retries `ObjectTransientError` (throttled or not) with exponential backoff
 * and full jitter — delay = random(0, min(maxDelay, base·2^(attempt-1))) — within a budget of
 * attempts AND elapsed time, then throws `ObjectRetriesExhaustedError` naming the attempts
 * and the last cause. Every other error (not found, precondition, abort, bugs) passes
 * through at once. Sleeping honours the call's AbortSignal.
 *
 * Why not p-retry: its `randomize` multiplies the delay by [1, 2) instead of full jitter,
 * its elapsed-time budget does not count the upcoming sleep, and its abort surfaces as the
 * signal's reason rather than our ObjectAbortedError; the loop below is shorter than the
 * adapter would be.
 *
 * Caveat callers must know: a retried create-only put (`ifNoneMatch: '*'`) whose first
 * attempt succeeded but whose answer was lost fails with ObjectPreconditionFailedError.
 */
import { ObjectRetriesExhaustedError, ObjectTransientError } from "./errors.js";
import { sleep, throwIfAborted } from "./keys.js";
import type {
  CallOptions,
  GetOptions,
  ListOptions,
  ListPage,
  ObjectInfo,
  ObjectStore,
  PreconnectOptions,
  PutOptions,
  PutResult,
} from "./types.js";

export interface RetryOptions {
  /** Total attempts including the first (default 6). */
  maxAttempts?: number;
  /** Backoff base for transient errors (default 50 ms). */
  baseDelayMs?: number;
  /** Backoff base when the store says it is throttling us (default 500 ms). */
  throttledBaseDelayMs?: number;
  /** Cap on one delay (default 5 s). */
  maxDelayMs?: number;
  /** No retry starts whose sleep would end past this much time since the first attempt (default 60 s). */
  maxElapsedMs?: number;
  /** Source of randomness in [0, 1) — injectable for tests. */
  random?: () => number;
  /** Observability hook, called before each backoff sleep. */
  onRetry?: (event: RetryEvent) => void;
}

export interface RetryEvent {
  op: string;
  key: string | undefined;
  attempt: number;
  delayMs: number;
  error: ObjectTransientError;
}

const DEFAULTS = {
  maxAttempts: 6,
  baseDelayMs: 50,
  throttledBaseDelayMs: 500,
  maxDelayMs: 5_000,
  maxElapsedMs: 60_000,
};

/** Full-jitter delay before attempt `attempt + 1` (attempt counts from 1). */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
}

export class RetryingObjectStore implements ObjectStore {
  private readonly options: Required<Omit<RetryOptions, "onRetry">> & Pick<RetryOptions, "onRetry">;

  constructor(
    readonly inner: ObjectStore,
    options: RetryOptions = {},
  ) {
    this.options = { ...DEFAULTS, random: Math.random, ...options };
    if (!(this.options.maxAttempts >= 1)) throw new RangeError("retry maxAttempts must be at least 1");
  }

  get description(): string {
    return this.inner.description;
  }
  get capabilities() {
    return this.inner.capabilities;
  }

  get(key: string, options?: GetOptions): Promise<Buffer> {
    return this.run("get", key, options, () => this.inner.get(key, options));
  }
  head(key: string, options?: CallOptions): Promise<ObjectInfo> {
    return this.run("head", key, options, () => this.inner.head(key, options));
  }
  put(key: string, body: Buffer, options?: PutOptions): Promise<PutResult> {
    return this.run("put", key, options, () => this.inner.put(key, body, options));
  }
  delete(key: string, options?: CallOptions): Promise<void> {
    return this.run("delete", key, options, () => this.inner.delete(key, options));
  }
  list(prefix: string, options?: ListOptions): Promise<ListPage> {
    return this.run("list", undefined, options, () => this.inner.list(prefix, options));
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  preconnect(options?: PreconnectOptions): Promise<void> {
    return this.inner.preconnect?.(options) ?? Promise.resolve();
  }

  private async run<T>(op: string, key: string | undefined, call: CallOptions | undefined, fn: () => Promise<T>) {
    const o = this.options;
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      throwIfAborted(call?.signal, key);
      try {
        return await fn();
      } catch (err) {
        if (!(err instanceof ObjectTransientError)) throw err;
        if (attempt >= o.maxAttempts) throw new ObjectRetriesExhaustedError(attempt, key, err);
        const base = err.throttled ? o.throttledBaseDelayMs : o.baseDelayMs;
        const delayMs = backoffDelay(attempt, base, o.maxDelayMs, o.random);
        if (Date.now() - started + delayMs > o.maxElapsedMs) throw new ObjectRetriesExhaustedError(attempt, key, err);
        o.onRetry?.({ op, key, attempt, delayMs, error: err });
        await sleep(delayMs, call?.signal, key);
      }
    }
  }
}

export function withRetry(store: ObjectStore, options?: RetryOptions): RetryingObjectStore {
  return new RetryingObjectStore(store, options);
}
