/**
 * `memory://name`: an in-process store for tests and the reference implementation of the
 * contract. Instances opened with the same name share data (a test can "reopen" a store);
 * `MemoryObjectStore.reset(name)` forgets it. Bodies are copied in and out, so callers can
 * never alias stored bytes. Etags are a per-process generation counter: every put gets a
 * fresh one, so a stale etag never matches again (no ABA).
 */
import { z } from "zod";
import { ObjectNotFoundError, ObjectPreconditionFailedError, ObjectStoreError } from "./errors.js";
import { assertValidKey, assertValidListPrefix, clipRange, compareKeys, pageLimit, throwIfAborted } from "./keys.js";
import { parseUrlPart, registerObjectStoreScheme } from "./registry.js";
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

/** One named store: its objects plus a sorted key index rebuilt lazily after inserts/deletes. */
interface Namespace {
  objects: Map<string, StoredObject>;
  sorted: string[] | undefined;
}

const namespaces = new Map<string, Namespace>();
let generation = 0;

export class MemoryObjectStore implements ObjectStore {
  readonly capabilities: StoreCapabilities = { conditionalPut: true };
  readonly description: string;
  private readonly space: Namespace;
  private closed = false;

  constructor(readonly name: string) {
    this.description = `memory://${name}`;
    const space = namespaces.get(name) ?? { objects: new Map(), sorted: undefined };
    namespaces.set(name, space);
    this.space = space;
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
    const current = this.space.objects.get(key);
    if (options?.ifNoneMatch === "*" && current) throw new ObjectPreconditionFailedError(key);
    if (options?.ifMatch !== undefined && current?.etag !== options.ifMatch) {
      throw new ObjectPreconditionFailedError(key);
    }
    const stored = { body: Buffer.from(body), etag: `m${(++generation).toString(16)}`, lastModified: new Date() };
    if (!current) this.space.sorted = undefined;
    this.space.objects.set(key, stored);
    return { etag: stored.etag };
  }

  async delete(key: string, options?: CallOptions): Promise<void> {
    await this.enter(key, options);
    if (this.space.objects.delete(key)) this.space.sorted = undefined;
  }

  async list(prefix: string, options?: ListOptions): Promise<ListPage> {
    assertValidListPrefix(prefix);
    await this.enter(undefined, options);
    const limit = pageLimit(options?.limit);
    const after = options?.cursor;
    this.space.sorted ??= [...this.space.objects.keys()].sort(compareKeys);
    const sorted = this.space.sorted;
    // Binary search for the first key after the cursor (or at the prefix), then scan.
    const strict = after !== undefined && compareKeys(after, prefix) >= 0;
    const from = strict ? after : prefix;
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = compareKeys(sorted[mid]!, from);
      if (c < 0 || (c === 0 && strict)) lo = mid + 1;
      else hi = mid;
    }
    const page: string[] = [];
    let i = lo;
    for (; i < sorted.length && sorted[i]!.startsWith(prefix) && page.length < limit; i++) page.push(sorted[i]!);
    const objects = page.map((k) => info(k, this.space.objects.get(k)!));
    const more = i < sorted.length && sorted[i]!.startsWith(prefix);
    return more ? { objects, cursor: page[page.length - 1]! } : { objects };
  }

  /** Nothing to connect: local I/O has no setup round trip. */
  async preconnect(): Promise<void> {}

  async close(): Promise<void> {
    this.closed = true;
  }

  private async lookup(key: string, options?: CallOptions): Promise<StoredObject> {
    await this.enter(key, options);
    const object = this.space.objects.get(key);
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
  const name = parseUrlPart(url, "name", memoryName, url.hostname + url.pathname.replace(/\/$/, ""));
  return new MemoryObjectStore(name);
});
