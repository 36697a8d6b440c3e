/**
 * The mount warms a store connection when a cold file is opened, in the fetch worker that will
 * send the GET: a real `filespace mount` (embedded metadata) on a real s3rver, reached through
 * a relay that sees every connection the mount opens and when its first byte came.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type S3rverHandle, startS3rver } from "../harness/s3rver.js";
import { type CountingRelay, startCountingRelay, waitFor } from "../object/counting-relay.js";
import { cleanupDir, cli, type Filespace, type Mounted, mount, sh, sleep } from "./helpers.js";

let s3: S3rverHandle;
let relay: CountingRelay;
let fs: Filespace;
const mounts: Mounted[] = [];

beforeAll(async () => {
  s3 = await startS3rver();
  relay = await startCountingRelay(Number(new URL(s3.endpoint).port));
  const dir = mkdtempSync(join(tmpdir(), "fs-preconnect-"));
  const passFile = join(dir, "pass");
  writeFileSync(passFile, "preconnect-test-passphrase\n");
  fs = {
    dir,
    storeUrl: s3.url("fs/", relay.port),
    storeDir: "",
    passFile,
    env: {
      ...process.env,
      FILESPACE_PASSPHRASE: "",
      AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
      AWS_REGION: "us-east-1",
    },
  };
  await cli(fs, ["init", fs.storeUrl, "--kdf-n", "1024", "--passphrase-file", passFile]);
}, 60_000);

afterAll(async () => {
  for (const m of mounts) await m.cleanup();
  await relay?.close();
  await s3?.stop();
  if (fs) cleanupDir(fs.dir);
});

/** Opens `file` in another process, reports "opened", reads one byte on "read", then exits. */
function openThenRead(file: string) {
  const child = spawn(
    process.execPath,
    [
      "-e",
      `const fs = require("node:fs");
       const fd = fs.openSync(process.argv[1], "r");
       process.stdout.write("opened\\n");
       process.stdin.once("data", () => {
         const n = fs.readSync(fd, Buffer.alloc(1), 0, 1, 0);
         process.stdout.write("read " + n + "\\n");
         process.exit(0);
       });`,
      file,
    ],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  const line = () => new Promise<string>((r) => child.stdout.once("data", (d: Buffer) => r(d.toString().trim())));
  return { child, line, read: () => child.stdin.write("go\n") };
}

describe("mount preconnect", () => {
  it("a cold open warms the fetch worker's connection; the first read's GET uses it", async () => {
    const first = await mount(fs, { cacheDir: join(fs.dir, "cache-1") });
    mounts.push(first);
    await sh("head -c 100000 /dev/urandom > data.bin", first.mnt);
    await first.unmount(); // every upload committed

    // A fresh cache: the file's blocks are only in the store. One fetch worker.
    const m = await mount(fs, { mnt: first.mnt, cacheDir: join(fs.dir, "cache-2"), args: ["--fetch-workers", "1"] });
    mounts.push(m);
    // The worker's connection from its start-up probe (one 1-byte GET) is closed by s3rver after
    // 5 s idle (its timer fires up to ~1 s late).
    await sleep(7000);
    const before = relay.conns.length;

    const reader = openThenRead(join(m.mnt, "data.bin"));
    expect(await reader.line()).toBe("opened");
    await waitFor(() => relay.conns.slice(before).some((c) => c.sentBytes === 0 && c.open), 3000).catch((err) => {
      console.log(JSON.stringify({ before, conns: relay.conns }));
      throw err;
    });
    const warmed = relay.conns.slice(before).filter((c) => c.sentBytes === 0 && c.open);
    await sleep(200);
    const beforeRead = relay.conns.length;

    reader.read();
    expect(await reader.line()).toBe("read 1");
    // No connection was opened for the GET: it went out on one the open had warmed.
    expect(relay.conns.length).toBe(beforeRead);
    expect(warmed.some((c) => c.sentBytes > 0)).toBe(true);
    await m.unmount();
  }, 90_000);
});
