/**
 * What the two peers share: the plain bucket seeded by the harness, a mount process run in
 * its own process group with a fresh cache dir per mount, and "in the store" = the object
 * has its full size when asked directly (behind the proxy a peer may still be uploading).
 */
import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { unmount, waitMounted } from "../../lib/mounts.mjs";
import { onCleanup, sleep, startService } from "../../lib/procs.mjs";
import { objectSize } from "../s3.mjs";

let mountSeq = 0;

/** Starts `cmd args(dir, cacheDir)` as a mount process and waits for the FUSE mount. */
export async function startPeerMount(ctx, name, cmd, makeArgs, env) {
  const n = ++mountSeq;
  const dir = path.join(ctx.work, `${name}-mnt-${n}`);
  const cacheDir = path.join(ctx.work, `${name}-cache-${n}`);
  await mkdir(dir, { recursive: true });
  await mkdir(cacheDir, { recursive: true });
  let proc;
  const unmountEarly = onCleanup(`unmount ${dir}`, () => unmount(dir, { politeMs: 3000 }));
  proc = await startService(`${name} mount`, cmd, makeArgs(dir, cacheDir), { env, ready: () => true });
  await waitMounted(dir, { timeoutMs: 30_000, alive: () => !proc.exited() });
  return {
    dir,
    root: dir,
    proc,
    /** Unmounts (politely for `politeMs`), stops the process, drops the cache dir. */
    async stop({ politeMs = 10_000 } = {}) {
      const how = await unmount(dir, { politeMs });
      await unmountEarly();
      await Promise.race([proc.exitedP, sleep(5000)]);
      await proc.stop();
      await rm(cacheDir, { recursive: true, force: true });
      return how;
    },
  };
}

/** Polls the store directly until `key` has `size` bytes (or `timeoutMs` passes). */
export async function waitObjectSize(ctx, key, size, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await objectSize(ctx.directClient, ctx.plainBucket, key)) === size) return true;
    await sleep(100);
  }
  return false;
}
