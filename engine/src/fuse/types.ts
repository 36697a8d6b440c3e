/**
 * The FUSE adapter interface: one `FuseMount` whatever binding serves it.
 *
 * - "native": the project's libfuse3 low-level addon (locks, invalidation, 1 MiB requests,
 *   multi-threaded reading, hand-over of /dev/fuse to a successor process).
 * - "fuse-native": the portable fallback (libfuse 2.9 high-level API, path based). It has no
 *   lock operations (the kernel then keeps locks local to this mount), no invalidation and no
 *   hand-over; caller uid/gid are not available, so files it creates belong to the mount's
 *   user.
 */
import { z } from "zod";

export const MountOptionsSchema = z.object({
  /** Which binding; "auto" = native when the addon loads, else fuse-native. */
  binding: z.enum(["auto", "native", "fuse-native"]).default("auto"),
  allowOther: z.boolean().default(false),
  defaultPermissions: z.boolean().default(true),
  /** Kernel writeback cache (native only): batches small writes in the page cache. */
  writebackCache: z.boolean().default(false),
  /** Use splice to move request and reply data (native only). */
  splice: z.boolean().default(true),
  /** Reader threads on /dev/fuse (native only). */
  threads: z.number().int().min(1).max(64).default(4),
  /** Seconds the kernel caches attributes from getattr/setattr replies. */
  attrTimeout: z.number().min(0).default(1),
  /** Kernel readahead in KiB for this mount (0 = kernel default, 128 KiB); needs root. */
  readAheadKb: z.number().int().min(0).max(65536).default(1024),
  fsname: z.string().min(1).default("filespace"),
  /** Extra raw -o options, e.g. ["ro"]. */
  extraOptions: z.array(z.string()).default([]),
  debug: z.boolean().default(false),
});

export type MountOptions = z.input<typeof MountOptionsSchema>;
export type ResolvedMountOptions = z.output<typeof MountOptionsSchema>;

export function parseMountOptions(input: unknown): ResolvedMountOptions {
  const r = MountOptionsSchema.safeParse(input ?? {});
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new FuseMountError(`invalid mount option ${issue?.path.join(".") || "(root)"}: ${issue?.message}`);
  }
  return r.data;
}

export type BindingName = "native" | "fuse-native";

export interface FuseMount {
  readonly mountpoint: string;
  readonly binding: BindingName;
  /** Resolves when the mount goes away (unmounted here or from outside). */
  readonly closed: Promise<void>;
  /** Drop cached pages of `ino` in [offset, offset+length) (length 0 = to the end; offset -1 = attributes only). */
  invalidateInode(ino: number, offset?: number, length?: number): Promise<void>;
  /** Drop the kernel's cached name `name` in directory `parent`. */
  invalidateEntry(parent: number, name: string): Promise<void>;
  unmount(): Promise<void>;
}

export class FuseMountError extends Error {
  override name = "FuseMountError";
}

export class FuseUnsupportedError extends FuseMountError {
  override name = "FuseUnsupportedError";
}
