/**
 * `file:///abs/dir`: objects as files under a directory, the embedded default.
 *
 * Atomicity: a put writes a temp file (`.fs-tmp-*`, in the target's own directory so the
 * rename never crosses a file system), fsyncs it, then renames it over the key (or link()s
 * it for create-only, which fails with EEXIST atomically) and fsyncs the directory. Readers
 * therefore see the old or the new object, never a torn one, whichever process wrote it.
 * Temp segments are reserved in keys and skipped by `list`; temp files of crashed writers
 * are removed by `removeStaleTempFiles` (for the garbage collector to call).
 *
 * Etags: `<inode>-<size>-<mtime ns>`, read from stat, so head/list never hash content.
 * Every put creates a fresh inode and stamps it with a process-wide strictly increasing
 * mtime (futimes before the rename), so a later object never repeats an earlier etag even
 * when the kernel reuses the inode number within one coarse clock tick.
 *
 * Conditional put: create-only is link(2) (atomic across processes). `ifMatch` compares
 * the current etag and renames under a per-key lock that works within and across
 * processes (fs-lock.ts: in-process queue + O_EXCL lock file). Every put and delete of a
 * key commits under that lock, so nothing slips between an ifMatch check and its rename.
 * The body is written and fsynced before the lock is taken, so the lock is held for
 * milliseconds whatever the object size.
 *
 * Limitation: a key cannot be both an object and a "directory" of other keys ("a" and
 * "a/b"); such a put fails with ObjectStoreError. The filespace layout never does this.
 * Empty directories left by deletes are harmless and not removed.
 */
import { randomBytes } from "node:crypto";
import { type FileHandle, link, mkdir, open, rename, stat, unlink } from "node:fs/promises";
import { dirname, isAbsolute, join } from "node:path";
import { z } from "zod";
import {
  ObjectNotFoundError,
  ObjectPreconditionFailedError,
  ObjectStoreError,
  ObjectTransientError,
} from "./errors.js";
import { withKeyLock } from "./fs-lock.js";
import { type KeyWalk, sweepTempFiles, walkKeysInOrder } from "./fs-walk.js";
import {
  assertValidKey,
  assertValidListPrefix,
  clipRange,
  pageLimit,
  RESERVED_SEGMENT_PREFIX,
  throwIfAborted,
} from "./keys.js";
import { parseUrlPart, queryOf, registerObjectStoreScheme, urlError } from "./registry.js";
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

export interface FileObjectStoreOptions {
  /** fsync file and directory on every put (default true; tests of other layers may turn it off). */
  fsync?: boolean;
}

/** Read in slices so a long get notices an abort between them. */
const READ_SLICE = 4 * 1024 * 1024;

export class FileObjectStore implements ObjectStore {
  readonly capabilities: StoreCapabilities = { conditionalPut: true };
  readonly description: string;
  private readonly fsync: boolean;

  constructor(
    readonly root: string,
    options: FileObjectStoreOptions = {},
  ) {
    if (!isAbsolute(root)) throw new ObjectStoreError(`file store root must be an absolute path, got ${root}`);
    this.description = `file://${root}`;
    this.fsync = options.fsync ?? true;
  }

  async get(key: string, options?: GetOptions): Promise<Buffer> {
    assertValidKey(key);
    throwIfAborted(options?.signal, key);
    const fh = await this.openForRead(key);
    try {
      const { size } = await fh.stat();
      const [start, end] = clipRange(options?.range, size);
      const into = options?.into;
      const usingInto = into !== undefined && into.length >= end - start;
      const out = usingInto ? into.subarray(0, end - start) : Buffer.allocUnsafe(end - start);
      let done = 0;
      while (done < out.length) {
        throwIfAborted(options?.signal, key);
        const want = Math.min(READ_SLICE, out.length - done);
        const { bytesRead } = await fh.read(out, done, want, start + done);
        if (bytesRead === 0) break; // cannot shrink: every write is a fresh inode
        done += bytesRead;
        if (usingInto) options?.onProgress?.(done);
      }
      throwIfAborted(options?.signal, key);
      return out.subarray(0, done);
    } finally {
      await fh.close();
    }
  }

