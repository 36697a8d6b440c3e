/** commitWrite's ifContent compare-and-swap (what compaction relies on), on the in-process service. */
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { CallContext } from "../../../src/meta/api.js";
import { MetaClient } from "../../../src/meta/grpc/client.js";
import { MetaGrpcServer } from "../../../src/meta/grpc/server.js";
import { contentFingerprint } from "../../../src/meta/namespace/fingerprint.js";
import { inProcessFixture } from "../helpers/fixture.js";
import { sealName } from "../helpers/names.js";

describe.each(["in-process", "grpc"] as const)("commitWrite ifContent (%s)", (transport) => {
  it("applies while the content is unchanged, refuses with EBUSY once another write landed", async () => {
    const f = inProcessFixture();
    const server = transport === "grpc" ? await MetaGrpcServer.start({ api: f.api, listen: "127.0.0.1:0" }) : undefined;
    const client = server ? new MetaClient({ address: server.address, retryBudgetMs: 0 }) : undefined;
    const api = client ?? f.api;
    const token = f.issue({ client: "t", mode: "rw", subtreeRoot: 1 });
    const { sessionId } = await api.openSession({ token }, { requestId: randomUUID() });
    const ctx: CallContext = { token, sessionId };
    const { attr } = await api.create(ctx, {
      requestId: randomUUID(),
      parent: 1,
      name: sealName(1, "f"),
      mode: 0o644,
      uid: 0,
      gid: 0,
    });
    const write = (chunk: string, offset: number, ifContent?: string) =>
      api.commitWrite(ctx, {
        requestId: randomUUID(),
        ino: attr.ino,
        extents: [{ offset, length: 10, chunk, chunkOffset: 0 }],
        newSize: offset + 10,
        mtime: 1,
        ...(ifContent ? { ifContent } : {}),
      });
    await write("c1", 0);
    const read = await api.getExtents(ctx, { ino: attr.ino });
    const seen = contentFingerprint(read.size, read.extents);
    expect(contentFingerprint(0, [])).not.toBe(seen);
    await write("c2", 5, seen); // CAS holds: applied
    await expect(write("c3", 0, seen)).rejects.toMatchObject({ code: "EBUSY" });
    const after = await api.getExtents(ctx, { ino: attr.ino });
    expect(after.extents.map((e) => e.chunk)).toEqual(["c1", "c2"]);
    client?.close();
    await server?.close();
    await f.close();
  });
});
