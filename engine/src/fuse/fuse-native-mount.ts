/**
 * The fuse-native fallback: libfuse 2.9's high-level, path-based API over the inode-based Vfs.
 * Paths are resolved component by component with vfs.lookup (each lookup is forgotten again
 * right away: the high-level library keeps its own inode table). No locks, no invalidation, no
 * hand-over, and no caller uid/gid (fuse-native does not expose them): see ./types.ts.
 */
import { posix } from "node:path";
import { errnoOf, isExpectedFsError } from "../vfs/errors.js";
import type { Attr, CallerContext, Vfs } from "../vfs/types.js";
import { ROOT_INO } from "../vfs/types.js";
import type { FuseNativeClass, FuseNativeInstance } from "./native.js";
import type { Logger } from "./native-mount.js";
import { type FuseMount, FuseMountError, FuseUnsupportedError, type ResolvedMountOptions } from "./types.js";

type Cb = (...args: unknown[]) => void;

export class FuseNativeMount implements FuseMount {
  readonly binding = "fuse-native" as const;
  readonly closed: Promise<void>;
  private markClosed!: () => void;
  private fuse!: FuseNativeInstance;

  private constructor(readonly mountpoint: string) {
    this.closed = new Promise((r) => {
      this.markClosed = r;
    });
  }

  static async mount(
    Fuse: FuseNativeClass,
    vfs: Vfs,
    mountpoint: string,
    options: ResolvedMountOptions,
    log: Logger,
  ): Promise<FuseNativeMount> {
    const m = new FuseNativeMount(mountpoint);
    m.fuse = new Fuse(mountpoint, pathOps(vfs, log), {
      timeout: false,
      allowOther: options.allowOther,
      defaultPermissions: options.defaultPermissions,
      attrTimeout: options.attrTimeout,
      entryTimeout: options.attrTimeout,
      // Not accepted as options by fuse-native; passed inside fsname instead (ENVIRONMENT.md).
      // use_ino: report the VFS's inode numbers (hard links share one).
      fsname: `${options.fsname},big_writes,use_ino`,
      maxRead: 1 << 20,
      debug: options.debug,
    });
    await new Promise<void>((resolve, reject) =>
      m.fuse.mount((err) =>
        err ? reject(new FuseMountError(`cannot mount ${mountpoint}: ${err.message}`, { cause: err })) : resolve(),
      ),
    );
    return m;
  }

  async invalidateInode(): Promise<void> {
    throw new FuseUnsupportedError("fuse-native has no kernel cache invalidation");
  }

  async invalidateEntry(): Promise<void> {
    throw new FuseUnsupportedError("fuse-native has no kernel cache invalidation");
  }

  async unmount(): Promise<void> {
    await new Promise<void>((resolve, reject) => this.fuse.unmount((err) => (err ? reject(err) : resolve())));
    this.markClosed();
  }
}

const ROOT_CTX: CallerContext = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, pid: 0 };

function toStat(a: Attr) {
  return {
    mode: a.mode,
    uid: a.uid,
    gid: a.gid,
    size: a.size,
    nlink: a.nlink,
    ino: a.ino,
    rdev: a.rdev,
    blksize: 4096,
    blocks: a.blocks,
    atime: a.atimeMs,
    mtime: a.mtimeMs,
    ctime: a.ctimeMs,
  };
}

