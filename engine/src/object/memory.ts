/**
 * `memory://name`: an in-process store for tests and the reference implementation of the
 * contract. Instances opened with the same name share data (a test can "reopen" a store);
 * `MemoryObjectStore.reset(name)` forgets it. Bodies are copied in and out, so callers can
 * never alias stored bytes. Etags are a per-process generation counter: every put gets a
 * fresh one, so a stale etag never matches again (no ABA).
 */
import { z } from "zod";
import { ObjectNotFoundError, ObjectPreconditionFailedError, ObjectStoreError } from "./errors.js";
import { assertValidKey, assertValidListPrefix, clipRange, compareKeys, throwIfAborted } from "./keys.js";
import { registerObjectStoreScheme, urlPartError } from "./registry.js";
import type {
  CallOptions,
  GetOptions,
  ListOptions,
  ListPage,
  ObjectInfo,
  ObjectStore,
  PutOptions,
  PutResult,
  StoreCapabilities,
} from "./types.js";

interface StoredObject {
  body: Buffer;
  etag: string;
  lastModified: Date;
}

const namespaces = new Map<string, Map<string, StoredObject>>();
let generation = 0;

export class MemoryObjectStore implements ObjectStore {
  readonly capabilities: StoreCapabilities = { conditionalPut: true };
  readonly description: string;
  private readonly objects: Map<string, StoredObject>;
  private closed = false;

  constructor(readonly name: string) {
    this.description = `memory://${name}`;
    const objects = namespaces.get(name) ?? new Map<string, StoredObject>();
    namespaces.set(name, objects);
    this.objects = objects;
  }

  /** Drops all data kept under `name` (tests). */
  static reset(name: string): void {
    namespaces.delete(name);
  }

  async get(key: string, options?: GetOptions): Promise<Buffer> {
    const object = await this.lookup(key, options);
    const [start, end] = clipRange(options?.range, object.body.length);
    return Buffer.from(object.body.subarray(start, end));
  }

  async head(key: string, options?: CallOptions): Promise<ObjectInfo> {
    return info(key, await this.lookup(key, options));
  }

  async put(key: string, body: Buffer, options?: PutOptions): Promise<PutResult> {
    await this.enter(key, options);
    const current = this.objects.get(key);
    if (options?.ifNoneMatch === "*" && current) throw new ObjectPreconditionFailedError(key);
    if (options?.ifMatch !== undefined && current?.etag !== options.ifMatch) {
      throw new ObjectPreconditionFailedError(key);
    }
    const stored = { body: Buffer.from(body), etag: `m${(++generation).toString(16)}`, lastModified: new Date() };
    this.objects.set(key, stored);
    return { etag: stored.etag };
  }

  async delete(key: string, options?: CallOptions): Promise<void> {
    await this.enter(key, options);
    this.objects.delete(key);
  }

  async list(prefix: string, options?: ListOptions): Promise<ListPage> {
    assertValidListPrefix(prefix);
    await this.enter(undefined, options);
    const limit = options?.limit ?? 1000;
    const after = options?.cursor;
    const keys = [...this.objects.keys()]
      .filter((k) => k.startsWith(prefix) && (after === undefined || compareKeys(k, after) > 0))
      .sort(compareKeys);
    const page = keys.slice(0, limit);
    const objects = page.map((k) => info(k, this.objects.get(k)!));
    return keys.length > limit ? { objects, cursor: page[page.length - 1]! } : { objects };
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private async lookup(key: string, options?: CallOptions): Promise<StoredObject> {
    await this.enter(key, options);
    const object = this.objects.get(key);
    if (!object) throw new ObjectNotFoundError(key);
    return object;
  }

  /** Validation + one async hop, so every call is really asynchronous like a remote store. */
  private async enter(key: string | undefined, options?: CallOptions): Promise<void> {
    if (key !== undefined) assertValidKey(key);
    if (this.closed) throw new ObjectStoreError(`${this.description} is closed`, key);
    throwIfAborted(options?.signal, key);
    await Promise.resolve();
    throwIfAborted(options?.signal, key);
  }
}

function info(key: string, object: StoredObject): ObjectInfo {
  return { key, size: object.body.length, etag: object.etag, lastModified: object.lastModified };
}

const memoryName = z.string().regex(/^[A-Za-z0-9._-]+$/, "expected a name of letters, digits, '.', '_' or '-'");

registerObjectStoreScheme("memory", (url) => {
  const name = memoryName.safeParse(url.hostname + url.pathname.replace(/\/$/, ""));
  if (!name.success) throw urlPartError(url, "name", name.error);
  return new MemoryObjectStore(name.data);
});
