/**
 * `FilespaceVfs`: the `Vfs` the FUSE adapter serves for a real filespace — namespace operations
 * on the metadata service (names sealed on the way in, opened on the way out), file data through
 * the DataPath (streaming reads, write-back log).
 *
 * Ordering rule: size changes (truncate, O_TRUNC) go through the write-back log like writes, so
 * they reach the service in the order they were made relative to pending writes. Explicit times
 * (utimes) wait for pending writes to commit first, or a later commit would overwrite them.
 *
 * Close-to-open: the last release of a handle that wrote waits for a (group) flush of the
 * write-back log before releasing the service handle, so an unlinked-but-open file keeps its
 * inode until its data is dealt with and other clients see the data soon after close. `flush`
 * (every close(2)) only starts it; the application does not wait for uploads.
 */
import { randomUUID as rid } from "node:crypto";
import type { PredictedFile } from "../data/prefetch/prefetcher.js";
import type { Attr as MetaAttr } from "../meta/api.js";
import { fsError } from "./errors.js";
import { FilespaceVfsChanges } from "./fs-changes.js";
import { fsCall } from "./fs-errors.js";
import { LockTable } from "./memory-locks.js";
import {
  type ByteRangeLock,
  type CallerContext,
  type FlockOp,
  type OpenResult,
  type ReadvBuffers,
  S_IFMT,
  S_IFREG,
  type Vfs,
} from "./types.js";

const O_ACCMODE = 3;
const O_TRUNC = 0o1000;
const O_APPEND = 0o2000;

export class FilespaceVfs extends FilespaceVfsChanges implements Vfs {
  private readonly locks = new LockTable();

  /** Called by the commit sink when a commit landed. */
  onCommitted(vino: number, attr: MetaAttr | undefined): void {
    this.extents.invalidate(vino);
    if (attr) this.attrs.put(vino, attr);
    else this.attrs.drop(vino);
  }

  /**
   * Sequence/directory prediction for the prefetcher: after `shot_0001.exr`, the next numbered
   * names that exist (looked up in parallel); otherwise nothing (directory order comes from the
   * names the last listing remembered).
   */
  async predictNext(vino: number, count: number): Promise<PredictedFile[]> {
    const seen = this.nameOf.get(vino);
    if (!seen) return [];
    const m = /^(.*?)(\d+)(\D*)$/.exec(seen.name);
    if (!m) return [];
    const [, pre, digits, post] = m as unknown as [string, string, string, string];
    const n = Number(digits);
    const names = Array.from(
      { length: count },
      (_, i) => `${pre}${String(n + i + 1).padStart(digits.length, "0")}${post}`,
    );
    const found = await Promise.all(
      names.map((name) =>
        this.lookup(undefined, seen.parent, name).then(
          (e) => e.attr,
          () => undefined,
        ),
      ),
    );
    const out: PredictedFile[] = [];
    for (const a of found) {
      if (!a) break;
      if ((a.mode & S_IFMT) === S_IFREG) out.push({ ino: a.ino, size: a.size });
    }
    return out;
  }

  /** Size, mtime and ctime when this mount last opened each file (keep the page cache if equal). */
  private readonly openedAs = new Map<number, string>();

  /**
   * Attributes for close-to-open: ask the service unless the cached ones are younger than
   * `openFreshMs` (the attribute TTL: a LOOKUP or prediction fetched them moments ago) or the inode's
   * create is still queued (the service does not know it yet).
   */
  private async openAttr(ino: number): Promise<MetaAttr> {
    const cached = this.attrs.any(ino);
    if (cached && (this.pending.pending(ino) || this.attrs.age(ino) <= this.openFreshMs)) return cached;
    return this.metaAttr(ino, true);
  }

  open(_ctx: CallerContext, ino: number, flags: number): Promise<OpenResult> {
    return fsCall(async () => {
      const write = (flags & O_ACCMODE) !== 0;
      const loc = write ? this.writable(ino) : this.locate(ino);
      let handle: string | undefined;
      let attr: MetaAttr;
      if (loc.snapshot || !write) {
        attr = await this.openAttr(ino);
        if (!loc.snapshot && attr.type === "file") {
          const r = this.readers.get(ino) ?? { count: 0 };
          r.count++;
          this.readers.set(ino, r);
        }
      } else {
        await this.pending.settle([ino]);
        const res = await this.session.call((c) => this.api.open(c, { requestId: rid(), ino: loc.ino, write }));
        handle = res.handle;
        attr = res.attr;
        this.learn(ino, attr);
      }
      if (attr.type === "dir") throw fsError("EISDIR");
      const seen = `${attr.size}:${attr.mtime}:${attr.ctime}`;
      const prev = this.openedAs.get(ino);
      const unchanged = prev === seen;
      if (this.openedAs.size > 100_000) this.openedAs.clear();
      this.openedAs.set(ino, seen);
      // Changed since this mount last opened it. (A first open keeps extents the prefetcher or the
      // LOOKUP's attributes vouch for: `learn` drops them when size or mtime move.)
      if (prev !== undefined && !unchanged) this.extents.invalidate(ino);
      if (write && flags & O_TRUNC) await this.data.truncate(ino, 0);
      else if (!write && attr.type === "file" && attr.size > 0 && !this.pending.pending(ino)) {
        // The first READ joins this: the extents of the start of the file are on their way.
        this.extents.getExtents(ino, 0, 1).catch(() => undefined);
        // The GET comes after those extents: a store connection opened now is ready by then
        // (a no-op while an idle one is left; cached data makes it one unused connect at most).
        this.preconnect();
      }
      const fh = this.newFh({
        kind: "file",
        vino: ino,
        loc,
        ...(handle ? { handle } : {}),
        write,
        append: (flags & O_APPEND) !== 0,
        wrote: (flags & O_TRUNC) !== 0 && write,
      });
      return { fh, keepCache: unchanged && !(flags & O_TRUNC) };
    });
  }