function pathOps(vfs: Vfs, log: Logger) {
  const ctx = ROOT_CTX;
  const resolve = async (path: string): Promise<number> => {
    let ino = ROOT_INO;
    for (const part of path.split("/")) {
      if (!part) continue;
      const e = await vfs.lookup(ctx, ino, part);
      vfs.forget(e.attr.ino, 1);
      ino = e.attr.ino;
    }
    return ino;
  };
  const parentOf = async (path: string) => ({ parent: await resolve(posix.dirname(path)), name: posix.basename(path) });
  const forgetEntry = (e: { attr: Attr }) => vfs.forget(e.attr.ino, 1);
  /** Open handles → inode, so data ops need no path walk. */
  const inoOf = new Map<number, number>();
  const opened = (fh: number, ino: number) => {
    inoOf.set(fh, ino);
    return fh;
  };

  /** Run and call back fuse-native style: cb(0, ...values) or cb(-errno). */
  const run = <T>(cb: Cb, work: () => Promise<T>, values: (v: T) => unknown[] = () => []) => {
    work().then(
      (v) => cb(0, ...values(v)),
      (err) => {
        if (!isExpectedFsError(err)) log("fuse-native op failed", err);
        cb(-errnoOf(err));
      },
    );
  };
  /** read/write callbacks take a byte count (negative errno on failure). */
  const count = (cb: Cb, work: () => Promise<number>) =>
    work().then(
      (nb) => cb(nb),
      (err) => cb(-errnoOf(err)),
    );

  return {
    getattr: (p: string, cb: Cb) =>
      run(
        cb,
        async () => vfs.getattr(ctx, await resolve(p)),
        (a) => [toStat(a)],
      ),
    fgetattr: (p: string, _fd: number, cb: Cb) =>
      run(
        cb,
        async () => vfs.getattr(ctx, await resolve(p)),
        (a) => [toStat(a)],
      ),
    readdir: (p: string, cb: Cb) =>
      run(
        cb,
        async () => {
          const ino = await resolve(p);
          const { fh } = await vfs.opendir(ctx, ino);
          const names: string[] = [];
          const stats: ReturnType<typeof toStat>[] = [];
          try {
            let cookie = 0;
            for (;;) {
              const batch = await vfs.readdirplus(ctx, ino, fh, cookie, 1024);
              if (batch.length === 0) break;
              for (const e of batch) {
                if (e.name !== "." && e.name !== "..") {
                  vfs.forget(e.entry.attr.ino, 1);
                  names.push(e.name);
                  stats.push(toStat(e.entry.attr));
                }
                cookie = e.cookie;
              }
            }
          } finally {
            await vfs.releasedir(ctx, ino, fh);
          }
          return { names, stats };
        },
        (r) => [r.names, r.stats],
      ),
    open: (p: string, flags: number, cb: Cb) =>
      run(
        cb,
        async () => {
          const ino = await resolve(p);
          return opened((await vfs.open(ctx, ino, flags)).fh, ino);
        },
        (fh) => [fh],
      ),
    create: (p: string, mode: number, cb: Cb) =>
      run(
        cb,
        async () => {
          const { parent, name } = await parentOf(p);
          const r = await vfs.create(ctx, parent, name, mode, 0o2 /* O_RDWR */);
          forgetEntry(r.entry);
          return opened(r.open.fh, r.entry.attr.ino);
        },
        (fh) => [fh],
      ),
    read: (_p: string, fd: number, buf: Buffer, len: number, pos: number, cb: Cb) =>
      count(cb, async () => {
        const data = await vfs.read(ctx, inoOf.get(fd) ?? 0, fd, pos, len);
        return data.copy(buf, 0, 0, Math.min(len, data.length));
      }),
    write: (_p: string, fd: number, buf: Buffer, len: number, pos: number, cb: Cb) =>
      // fuse-native reuses `buf` after the callback: the VFS must not keep it, so copy.
      count(cb, () => vfs.write(ctx, inoOf.get(fd) ?? 0, fd, pos, Buffer.from(buf.subarray(0, len)))),
    release: (_p: string, fd: number, cb: Cb) =>
      run(cb, () => {
        const ino = inoOf.get(fd) ?? 0;
        inoOf.delete(fd);
        return vfs.release(ctx, ino, fd);
      }),
    flush: (p: string, fd: number, cb: Cb) => run(cb, async () => vfs.flush(ctx, await resolve(p), fd, 0n)),
    fsync: (_p: string, datasync: boolean, fd: number, cb: Cb) =>
      run(cb, () => vfs.fsync(ctx, inoOf.get(fd) ?? 0, fd, !!datasync)),
    truncate: (p: string, size: number, cb: Cb) => run(cb, async () => vfs.setattr(ctx, await resolve(p), { size })),
    ftruncate: (p: string, _fd: number, size: number, cb: Cb) =>
      run(cb, async () => vfs.setattr(ctx, await resolve(p), { size })),
    chmod: (p: string, mode: number, cb: Cb) => run(cb, async () => vfs.setattr(ctx, await resolve(p), { mode })),
    chown: (p: string, uid: number, gid: number, cb: Cb) =>
      run(cb, async () => vfs.setattr(ctx, await resolve(p), { uid, gid })),
    utimens: (p: string, atime: number, mtime: number, cb: Cb) =>
      run(cb, async () => vfs.setattr(ctx, await resolve(p), { atimeMs: atime, mtimeMs: mtime })),
    readlink: (p: string, cb: Cb) =>
      run(
        cb,
        async () => vfs.readlink(ctx, await resolve(p)),
        (t) => [t],
      ),
    mknod: (p: string, mode: number, dev: number, cb: Cb) =>
      run(cb, async () => {
        const { parent, name } = await parentOf(p);
        forgetEntry(await vfs.mknod(ctx, parent, name, mode, dev));
      }),
    mkdir: (p: string, mode: number, cb: Cb) =>
      run(cb, async () => {
        const { parent, name } = await parentOf(p);
        forgetEntry(await vfs.mkdir(ctx, parent, name, mode));
      }),
    symlink: (target: string, p: string, cb: Cb) =>
      run(cb, async () => {
        const { parent, name } = await parentOf(p);
        forgetEntry(await vfs.symlink(ctx, parent, name, target));
      }),
    link: (src: string, dest: string, cb: Cb) =>
      run(cb, async () => {
        const ino = await resolve(src);
        const { parent, name } = await parentOf(dest);
        forgetEntry(await vfs.link(ctx, ino, parent, name));
      }),
    unlink: (p: string, cb: Cb) =>
      run(cb, async () => {
        const { parent, name } = await parentOf(p);
        await vfs.unlink(ctx, parent, name);
      }),
    rmdir: (p: string, cb: Cb) =>
      run(cb, async () => {
        const { parent, name } = await parentOf(p);
        await vfs.rmdir(ctx, parent, name);
      }),
    rename: (src: string, dest: string, cb: Cb) =>
      run(cb, async () => {
        const a = await parentOf(src);
        const b = await parentOf(dest);
        await vfs.rename(ctx, a.parent, a.name, b.parent, b.name, 0);
      }),
    statfs: (p: string, cb: Cb) =>
      run(
        cb,
        async () => vfs.statfs(ctx, await resolve(p)),
        (s) => [{ ...s, favail: s.ffree }],
      ),
    setxattr: (p: string, name: string, value: Buffer, _pos: number, flags: number, cb: Cb) =>
      run(cb, async () => vfs.setxattr(ctx, await resolve(p), name, Buffer.from(value), flags)),
    getxattr: (p: string, name: string, _pos: number, cb: Cb) =>
      run(
        cb,
        async () => vfs.getxattr(ctx, await resolve(p), name),
        (v) => [v],
      ),
    listxattr: (p: string, cb: Cb) =>
      run(
        cb,
        async () => vfs.listxattr(ctx, await resolve(p)),
        (l) => [l],
      ),
    removexattr: (p: string, name: string, cb: Cb) => run(cb, async () => vfs.removexattr(ctx, await resolve(p), name)),
  };
}
