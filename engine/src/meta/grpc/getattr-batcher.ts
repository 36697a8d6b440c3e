/**
 * getattr coalescing: while `pipeline` getattr rpcs of one context (token, session, snapshot)
 * are in flight, further getattr calls queue; when a slot frees they leave as ONE getattr
 * request carrying all their inodes (up to `batchMax`), and each caller gets its own slice of
 * the answer. Cheaper than the generic Batch rpc: one service call, one attr list.
 */
import type * as api from "../api.js";

interface Waiter {
  inos: number[];
  resolve: (r: api.GetattrResponse) => void;
  reject: (err: unknown) => void;
}
interface Lane {
  inFlight: number;
  queue: Waiter[];
}

export class GetattrBatcher {
  readonly #lanes = new Map<string, Lane>();

  constructor(
    readonly pipeline: number,
    readonly batchMax: number,
    readonly send: (ctx: api.CallContext, req: api.GetattrRequest) => Promise<api.GetattrResponse>,
  ) {}

  submit(ctx: api.CallContext, req: api.GetattrRequest): Promise<api.GetattrResponse> {
    if (req.inos.length >= this.batchMax) return this.send(ctx, req);
    const key = `${ctx.token}\0${ctx.sessionId ?? ""}\0${req.snapshot ?? ""}`;
    let lane = this.#lanes.get(key);
    if (!lane) {
      lane = { inFlight: 0, queue: [] };
      this.#lanes.set(key, lane);
    }
    const l = lane;
    return new Promise((resolve, reject) => {
      l.queue.push({ inos: req.inos, resolve, reject });
      this.#pump(key, l, ctx, req.snapshot);
    });
  }

  #pump(key: string, lane: Lane, ctx: api.CallContext, snapshot: string | undefined): void {
    while (lane.inFlight < this.pipeline && lane.queue.length > 0) {
      let take = 0;
      let count = 0;
      while (take < lane.queue.length && count + lane.queue[take]!.inos.length <= this.batchMax) {
        count += lane.queue[take]!.inos.length;
        take++;
      }
      const batch = lane.queue.splice(0, take);
      const inos = batch.flatMap((w) => w.inos);
      lane.inFlight++;
      const request: api.GetattrRequest = snapshot === undefined ? { inos } : { inos, snapshot };
      this.send(ctx, request)
        .then(
          (res) => {
            let at = 0;
            for (const w of batch) {
              w.resolve({ items: res.items.slice(at, at + w.inos.length) });
              at += w.inos.length;
            }
          },
          (err: unknown) => {
            for (const w of batch) w.reject(err);
          },
        )
        .finally(() => {
          lane.inFlight--;
          if (lane.inFlight === 0 && lane.queue.length === 0) this.#lanes.delete(key);
          else this.#pump(key, lane, ctx, snapshot);
        });
    }
  }
}