  read(ctx: CallerContext, ino: number, fh: number, offset: number, size: number): Promise<Buffer> {
    return this.readv(ctx, ino, fh, offset, size).then((parts) => {
      try {
        return Buffer.concat(parts);
      } finally {
        parts.release?.();
      }
    });
  }

  readv(_ctx: CallerContext, ino: number, fh: number, offset: number, size: number): Promise<ReadvBuffers> {
    return fsCall(async () => {
      const h = this.file(fh);
      const a = this.attrs.any(ino) ?? (await this.metaAttr(ino));
      return this.data.readv(fh, h.vino, offset, size, a.size);
    });
  }

  write(_ctx: CallerContext, ino: number, fh: number, offset: number, data: Buffer): Promise<number> {
    return fsCall(async () => {
      const h = this.file(fh);
      if (!h.write) throw fsError("EBADF", "handle not open for writing");
      const a = this.attrs.any(ino) ?? (await this.metaAttr(ino));
      const size = this.data.writeBack.pendingSize(ino) ?? a.size;
      await this.data.write(ino, h.append ? size : offset, data, size);
      h.wrote = true;
      return data.length;
    });
  }

  flush(_ctx: CallerContext, ino: number, fh: number, lockOwner: bigint): Promise<void> {
    const h = this.handles.get(fh);
    this.locks.releaseRanges(ino, lockOwner);
    if (h?.kind !== "file" || !h.wrote) return Promise.resolve();
    const landed = this.flusher.request();
    // --sync-close: close(2) waits for the commit (an upload that cannot land fails it with EIO)
    if (this.syncClose) return fsCall(() => landed);
    landed.catch((err) => this.log(`flush: ${err}`));
    return Promise.resolve();
  }

  fsync(_ctx: CallerContext, ino: number, fh: number): Promise<void> {
    return fsCall(async () => {
      const h = this.handles.get(fh);
      // A file whose create is queued: durable in the namespace journal (sent later), or, without
      // one, once the service has it (and its directories).
      if (this.pending.pending(ino) && this.nsLog) this.nsLog.sync();
      else await this.pending.settle([ino]);
      if (h?.kind === "file" && h.write) this.data.fsync();
    });
  }

  release(_ctx: CallerContext, ino: number, fh: number, flockOwner?: bigint): Promise<void> {
    return fsCall(async () => {
      const h = this.handles.get(fh);
      this.handles.delete(fh);
      if (flockOwner !== undefined) this.locks.releaseFlock(ino, flockOwner);
      if (h?.kind !== "file") return;
      this.data.release(fh);
      if (!h.write && !h.loc.snapshot) await this.dropReader(ino);
      try {
        if (h.wrote) await this.flusher.request();
      } catch (err) {
        this.log(`release of inode ${ino}: write-back flush failed (data stays queued): ${err}`);
      }
      // A queued create hands its service handle over when it lands.
      await this.pending.settle([ino]).catch(() => undefined);
      const handle = h.handle;
      if (handle) {
        await this.session
          .call((c) => this.api.release(c, { requestId: rid(), handle }))
          .catch((err) => this.log(`release of inode ${ino}: ${err}`));
      }
    });
  }

  fallocate(_ctx: CallerContext, ino: number, fh: number, mode: number, offset: number, length: number): Promise<void> {
    return fsCall(async () => {
      const h = this.file(fh);
      if (mode !== 0) throw fsError("EOPNOTSUPP", "only plain fallocate is supported");
      const a = await this.metaAttr(ino);
      const size = this.data.writeBack.pendingSize(ino) ?? a.size;
      if (offset + length > size) {
        if (!h.write) throw fsError("EBADF");
        await this.data.truncate(ino, offset + length);
      }
    });
  }

  // ---- locks (local to this mount; the coordination service makes them global) -------------

  getlk(_ctx: CallerContext, ino: number, _fh: number, owner: bigint, lock: ByteRangeLock): Promise<ByteRangeLock> {
    return Promise.resolve(this.locks.conflict(ino, owner, lock) ?? { ...lock, type: "unlock" });
  }

  setlk(
    _ctx: CallerContext,
    ino: number,
    _fh: number,
    owner: bigint,
    lock: ByteRangeLock,
    wait: boolean,
    signal?: AbortSignal,
  ): Promise<void> {
    return this.locks.setlk(ino, owner, lock, wait, signal);
  }

  flock(
    _ctx: CallerContext,
    ino: number,
    _fh: number,
    owner: bigint,
    op: FlockOp,
    wait: boolean,
    signal?: AbortSignal,
  ): Promise<void> {
    return this.locks.flock(ino, owner, op, wait, signal);
  }
}
