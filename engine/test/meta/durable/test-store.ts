/**
 * A small Map-based ObjectStore for the durability tests (memory:// had not landed when these
 * were written). It follows the ObjectStore contract and adds what the tests need:
 * - `conditionalPut` can be switched off (to exercise the lease-check fallback, like s3rver),
 * - fault hooks around put (drop before it lands, lose the reply after it landed, hang),
 * - `crash()`: every later call of *this handle* rejects, as if the process died, while the
 *   data stays for the next instance opened on `share()`.
 */
import { ObjectNotFoundError, ObjectPreconditionFailedError, ObjectStoreError } from "../../../src/object/errors.js";
import type { ListPage, ObjectInfo, ObjectStore, PutOptions } from "../../../src/object/types.js";

interface Stored {
  body: Buffer;
  etag: string;
  lastModified: Date;
}

export type PutFault = "drop" | "lose-reply" | "hang" | undefined;

export class TestStore implements ObjectStore {
  readonly description = "test://map";
  readonly capabilities: { conditionalPut: boolean };
  readonly data: Map<string, Stored>;
  #crashed = false;
  #dropInFlight = false;
  static #etag = 0;
  /** Decide a fault for each put (called before it is applied). */
  putFault: (key: string) => PutFault = () => undefined;
  /** Extra delay for puts under a prefix (a slow upload). */
  putDelayMs = 0;
  puts = 0;

  constructor(options: { conditionalPut?: boolean; data?: Map<string, Stored> } = {}) {
    this.capabilities = { conditionalPut: options.conditionalPut ?? true };
    this.data = options.data ?? new Map();
  }

  /** Another handle on the same data (a new process on the same bucket). */
  share(options: { conditionalPut?: boolean } = {}): TestStore {
    return new TestStore({
      conditionalPut: options.conditionalPut ?? this.capabilities.conditionalPut,
      data: this.data,
    });
  }

  /**
   * The process dies: no new call gets through. `inFlightLands` decides whether puts already
   * sent still reach the store (a request on the wire) or not (killed before sending).
   */
  crash(inFlightLands = false): void {
    this.#crashed = true;
    this.#dropInFlight = !inFlightLands;
  }

  async #enter(): Promise<void> {
    await new Promise((r) => setImmediate(r));
    if (this.#crashed) throw new ObjectStoreError("process crashed");
  }

  async get(key: string): Promise<Buffer> {
    await this.#enter();
    const o = this.data.get(key);
    if (!o) throw new ObjectNotFoundError(key);
    return Buffer.from(o.body);
  }

  async head(key: string): Promise<ObjectInfo> {
    await this.#enter();
    const o = this.data.get(key);
    if (!o) throw new ObjectNotFoundError(key);
    return { key, size: o.body.length, etag: o.etag, lastModified: o.lastModified };
  }

  async put(key: string, body: Buffer, options: PutOptions = {}): Promise<{ etag: string }> {
    await this.#enter();
    this.puts++;
    if (this.putDelayMs) await new Promise((r) => setTimeout(r, this.putDelayMs));
    const fault = this.putFault(key);
    if (fault === "hang") return new Promise(() => {});
    if (fault === "drop") throw new ObjectStoreError(`injected: put dropped (${key})`);
    if (this.#dropInFlight) throw new ObjectStoreError("process crashed");
    const current = this.data.get(key);
    if (this.capabilities.conditionalPut) {
      if (options.ifNoneMatch === "*" && current) throw new ObjectPreconditionFailedError(key);
      if (options.ifMatch !== undefined && current?.etag !== options.ifMatch)
        throw new ObjectPreconditionFailedError(key);
    }
    const etag = `e${++TestStore.#etag}`;
    this.data.set(key, { body: Buffer.from(body), etag, lastModified: new Date() });
    if (fault === "lose-reply") throw new ObjectStoreError(`injected: reply lost (${key})`);
    return { etag };
  }

  async delete(key: string): Promise<void> {
    await this.#enter();
    this.data.delete(key);
  }

  async list(prefix: string, options: { cursor?: string; limit?: number } = {}): Promise<ListPage> {
    await this.#enter();
    const limit = options.limit ?? 1000;
    const keys = [...this.data.keys()]
      .filter((k) => k.startsWith(prefix) && (!options.cursor || k > options.cursor))
      .sort();
    const page = keys.slice(0, limit);
    const objects = page.map((key) => {
      const o = this.data.get(key)!;
      return { key, size: o.body.length, etag: o.etag, lastModified: o.lastModified };
    });
    return keys.length > limit ? { objects, cursor: page.at(-1)! } : { objects };
  }

  async close(): Promise<void> {}
}
