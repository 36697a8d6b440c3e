/**
 * s3fs-fuse (Debian s3fs 1.90) on the plain bucket through the delay proxy.
 * Settings (its best reasonable ones for this test): a local disk cache (use_cache, fresh per
 * mount) so the warm re-read can hit it; 16 parallel multipart transfers of 8 MiB; up to 64
 * parallel HEADs for listings (multireq_max); a big stat cache and the negative cache.
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { run } from "../../lib/procs.mjs";
import { S3_KEY, S3_SECRET } from "../s3.mjs";
import { startPeerMount, waitObjectSize } from "./peer-common.mjs";

export const S3FS_SETTINGS =
  "use_cache (fresh dir), parallel_count=16, multipart_size=8 MiB, multireq_max=64, max_stat_cache_size=100000, enable_noobj_cache";

export function s3fsSystem(ctx) {
  return {
    name: "s3fs",
    settings: S3FS_SETTINGS,
    async available() {
      const r = await run("s3fs", ["--version"], { timeoutMs: 10_000 });
      return r.code === 0 ? undefined : "s3fs not installed (Debian package s3fs)";
    },
    async prepare() {
      const passwd = path.join(ctx.work, "s3fs.passwd");
      await writeFile(passwd, `${S3_KEY}:${S3_SECRET}\n`, { mode: 0o600 });
      this.passwd = passwd;
    },
    mount() {
      return startPeerMount(ctx, "s3fs", "s3fs", (dir, cache) => [
        ctx.plainBucket,
        dir,
        "-f",
        "-o",
        [
          `url=${ctx.proxiedS3}`,
          "use_path_request_style",
          "endpoint=us-east-1",
          `passwd_file=${this.passwd}`,
          `use_cache=${cache}`,
          "parallel_count=16",
          "multipart_size=8",
          "multireq_max=64",
          "max_stat_cache_size=100000",
          "enable_noobj_cache",
          "dbglevel=err",
        ].join(","),
      ]);
    },
    waitInStore: (_mount, key, size, timeoutMs) => waitObjectSize(ctx, key, size, timeoutMs),
  };
}
