/** A real s3rver process on a free loopback port with one bucket, in a temp dir. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, isListening } from "./ports.js";
import { type ManagedProcess, REPO_ROOT, startProcess } from "./process.js";

export interface S3rverHandle {
  endpoint: string;
  bucket: string;
  /** s3rver's fixed credentials. */
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** An s3:// store URL for `prefix` in the bucket; `viaPort`: reached through that port on 127.0.0.1 (a relay in front). */
  url(prefix?: string, viaPort?: number): string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

export async function startS3rver(bucket = "filespaces-test"): Promise<S3rverHandle> {
  const dir = await mkdtemp(join(tmpdir(), "fs-s3rver-"));
  const port = await freePort();
  const proc = await startProcess({
    command: process.execPath,
    // Without the legacy provider s3rver fails listing past one page (500).
    args: [
      "--openssl-legacy-provider",
      join(REPO_ROOT, "node_modules/s3rver/bin/s3rver.js"),
      "-d",
      dir,
      "-a",
      "127.0.0.1",
      "-p",
      String(port),
      "--configure-bucket",
      bucket,
    ],
    ready: () => isListening(port),
    stopSignal: "SIGTERM",
  });
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
    url: (prefix = "", viaPort = port) =>
      `s3://${bucket}/${prefix}?endpoint=${encodeURIComponent(`http://127.0.0.1:${viaPort}`)}&region=us-east-1&pathStyle=true`,
    process: proc,
    stop: async () => {
      await proc.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
