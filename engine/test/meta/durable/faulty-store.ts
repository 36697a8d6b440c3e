/**
 * Wraps a real ObjectStore (memory://, file://) with the failures a crash test needs: puts
 * dropped before landing, replies lost after landing, uploads that hang, and `crash()` —
 * this handle (the "process") dies while the data stays for the next handle on the same store.
 * `conditionalPut: false` makes it behave like s3rver (conditions ignored, declared unsupported).
 */
import { ObjectStoreError } from "../../../src/object/errors.js";
import type {
  CallOptions,
  GetOptions,
  ListOptions,
  ListPage,
  ObjectInfo,
  ObjectStore,
  PutOptions,
  PutResult,
} from "../../../src/object/types.js";
import type { PutFault } from "./test-store.js";

export class FaultyStore implements ObjectStore {
  readonly description: string;
  readonly capabilities: { conditionalPut: boolean };
  putFault: (key: string) => PutFault = () => undefined;
  #crashed = false;
  #dropInFlight = false;

  constructor(
    readonly inner: ObjectStore,
    options: { conditionalPut?: boolean } = {},
  ) {
    this.description = `faulty(${inner.description})`;
    this.capabilities = { conditionalPut: options.conditionalPut ?? inner.capabilities.conditionalPut };
  }

  crash(inFlightLands = false): void {
    this.#crashed = true;
    this.#dropInFlight = !inFlightLands;
  }

  #check(): void {
    if (this.#crashed) throw new ObjectStoreError("process crashed");
  }

  async get(key: string, options?: GetOptions): Promise<Buffer> {
    this.#check();
    return this.inner.get(key, options);
  }
  async head(key: string, options?: CallOptions): Promise<ObjectInfo> {
    this.#check();
    return this.inner.head(key, options);
  }
  async put(key: string, body: Buffer, options: PutOptions = {}): Promise<PutResult> {
    this.#check();
    const fault = this.putFault(key);
    await new Promise((r) => setImmediate(r));
    if (fault === "hang") return new Promise(() => {});
    if (fault === "drop" || this.#dropInFlight) throw new ObjectStoreError(`injected: put dropped (${key})`);
    const result = await this.inner.put(key, body, this.capabilities.conditionalPut ? options : {});
    if (fault === "lose-reply") throw new ObjectStoreError(`injected: reply lost (${key})`);
    return result;
  }
  async delete(key: string, options?: CallOptions): Promise<void> {
    this.#check();
    return this.inner.delete(key, options);
  }
  async list(prefix: string, options?: ListOptions): Promise<ListPage> {
    this.#check();
    return this.inner.list(prefix, options);
  }
  async close(): Promise<void> {}
}
