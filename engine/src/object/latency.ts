/**
 * Simulated WAN for benchmarks and tests (this kernel has no netem): a fixed latency per
 * direction on every request, and optional bandwidth per direction shared by all
 * concurrent calls of this wrapper.
 *
 * Bandwidth model: each direction is one FIFO link. A transfer departs when the link is
 * free, occupies it for bytes/rate, and arrives one latency later — so concurrent calls
 * share the rate (8 parallel 4 MiB gets on a 100 MiB/s link take as long as 32 MiB
 * serially) while latencies overlap, as on a real pipe. There is no burst allowance.
 */
import { sleep } from "./keys.js";
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

export interface LatencyOptions {
  /** One-way delay client → store, per request (ms). */
  requestMs?: number;
  /** One-way delay store → client, per response (ms). */
  responseMs?: number;
  /** Upload bandwidth in bytes/s shared by all concurrent puts (default unlimited). */
  uploadBytesPerSecond?: number;
  /** Download bandwidth in bytes/s shared by all concurrent gets (default unlimited). */
  downloadBytesPerSecond?: number;
}

/** One direction of a link: FIFO serialisation at `rate` plus a propagation delay. */
export class SimulatedLink {
  private busyUntil = 0;

  constructor(
    private readonly bytesPerSecond: number | undefined,
    private readonly latencyMs: number,
  ) {}

  /** Resolves when `bytes` sent now would have arrived at the other end. */
  send(bytes: number, signal?: AbortSignal, key?: string): Promise<void> {
    const now = performance.now();
    let arrival = now + this.latencyMs;
    if (this.bytesPerSecond && bytes > 0) {
      const departs = Math.max(now, this.busyUntil);
      this.busyUntil = departs + (bytes / this.bytesPerSecond) * 1000;
      arrival = this.busyUntil + this.latencyMs;
    }
    const wait = arrival - now;
    return wait > 0 ? sleep(wait, signal, key) : Promise.resolve();
  }
}

export class LatencyObjectStore implements ObjectStore {
  private readonly up: SimulatedLink;
  private readonly down: SimulatedLink;

  constructor(
    readonly inner: ObjectStore,
    readonly options: LatencyOptions,
  ) {
    this.up = new SimulatedLink(options.uploadBytesPerSecond, options.requestMs ?? 0);
    this.down = new SimulatedLink(options.downloadBytesPerSecond, options.responseMs ?? 0);
  }

  get description(): string {
    const { requestMs = 0, responseMs = 0 } = this.options;
    return `${this.inner.description} (+${requestMs}/${responseMs} ms simulated)`;
  }
  get capabilities() {
    return this.inner.capabilities;
  }

  async get(key: string, options?: GetOptions): Promise<Buffer> {
    await this.up.send(0, options?.signal, key);
    const body = await this.inner.get(key, options);
    await this.down.send(body.length, options?.signal, key);
    return body;
  }
  head(key: string, options?: CallOptions): Promise<ObjectInfo> {
    return this.roundTrip(key, options, () => this.inner.head(key, options));
  }
  async put(key: string, body: Buffer, options?: PutOptions): Promise<PutResult> {
    await this.up.send(body.length, options?.signal, key);
    const result = await this.inner.put(key, body, options);
    await this.down.send(0, options?.signal, key);
    return result;
  }
  delete(key: string, options?: CallOptions): Promise<void> {
    return this.roundTrip(key, options, () => this.inner.delete(key, options));
  }
  list(prefix: string, options?: ListOptions): Promise<ListPage> {
    return this.roundTrip(prefix, options, () => this.inner.list(prefix, options));
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  preconnect(options?: PreconnectOptions): Promise<void> {
    return this.inner.preconnect?.(options) ?? Promise.resolve();
  }

  private async roundTrip<T>(key: string, options: CallOptions | undefined, call: () => Promise<T>): Promise<T> {
    await this.up.send(0, options?.signal, key);
    const result = await call();
    await this.down.send(0, options?.signal, key);
    return result;
  }
}

export function withLatency(store: ObjectStore, options: LatencyOptions): LatencyObjectStore {
  return new LatencyObjectStore(store, options);
}
