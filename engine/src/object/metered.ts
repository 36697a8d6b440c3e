/**
 * Metering wrapper: requests, failures and bytes per operation, as a plain-object snapshot
 * for `filespace stats`, egress accounting and (later) Prometheus.
 *
 * Where it sits decides what it counts: inside the retry wrapper it counts every attempt
 * on the wire; outside it counts logical calls. `openObjectStore` does not add it — the
 * engine wraps `metered(retry(backend))`'s inner layer as it needs. Bytes out are counted
 * when a put is attempted (they went on the wire even if the answer was an error); bytes
 * in are counted for bodies actually received.
 */
import { ObjectNotFoundError } from "./errors.js";
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

export const OBJECT_OPS = ["get", "put", "head", "delete", "list"] as const;
export type ObjectOp = (typeof OBJECT_OPS)[number];

export interface OpCounters {
  requests: number;
  /** Failed calls other than not-found (which is an answer, not a failure). */
  errors: number;
  notFound: number;
  /** Bytes received from the store (get bodies). */
  bytesIn: number;
  /** Bytes sent to the store (put bodies). */
  bytesOut: number;
}

export type MeterSnapshot = Record<ObjectOp | "total", OpCounters>;

const zero = (): OpCounters => ({ requests: 0, errors: 0, notFound: 0, bytesIn: 0, bytesOut: 0 });

export class MeteredObjectStore implements ObjectStore {
  private counters = freshCounters();

  constructor(readonly inner: ObjectStore) {}

  get description(): string {
    return this.inner.description;
  }
  get capabilities() {
    return this.inner.capabilities;
  }

  /** A copy: later calls do not change a snapshot already taken. */
  snapshot(): MeterSnapshot {
    const total = zero();
    const out = { total } as MeterSnapshot;
    for (const op of OBJECT_OPS) {
      const c = { ...this.counters[op] };
      out[op] = c;
      for (const field of Object.keys(total) as (keyof OpCounters)[]) total[field] += c[field];
    }
    return out;
  }

  reset(): void {
    this.counters = freshCounters();
  }

  get(key: string, options?: GetOptions): Promise<Buffer> {
    return this.count(
      "get",
      0,
      () => this.inner.get(key, options),
      (body) => body.length,
    );
  }
  head(key: string, options?: CallOptions): Promise<ObjectInfo> {
    return this.count("head", 0, () => this.inner.head(key, options));
  }
  put(key: string, body: Buffer, options?: PutOptions): Promise<PutResult> {
    return this.count("put", body.length, () => this.inner.put(key, body, options));
  }
  delete(key: string, options?: CallOptions): Promise<void> {
    return this.count("delete", 0, () => this.inner.delete(key, options));
  }
  list(prefix: string, options?: ListOptions): Promise<ListPage> {
    return this.count("list", 0, () => this.inner.list(prefix, options));
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  preconnect(options?: PreconnectOptions): Promise<void> {
    return this.inner.preconnect?.(options) ?? Promise.resolve();
  }

  private async count<T>(op: ObjectOp, bytesOut: number, call: () => Promise<T>, bytesIn?: (r: T) => number) {
    const c = this.counters[op];
    c.requests++;
    c.bytesOut += bytesOut;
    try {
      const result = await call();
      if (bytesIn) c.bytesIn += bytesIn(result);
      return result;
    } catch (err) {
      if (err instanceof ObjectNotFoundError) c.notFound++;
      else c.errors++;
      throw err;
    }
  }
}

function freshCounters(): Record<ObjectOp, OpCounters> {
  return Object.fromEntries(OBJECT_OPS.map((op) => [op, zero()])) as Record<ObjectOp, OpCounters>;
}

export function metered(store: ObjectStore): MeteredObjectStore {
  return new MeteredObjectStore(store);
}
