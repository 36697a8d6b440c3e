/**
 * Fault-injection wrapper for tests: a list of rules, each matching an operation (and
 * optionally keys) and firing on chosen call numbers and/or with a probability. Faults:
 * an error (default: a retryable ObjectTransientError), a delay, a truncated get body, or
 * a lost acknowledgement (the put really happens, then the caller sees a transient error).
 *
 * Deterministic by seed: random draws come from a seeded PRNG, one draw per probabilistic
 * rule per matching call, in call order — the same seed and call sequence inject the same
 * faults. `injected` records what fired, for assertions and for pinning failing seeds.
 */
import { ObjectTransientError } from "./errors.js";
import { sleep } from "./keys.js";
import type { ObjectOp } from "./metered.js";
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

export type Fault =
  | { kind: "error"; error?: (op: ObjectOp, key: string | undefined) => Error }
  | { kind: "delay"; ms: number }
  /** get only: return the first `keepBytes` (default: half) of the body. */
  | { kind: "truncate"; keepBytes?: number }
  /** put only: perform the put, then fail as if the answer was lost. */
  | { kind: "ackLost" };

export interface FaultRule {
  op: ObjectOp | "*";
  fault: Fault;
  /** 1-based numbers of matching calls that fire (per rule). */
  nth?: number | number[];
  /** Chance in [0, 1] that a matching call fires. Combined with `nth` by OR. */
  probability?: number;
  /** Only calls whose key (list: prefix) matches. */
  key?: RegExp;
  /** Stop after firing this many times. */
  times?: number;
}

export interface InjectedFault {
  op: ObjectOp;
  key: string | undefined;
  kind: Fault["kind"];
  /** The rule's own count of matching calls when it fired. */
  call: number;
}

export interface FaultyOptions {
  seed?: number;
  rules: FaultRule[];
}

export class FaultyObjectStore implements ObjectStore {
  readonly injected: InjectedFault[] = [];
  rules: FaultRule[];
  private readonly random: () => number;
  private readonly seen = new Map<FaultRule, { calls: number; fired: number }>();

  constructor(
    readonly inner: ObjectStore,
    options: FaultyOptions,
  ) {
    this.rules = options.rules;
    this.random = mulberry32(options.seed ?? 1);
  }

  get description(): string {
    return `faulty(${this.inner.description})`;
  }
  get capabilities() {
    return this.inner.capabilities;
  }

  async get(key: string, options?: GetOptions): Promise<Buffer> {
    const faults = await this.before("get", key, options);
    const body = await this.inner.get(key, options);
    const cut = faults.find((f) => f.kind === "truncate");
    return cut ? body.subarray(0, Math.min(body.length, cut.keepBytes ?? Math.floor(body.length / 2))) : body;
  }
  async head(key: string, options?: CallOptions): Promise<ObjectInfo> {
    await this.before("head", key, options);
    return this.inner.head(key, options);
  }
  async put(key: string, body: Buffer, options?: PutOptions): Promise<PutResult> {
    const faults = await this.before("put", key, options);
    const result = await this.inner.put(key, body, options);
    if (faults.some((f) => f.kind === "ackLost")) {
      throw new ObjectTransientError(`injected fault: acknowledgement of put lost`, key);
    }
    return result;
  }
  async delete(key: string, options?: CallOptions): Promise<void> {
    await this.before("delete", key, options);
    return this.inner.delete(key, options);
  }
  async list(prefix: string, options?: ListOptions): Promise<ListPage> {
    await this.before("list", prefix, options);
    return this.inner.list(prefix, options);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  preconnect(options?: PreconnectOptions): Promise<void> {
    return this.inner.preconnect?.(options) ?? Promise.resolve();
  }

  /** Decides which rules fire for this call, applies delays and errors, returns the rest. */
  private async before(op: ObjectOp, key: string | undefined, options?: CallOptions): Promise<Fault[]> {
    const firing: Fault[] = [];
    for (const rule of this.rules) {
      if (rule.op !== "*" && rule.op !== op) continue;
      if (rule.key && (key === undefined || !rule.key.test(key))) continue;
      const state = this.seen.get(rule) ?? { calls: 0, fired: 0 };
      this.seen.set(rule, state);
      state.calls++;
      const byCount = rule.nth !== undefined && [rule.nth].flat().includes(state.calls);
      const byChance = rule.probability !== undefined && this.random() < rule.probability;
      if (!(byCount || byChance) || (rule.times !== undefined && state.fired >= rule.times)) continue;
      state.fired++;
      this.injected.push({ op, key, kind: rule.fault.kind, call: state.calls });
      firing.push(rule.fault);
    }
    for (const fault of firing) {
      if (fault.kind === "delay") await sleep(fault.ms, options?.signal, key);
    }
    for (const fault of firing) {
      if (fault.kind === "error") {
        throw fault.error?.(op, key) ?? new ObjectTransientError(`injected fault: ${op} failed`, key);
      }
    }
    return firing;
  }
}

/** Small, fast, seedable PRNG (public domain); quality is ample for fault schedules. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function faulty(store: ObjectStore, options: FaultyOptions): FaultyObjectStore {
  return new FaultyObjectStore(store, options);
}
