/**
 * Client-side call coalescing (Nagle for rpcs): per call context, up to `pipeline` rpcs go out
 * at once; calls made while that many are in flight queue, and when a slot frees the whole
 * queue (up to `maxCalls`) leaves as one message. A lone call is never delayed: with a free
 * slot it goes out immediately as a plain rpc. Latency cost under load is at most the wait for
 * one in-flight rpc; the gain is that N concurrent calls cost one round trip instead of N.
 */

export interface QueuedCall<M> {
  method: M;
  request: unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

export interface CoalescerOptions<M, C> {
  /** Rpcs in flight per context before calls queue. */
  pipeline: number;
  /** Most calls per batch. */
  maxCalls: number;
  /** Send one call as its own rpc. */
  sendOne: (ctx: C, method: M, request: unknown) => Promise<unknown>;
  /** Send several calls as one rpc; must settle every call's promise before it resolves. */
  sendBatch: (ctx: C, calls: QueuedCall<M>[]) => Promise<void>;
}

interface Lane<M> {
  inFlight: number;
  queue: QueuedCall<M>[];
}

export class Coalescer<M, C> {
  readonly #o: CoalescerOptions<M, C>;
  readonly #lanes = new Map<string, Lane<M>>();
  /** Rpcs sent and calls carried (observability: calls / rpcs = mean batch size). */
  readonly stats = { rpcs: 0, calls: 0, batches: 0 };

  constructor(options: CoalescerOptions<M, C>) {
    if (options.pipeline < 1 || options.maxCalls < 1) throw new RangeError("pipeline and maxCalls must be ≥ 1");
    this.#o = options;
  }

  /** `key` identifies the call context: only calls with the same context share an rpc. */
  submit(key: string, ctx: C, method: M, request: unknown): Promise<unknown> {
    let lane = this.#lanes.get(key);
    if (!lane) {
      lane = { inFlight: 0, queue: [] };
      this.#lanes.set(key, lane);
    }
    const l = lane;
    return new Promise((resolve, reject) => {
      l.queue.push({ method, request, resolve, reject });
      this.#pump(key, l, ctx);
    });
  }

  #pump(key: string, lane: Lane<M>, ctx: C): void {
    while (lane.inFlight < this.#o.pipeline && lane.queue.length > 0) {
      const calls = lane.queue.splice(0, this.#o.maxCalls);
      lane.inFlight++;
      this.stats.rpcs++;
      this.stats.calls += calls.length;
      let sent: Promise<unknown>;
      if (calls.length === 1) {
        const call = calls[0]!;
        sent = this.#o.sendOne(ctx, call.method, call.request).then(call.resolve, call.reject);
      } else {
        this.stats.batches++;
        sent = this.#o.sendBatch(ctx, calls).catch((err: unknown) => {
          for (const call of calls) call.reject(err);
        });
      }
      void sent.finally(() => {
        lane.inFlight--;
        if (lane.inFlight === 0 && lane.queue.length === 0) this.#lanes.delete(key);
        else this.#pump(key, lane, ctx);
      });
    }
  }
}
