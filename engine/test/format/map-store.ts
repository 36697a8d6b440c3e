/**
 * A tiny Map-backed ObjectStore for format tests, with switchable conditional-put support so
 * both header-write paths (conditional, and head-then-put) run. Not a backend: the real ones
 * live in engine/src/object and have their own conformance suite.
 */
import { ObjectNotFoundError, ObjectPreconditionFailedError, ObjectUnsupportedError } from "../../src/object/errors.js";
import type { ObjectInfo, ObjectStore, PutOptions } from "../../src/object/types.js";

export class MapStore implements ObjectStore {
  readonly description = "map://test";
  readonly capabilities: { conditionalPut: boolean };
  readonly objects = new Map<string, { body: Buffer; etag: string }>();
  #etag = 0;

  constructor(conditionalPut = true) {
    this.capabilities = { conditionalPut };
  }

  async get(key: string): Promise<Buffer> {
    return Buffer.from(this.#lookup(key).body);
  }
  async head(key: string): Promise<ObjectInfo> {
    const o = this.#lookup(key);
    return { key, size: o.body.length, etag: o.etag, lastModified: new Date() };
  }
  async put(key: string, body: Buffer, options: PutOptions = {}) {
    if ((options.ifMatch || options.ifNoneMatch) && !this.capabilities.conditionalPut) {
      throw new ObjectUnsupportedError("conditional put is not supported", key);
    }
    const existing = this.objects.get(key);
    if (options.ifNoneMatch === "*" && existing) throw new ObjectPreconditionFailedError(key);
    if (options.ifMatch && existing?.etag !== options.ifMatch) throw new ObjectPreconditionFailedError(key);
    const etag = `e${++this.#etag}`;
    this.objects.set(key, { body: Buffer.from(body), etag });
    return { etag };
  }
  async delete(key: string) {
    this.objects.delete(key);
  }
  async list() {
    return { objects: [] };
  }
  async close() {}

  #lookup(key: string) {
    const o = this.objects.get(key);
    if (!o) throw new ObjectNotFoundError(key);
    return o;
  }
}