  async head(key: string, options?: CallOptions): Promise<ObjectInfo> {
    assertValidKey(key);
    throwIfAborted(options?.signal, key);
    const st = await this.statObject(key);
    if (!st) throw new ObjectNotFoundError(key);
    return infoOf(key, st);
  }

  async put(key: string, body: Buffer, options?: PutOptions): Promise<PutResult> {
    assertValidKey(key);
    throwIfAborted(options?.signal, key);
    const path = this.pathOf(key);
    const dir = dirname(path);
    await mkdir(dir, { recursive: true }).catch((err) => {
      throw conflict(key, err);
    });
    // The body goes to disk outside the lock; only the check + commit are serialised.
    const tmp = join(dir, `${RESERVED_SEGMENT_PREFIX}${randomBytes(8).toString("hex")}`);
    let committed = false;
    try {
      const etag = await this.writeTemp(tmp, body);
      await withKeyLock(path, options?.signal, async () => {
        if (options?.ifMatch !== undefined) {
          const current = await this.statObject(key);
          if (!current || etagOf(current) !== options.ifMatch) throw new ObjectPreconditionFailedError(key);
        }
        throwIfAborted(options?.signal, key); // last point where giving up leaves no trace
        if (options?.ifNoneMatch === "*") {
          await link(tmp, path).catch((err) => {
            if (err?.code === "EEXIST") throw new ObjectPreconditionFailedError(key, { cause: err });
            throw conflict(key, err);
          });
        } else {
          await rename(tmp, path).catch((err) => {
            throw conflict(key, err);
          });
        }
        committed = true; // after link() the temp name is unlinked below; the key keeps the inode
      });
      if (this.fsync) await syncDir(dir);
      return { etag };
    } finally {
      if (!committed || options?.ifNoneMatch === "*") await unlink(tmp).catch(() => {});
    }
  }

  async delete(key: string, options?: CallOptions): Promise<void> {
    assertValidKey(key);
    throwIfAborted(options?.signal, key);
    const path = this.pathOf(key);
    await withKeyLock(path, options?.signal, async () => {
      await unlink(path).catch((err) => {
        // Missing, or a "directory" of other keys: either way no object has this key.
        if (!["ENOENT", "ENOTDIR", "EISDIR", "EPERM"].includes(err?.code)) throw wrap(key, err);
      });
    });
  }

  async list(prefix: string, options?: ListOptions): Promise<ListPage> {
    assertValidListPrefix(prefix);
    throwIfAborted(options?.signal);
    const limit = pageLimit(options?.limit);
    const found: ObjectInfo[] = [];
    // Collect one extra so the cursor is present only when more results really follow.
    const walk: KeyWalk = {
      root: this.root,
      prefix,
      after: options?.cursor,
      signal: options?.signal,
      visit: async (key) => {
        const st = await this.statObject(key); // gone since readdir: skip it
        if (st) found.push(infoOf(key, st));
        return found.length <= limit;
      },
    };
    try {
      await walkKeysInOrder(walk, prefix.slice(0, prefix.lastIndexOf("/") + 1));
    } catch (err) {
      throw err instanceof ObjectStoreError ? err : wrap(prefix, err);
    }
    if (found.length <= limit) return { objects: found };
    const objects = found.slice(0, limit);
    return { objects, cursor: objects[objects.length - 1]!.key };
  }

  /** Nothing to connect: local I/O has no setup round trip. */
  async preconnect(): Promise<void> {}

  async close(): Promise<void> {}

  /**
   * Deletes temp files a crashed writer left behind (never visible to `list`, but they hold
   * space). Only files older than `olderThanMs` go: a live put refreshes its temp file's
   * mtime when it finishes writing, and no put takes an hour. Returns how many were removed.
   */
  async removeStaleTempFiles(olderThanMs = 3_600_000, signal?: AbortSignal): Promise<number> {
    return sweepTempFiles(this.root, Date.now() - olderThanMs, signal);
  }

