/**
 * The control socket without a mount: requests are validated at the edge (messages name the
 * field), warm-style progress lines stream before the answer, and a path below a mount point
 * finds that mount's socket.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ControlServer } from "../../src/mount/control-server.js";
import { controlRequest, findMount, NotMountedError, socketPathFor } from "../../src/mount/index.js";

describe("control socket", () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it("validates requests, streams progress, and is found from a path inside the mount point", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fs-control-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const mnt = join(dir, "mnt");
    mkdirSync(join(mnt, "a/b"), { recursive: true });
    const server = await ControlServer.start(
      socketPathFor(mnt),
      async (req, progress) => {
        if (req.op === "warm") {
          progress({ files: 1 });
          progress({ files: 2 });
          return { ok: true, path: req.path };
        }
        return { ok: true, op: req.op };
      },
      () => {},
    );
    cleanups.push(() => server.close());

    const found = findMount(join(mnt, "a/b"));
    expect(found).toMatchObject({ mountpoint: mnt, relPath: "a/b" });
    const seen: unknown[] = [];
    const answer = await controlRequest(found.socket, { op: "warm", path: found.relPath }, (p) => seen.push(p));
    expect(answer).toEqual({ ok: true, path: "a/b" });
    expect(seen).toEqual([{ files: 1 }, { files: 2 }]);

    const bad = await controlRequest(found.socket, { op: "cache-resize", bytes: 1000 });
    expect(bad).toMatchObject({ ok: false });
    expect((bad as { error: string }).error).toMatch(/bytes: expected at least 1 GiB/);
    const outside = await controlRequest(found.socket, { op: "warm", path: "../etc" });
    expect((outside as { error: string }).error).toMatch(/'\.\.' is not allowed/);

    expect(() => findMount(join(dir, "elsewhere"))).toThrow(NotMountedError);
  });
});
