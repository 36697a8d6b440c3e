/**
 * The one way the engine talks to object storage.
 *
 * Contract (pinned by the conformance suite in engine/test/object/conformance.ts):
 * - Every call is idempotent and safe to retry: put overwrites whole objects, delete of
 *   a missing key succeeds, get/head never have side effects.
 * - A missing key is always `ObjectNotFoundError` (never a backend-specific error).
 * - Keys are '/'-separated relative paths without a leading '/', no '.'/'..' segments.
 * - `get` ranges follow the store, not HTTP: `{offset, length}`; a range crossing the end
 *   is cut at the end, a range starting at or past the end returns an empty body.
 * - `list` is lexicographic by key (UTF-8 byte order, as S3/Azure) and paginates with an
 *   opaque continuation token.
 * - Every call honours `signal`: an aborted call rejects with `ObjectAbortedError`. An abort
 *   that races a put's commit may lose: the put then resolves, or (remote stores) rejects
 *   although it took effect — callers rely on put being idempotent, not on abort undoing it.
 * - Etags are opaque: compare them for equality only, and only within one store.
 * - Failures worth retrying are `ObjectTransientError`; `openObjectStore` already wraps
 *   network backends in the one retry layer (see retry.ts), so do not add another.
 */
export interface ObjectStore {
  /** Human-readable identity for logs and `filespace info` (never contains secrets). */
  readonly description: string;
  /** What this backend can promise; callers branch on it, never on the backend type. */
  readonly capabilities: StoreCapabilities;

  get(key: string, options?: GetOptions): Promise<Buffer>;
  head(key: string, options?: CallOptions): Promise<ObjectInfo>;
  /** Stores `body`; the store must not use `body` once this settles (callers reuse the buffer). */
  put(key: string, body: Buffer, options?: PutOptions): Promise<PutResult>;
  delete(key: string, options?: CallOptions): Promise<void>;
  list(prefix: string, options?: ListOptions): Promise<ListPage>;
  /** Release sockets, file handles; idempotent. */
  close(): Promise<void>;
  /**
   * Optional: get ready to serve a request soon (a network store opens a connection unless an
   * idle one is left), so connection setup overlaps whatever the caller does before its request.
   * Fire and forget: it never rejects, sends no request (unless `probeKey`), and a backend bounds
   * what it keeps open. Wrappers forward it; stores without connections omit it or do nothing.
   */
  preconnect?(options?: PreconnectOptions): Promise<void>;
}

export interface PreconnectOptions {
  /**
   * Also read one byte of this (existing) key, in every client of the store: the first request
   * of a fresh SDK client costs ~20 ms of CPU more than later ones (lazy loading, first run of
   * its middleware), which would otherwise land on the first cold read. For start-up, not for
   * every open: it is a real request.
   */
  probeKey?: string;
  /**
   * Open connections until this many are open or opening, instead of one. A sequential stream
   * is about to keep this many GETs in flight: each GET that finds no idle connection would
   * otherwise pay a connect round trip before its request (measured on a cold 1 GiB read at
   * 50 ms RTT: a mount grew from 5 to 25 connections during the read, and every GET that
   * opened one waited 2–5 round trips for its first byte while the reader stalled). Extra
   * connections idle out like any other. Backends without a connection pool ignore it.
   */
  connections?: number;
  /** Only this client: not the other clients of the same store in the process (preconnect-fanout.ts). */
  here?: boolean;
}

export interface StoreCapabilities {
  /**
   * `put` honours `ifNoneMatch: '*'` (create-only) and `ifMatch: etag` atomically.
   * Where false the options are rejected with `ObjectUnsupportedError`, so callers
   * that need fencing must decide what to do on stores without it.
   */
  readonly conditionalPut: boolean;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface GetOptions extends CallOptions {
  /** Byte range; omit for the whole object. */
  range?: ByteRange;
  /**
   * A buffer the backend may read the body into, to spare an allocation per GET (the data path
   * reuses a few of them). When it is used, the result is a view of it; backends may ignore it
   * and return a fresh buffer. The caller must not reuse `into` while it still needs the result.
   */
  into?: Buffer;
  /**
   * Called as the body arrives, when it is being read into `into`: the first `bytes` bytes of
   * `into` are final (lets the data path open blocks while the rest streams in). Backends may
   * never call it; a retried GET may call it again from a lower count.
   */
  onProgress?: (bytes: number) => void;
}

export interface ByteRange {
  offset: number;
  /** Number of bytes wanted (the result is shorter if the object ends first). */
  length: number;
}

export interface PutOptions extends CallOptions {
  /** '*' = create only; fails with `ObjectPreconditionFailedError` if the key exists. */
  ifNoneMatch?: "*";
  /** Overwrite only if the current etag equals this one. */
  ifMatch?: string;
}

export interface PutResult {
  etag: string;
}

export interface ObjectInfo {
  key: string;
  size: number;
  etag: string;
  lastModified: Date;
}

export interface ListOptions extends CallOptions {
  /** Continuation token from a previous page. */
  cursor?: string;
  /** Upper bound on the page size (backends may return fewer). Default 1000. */
  limit?: number;
}

export interface ListPage {
  objects: ObjectInfo[];
  /** Present when more results follow. */
  cursor?: string;
}