  private pathOf(key: string): string {
    return join(this.root, ...key.split("/"));
  }

  private async openForRead(key: string): Promise<FileHandle> {
    try {
      const fh = await open(this.pathOf(key), "r");
      if ((await fh.stat()).isDirectory()) {
        await fh.close();
        throw new ObjectNotFoundError(key);
      }
      return fh;
    } catch (err) {
      if (err instanceof ObjectNotFoundError) throw err;
      const code = (err as NodeJS.ErrnoException)?.code;
      if (code === "ENOENT" || code === "ENOTDIR") throw new ObjectNotFoundError(key, { cause: err });
      throw wrap(key, err);
    }
  }

  private async statObject(key: string): Promise<import("node:fs").BigIntStats | undefined> {
    try {
      const st = await stat(this.pathOf(key), { bigint: true });
      return st.isFile() ? st : undefined;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException)?.code;
      if (code === "ENOENT" || code === "ENOTDIR") return undefined;
      throw wrap(key, err);
    }
  }

  private async writeTemp(tmp: string, body: Buffer): Promise<string> {
    const fh = await open(tmp, "wx", 0o600);
    try {
      await fh.writeFile(body);
      const mtime = nextMtimeSeconds();
      await fh.utimes(mtime, mtime);
      if (this.fsync) await fh.sync();
      return etagOf(await fh.stat({ bigint: true }));
    } finally {
      await fh.close();
    }
  }
}

let lastMtimeMicros = 0;

/** Wall-clock seconds, strictly increasing per process in 1 µs steps (see etag note). */
function nextMtimeSeconds(): number {
  const now = Math.floor((performance.timeOrigin + performance.now()) * 1000);
  lastMtimeMicros = Math.max(now, lastMtimeMicros + 1);
  return lastMtimeMicros / 1e6;
}

function etagOf(st: import("node:fs").BigIntStats): string {
  return `${st.ino.toString(16)}-${st.size.toString(16)}-${st.mtimeNs.toString(16)}`;
}

function infoOf(key: string, st: import("node:fs").BigIntStats): ObjectInfo {
  return { key, size: Number(st.size), etag: etagOf(st), lastModified: new Date(Number(st.mtimeMs)) };
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function conflict(key: string, err: unknown): ObjectStoreError {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === "ENOTDIR" || code === "EEXIST" || code === "EISDIR") {
    return new ObjectStoreError(
      `cannot store ${key}: the file store cannot hold a key that is also a prefix of other keys (or below another key)`,
      key,
      { cause: err },
    );
  }
  return wrap(key, err);
}

/** Resource exhaustion passes; everything else (EIO, EACCES, ENOSPC) needs a human. */
const TRANSIENT_CODES = new Set(["EMFILE", "ENFILE", "EAGAIN", "EBUSY", "EINTR"]);

function wrap(key: string, err: unknown): ObjectStoreError {
  const message = `file store I/O failed for ${key}: ${(err as Error)?.message ?? err}`;
  if (TRANSIENT_CODES.has((err as NodeJS.ErrnoException)?.code ?? "")) {
    return new ObjectTransientError(message, key, false, { cause: err });
  }
  return new ObjectStoreError(message, key, { cause: err });
}

const fileQuery = z
  .object({ fsync: z.enum(["true", "false"], { message: "expected true or false" }).optional() })
  .strict();

registerObjectStoreScheme("file", (url) => {
  if (url.hostname !== "" && url.hostname !== "localhost") {
    throw urlError(url, "host", "expected file:///absolute/dir (an empty host)");
  }
  const query = parseUrlPart(url, "query", fileQuery, queryOf(url));
  const root = decodeURIComponent(url.pathname).replace(/\/+$/, "") || "/";
  return new FileObjectStore(root, { fsync: query.fsync !== "false" });
});
