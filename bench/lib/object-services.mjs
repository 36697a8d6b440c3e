/**
 * Real s3rver / azurite processes for the object-store benchmark: each on a free loopback
 * port in a temp dir, in its own process group, stopped (group-killed, dir removed) by the
 * returned stop(). Mirrors engine/test/harness, which is TypeScript and not built.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const AZURITE_ACCOUNT = "devstoreaccount1";
const AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function listening(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1", () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });
}

async function startService(name, command, args, port, dir, stopSignal) {
  const child = spawn(command, args, { cwd: ROOT, detached: true, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr = (stderr + d).slice(-4000);
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const kill = (sig) => {
    try {
      process.kill(-child.pid, sig);
    } catch {}
  };
  const stop = async () => {
    kill(stopSignal);
    const timer = setTimeout(() => kill("SIGKILL"), 3000);
    await exited;
    clearTimeout(timer);
    kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  while (!(await listening(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`${name} did not start:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return stop;
}

/**
 * Node arguments that run s3rver on loopback `port`, data in `dir` (the legacy OpenSSL provider:
 * without it s3rver fails listing past one page). `nodeArgs` go to Node (e.g. --trace-gc).
 */
export function s3rverArgs({ dir, port, buckets, silent = false, nodeArgs = [] }) {
  const bin = path.join(ROOT, "node_modules/s3rver/bin/s3rver.js");
  const args = ["--openssl-legacy-provider", ...nodeArgs, bin, "-d", dir, "-a", "127.0.0.1", "-p", String(port)];
  if (silent) args.push("--silent");
  for (const b of buckets) args.push("--configure-bucket", b);
  return args;
}

export async function startS3rver(bucket = "bench") {
  const dir = await mkdtemp(path.join(tmpdir(), "bench-s3rver-"));
  const port = await freePort();
  const stop = await startService(
    "s3rver",
    process.execPath,
    s3rverArgs({ dir, port, buckets: [bucket] }),
    port,
    dir,
    "SIGTERM",
  );
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    url: `s3://${bucket}/bench/?endpoint=${encodeURIComponent(endpoint)}&pathStyle=true&region=us-east-1`,
    options: { s3: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } },
    stop,
  };
}

export async function startAzurite(container = "bench") {
  const dir = await mkdtemp(path.join(tmpdir(), "bench-azurite-"));
  const port = await freePort();
  const stop = await startService(
    "azurite",
    path.join(ROOT, "node_modules/.bin/azurite-blob"),
    [
      "--blobHost",
      "127.0.0.1",
      "--blobPort",
      String(port),
      "--location",
      dir,
      "--skipApiVersionCheck",
      "--loose",
      "--disableTelemetry",
    ],
    port,
    dir,
    "SIGINT",
  );
  const endpoint = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  const connectionString = `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${endpoint};`;
  const { BlobServiceClient } = await import("@azure/storage-blob");
  await BlobServiceClient.fromConnectionString(connectionString).getContainerClient(container).createIfNotExists();
  return { url: `azure://${container}/bench/`, options: { azure: { connectionString } }, stop };
}
