/**
 * A VFS bug never leaves the kernel waiting: a handler that throws synchronously, rejects with
 * a non-FsError or hits a TypeError answers EIO, and the adapter logs it. Runs on both bindings.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { BINDINGS, cleanupDir, forceUnmount, python } from "./helpers.js";

const FIXTURE = fileURLToPath(new URL("./fixtures/throwing-serve.mjs", import.meta.url));

describe.each(BINDINGS)("VFS failures on %s binding", (binding) => {
  const dir = mkdtempSync(join(tmpdir(), "fs-fuse-err-"));
  const mnt = join(dir, "mnt");
  let stderr = "";
  const proc = spawn(process.execPath, [FIXTURE, mnt, binding], { detached: true, stdio: ["ignore", "pipe", "pipe"] });
  proc.stderr.on("data", (d) => {
    stderr += d;
  });
  const ready = new Promise<string>((resolve) => {
    spawnSync("mkdir", ["-p", mnt]);
    createInterface({ input: proc.stdout }).once("line", resolve);
  });
  afterAll(async () => {
    try {
      process.kill(-(proc.pid as number), "SIGTERM");
    } catch {}
    await new Promise((r) => setTimeout(r, 500));
    forceUnmount(mnt);
    try {
      process.kill(-(proc.pid as number), "SIGKILL");
    } catch {}
    cleanupDir(dir);
  });

  it("answers EIO for exceptions in handlers and logs them", async () => {
    expect(JSON.parse(await ready)).toMatchObject({ ready: true, binding });
    writeFileSync(join(mnt, "f"), "x");
    const out = python(
      `import os,sys
m=sys.argv[1]
def errno_of(fn):
  try: fn(); return 0
  except OSError as e: return e.errno
print(errno_of(lambda: os.setxattr(m+'/f','user.typeerror',b'1')), errno_of(lambda: os.stat(m+'/sync-throw')), errno_of(lambda: os.stat(m+'/reject')))`,
      [mnt],
    );
    expect(out.trim()).toBe("5 5 5");
    // python() blocked this event loop: let the server's stderr arrive.
    for (let i = 0; i < 50 && !/synchronous bug/.test(stderr); i++) await new Promise((r) => setTimeout(r, 50));
    expect(stderr).toMatch(/TypeError/);
    expect(stderr).toMatch(/synchronous bug/);
    // The mount still serves after the failures.
    expect(python("import sys;print(open(sys.argv[1]).read())", [join(mnt, "f")]).trim()).toBe("x");
  });
});
