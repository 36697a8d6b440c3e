/** Options of one mount process, validated with zod (the CLI parses flags into this). */
import { homedir } from "node:os";
import { join } from "node:path";
import { z } from "zod";

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, "expected HOST:PORT, e.g. 127.0.0.1:7070");

export const mountOptionsSchema = z.object({
  storeUrl: z.string().min(1, "storeUrl: expected an object store URL"),
  mountpoint: z.string().min(1, "mountpoint: expected a directory"),
  /** Metadata service address; absent = embedded service on the same store. */
  meta: hostPort.optional(),
  /** Access token for `meta` (rw or admin). */
  token: z.string().optional(),
  /** Default ~/.cache/filespaces/<filespace id>. */
  cacheDir: z.string().optional(),
  cacheSizeBytes: z
    .number()
    .int()
    .min(1024 ** 3, "cacheSize: expected at least 1GiB")
    .default(5 * 1024 ** 3),
  readOnly: z.boolean().default(false),
  /** close(2) of a written file waits until its writes are committed (strict close-to-open). */
  syncClose: z.boolean().default(false),
  snapshot: z.string().optional(),
  metrics: hostPort.optional(),
  binding: z.enum(["auto", "native", "fuse-native"]).default("auto"),
  /** Seconds the kernel caches entries and attributes. */
  attrTimeoutS: z.number().min(0).max(3600).default(1),
  /** Embedded service lease; a crashed mount's lease blocks a restart at most this long. */
  leaseTtlMs: z.number().int().min(1000).default(10_000),
  allowOther: z.boolean().default(false),
  /**
   * With --meta: how long a call keeps retrying an unreachable service before failing (then
   * cached files are answered from the cache; uncached work fails with EIO).
   */
  metaRetryMs: z.number().int().min(0).default(10_000),
  /** Extra data-path knobs (see data/config.ts; validated there). */
  data: z.record(z.string(), z.union([z.number(), z.boolean()])).default({}),
});

export type MountOptions = z.input<typeof mountOptionsSchema>;
export type ResolvedMountOptions = z.output<typeof mountOptionsSchema>;

export function defaultCacheDir(filespaceId: string): string {
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "filespaces", filespaceId);
}
