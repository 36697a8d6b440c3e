/**
 * rclone mount (Debian rclone 1.60) on the plain bucket through the delay proxy.
 * Settings: --vfs-cache-mode full (needed for random writes and the warm re-read; fresh
 * cache dir per mount), 128 MiB read-ahead, 8 MiB read chunks, 8 transfers and 8 parallel
 * upload parts of 8 MiB, --use-server-modtime (so `ls -l` needs no HEAD per file),
 * --vfs-write-back 1s (upload starts 1 s after close instead of 5 s). AWS_CA_BUNDLE is
 * unset: the machine's value breaks rclone's S3 backend (ENVIRONMENT.md).
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { run } from "../../lib/procs.mjs";
import { S3_KEY, S3_SECRET } from "../s3.mjs";
import { startPeerMount, waitObjectSize } from "./peer-common.mjs";

export const RCLONE_SETTINGS =
  "--vfs-cache-mode full, --vfs-read-ahead 128M, --vfs-read-chunk-size 8M, --buffer-size 32M, --transfers 8, --s3-upload-concurrency 8, --s3-chunk-size 8M, --use-server-modtime, --vfs-write-back 1s, --dir-cache-time 1h";

export function rcloneSystem(ctx) {
  const env = { ...process.env };
  delete env.AWS_CA_BUNDLE;
  return {
    name: "rclone",
    settings: RCLONE_SETTINGS,
    async available() {
      const r = await run("rclone", ["version"], { timeoutMs: 10_000, env });
      return r.code === 0 ? undefined : "rclone not installed (Debian package rclone)";
    },
    async prepare() {
      this.config = path.join(ctx.work, "rclone.conf");
      await writeFile(this.config, "");
    },
    mount() {
      return startPeerMount(
        ctx,
        "rclone",
        "rclone",
        (dir, cache) => [
          "mount",
          `:s3:${ctx.plainBucket}`,
          dir,
          "--config",
          this.config,
          "--s3-provider",
          "Other",
          "--s3-endpoint",
          ctx.proxiedS3,
          "--s3-access-key-id",
          S3_KEY,
          "--s3-secret-access-key",
          S3_SECRET,
          "--s3-region",
          "us-east-1",
          "--s3-force-path-style=true",
          "--s3-no-check-bucket",
          "--cache-dir",
          cache,
          "--vfs-cache-mode",
          "full",
          "--vfs-read-ahead",
          "128M",
          "--vfs-read-chunk-size",
          "8M",
          "--buffer-size",
          "32M",
          "--transfers",
          "8",
          "--s3-upload-concurrency",
          "8",
          "--s3-chunk-size",
          "8M",
          "--use-server-modtime",
          "--vfs-write-back",
          "1s",
          "--dir-cache-time",
          "1h",
          "--log-level",
          "ERROR",
        ],
        env,
      );
    },
    waitInStore: (_mount, key, size, timeoutMs) => waitObjectSize(ctx, key, size, timeoutMs),
  };
}
