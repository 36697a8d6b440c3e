/** The FuseMount served by the project's libfuse3 addon. */
import { constants } from "node:os";
import type { Vfs } from "../vfs/types.js";
import { createDispatcher } from "./native-dispatch.js";
import type { NativeAddon, NativeSession, NativeSessionConfig } from "./native-ops.js";
import { type FuseMount, FuseMountError, type ResolvedMountOptions } from "./types.js";

export type Logger = (message: string, err?: unknown) => void;

const defaultLog: Logger = (m, err) => console.error(`[fuse] ${m}`, err ?? "");

export class NativeFuseMount implements FuseMount {
  readonly binding = "native" as const;
  readonly closed: Promise<void>;
  private session!: NativeSession;
  private readonly dispatcher: ReturnType<typeof createDispatcher>;
  private markClosed!: () => void;
  private released = false;

  private constructor(
    private readonly addon: NativeAddon,
    readonly mountpoint: string,
    vfs: Vfs,
    options: ResolvedMountOptions,
    log: Logger,
  ) {
    this.closed = new Promise((resolve) => {
      this.markClosed = resolve;
    });
    this.dispatcher = createDispatcher(addon, vfs, options.attrTimeout, {
      onClosed: () => this.finish(),
      log,
    });
  }

  /** Mount `vfs` at `mountpoint` (a fresh kernel mount). */
  static mount(addon: NativeAddon, vfs: Vfs, mountpoint: string, options: ResolvedMountOptions, log = defaultLog) {
    const m = new NativeFuseMount(addon, mountpoint, vfs, options, log);
    const opts = [`fsname=${options.fsname}`, "subtype=filespace", "max_read=1048576", ...options.extraOptions];
    if (options.allowOther) opts.push("allow_other");
    if (options.defaultPermissions) opts.push("default_permissions");
    const args = ["-o", opts.join(",")];
    if (options.debug) args.push("-d");
    try {
      m.session = addon.mount(mountpoint, args, sessionConfig(options), m.dispatcher.dispatch as never);
    } catch (err) {
      throw new FuseMountError(`cannot mount ${mountpoint}: ${(err as Error).message}`, { cause: err });
    }
    return m;
  }

  /** Resume serving an existing mount from a predecessor's /dev/fuse descriptor. */
  static adopt(
    addon: NativeAddon,
    vfs: Vfs,
    mountpoint: string,
    fd: number,
    init: Buffer,
    options: ResolvedMountOptions,
    log = defaultLog,
  ) {
    const m = new NativeFuseMount(addon, mountpoint, vfs, options, log);
    m.session = addon.adopt(fd, init, sessionConfig(options), m.dispatcher.dispatch as never);
    return m;
  }

  async invalidateInode(ino: number, offset = 0, length = 0): Promise<void> {
    check(await this.addon.invalInode(this.session, ino, offset, length), `invalidate inode ${ino}`);
  }

  async invalidateEntry(parent: number, name: string): Promise<void> {
    check(await this.addon.invalEntry(this.session, parent, name), `invalidate entry ${parent}/${name}`);
  }

  async unmount(): Promise<void> {
    if (this.released) return;
    const res = await this.addon.unmount(this.session, this.mountpoint);
    this.finish();
    if (res < 0 && res !== -constants.errno.EINVAL) {
      throw new FuseMountError(`unmount ${this.mountpoint}: errno ${-res}`);
    }
  }

  /**
   * Stop serving without unmounting, for a hand-over: stop reading /dev/fuse, interrupt lock
   * waits (EINTR to their callers: locks are not carried over), and wait until every request
   * already read has been answered. Returns the descriptor and the recorded INIT.
   */
  async detach(): Promise<{ fd: number; init: Buffer }> {
    await this.addon.stop(this.session);
    this.dispatcher.abortWaits();
    await this.dispatcher.drained();
    while (this.addon.info(this.session).inflight > 0) await new Promise((r) => setTimeout(r, 2));
    const { fd, init } = this.addon.info(this.session);
    return { fd, init };
  }

  /** After a hand-over: let this process exit (the successor now owns the mount). */
  release(): void {
    this.finish();
  }

  private finish(): void {
    if (this.released) return;
    this.released = true;
    this.addon.release(this.session);
    this.markClosed();
  }
}

function sessionConfig(o: ResolvedMountOptions): NativeSessionConfig {
  return { threads: o.threads, writebackCache: o.writebackCache, splice: o.splice, locks: true };
}

function check(res: number, what: string): void {
  // ENOENT: the kernel does not know the inode/name (nothing cached): nothing to invalidate.
  if (res < 0 && res !== -constants.errno.ENOENT) throw new FuseMountError(`${what}: errno ${-res}`);
}
