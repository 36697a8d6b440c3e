/**
 * Sliced checkpoint export (Namespace.captureImageSliced): the image is the one frozen at
 * capture time, byte for byte, even though the live namespace changes between slices; and the
 * durable journal uses it, so appends become durable while a checkpoint is being serialised
 * instead of waiting for the whole export.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { AtRestCipher } from "../../src/crypto/atrest.js";
import { openDurableMeta } from "../../src/meta/durable/open.js";
import { Namespace } from "../../src/meta/namespace/machine.js";
import type { NsRecord } from "../../src/meta/namespace/records.js";
import { MemoryObjectStore } from "../../src/object/memory.js";
import { dumpNamespace } from "./helpers/dump.js";
import { nameToken } from "./helpers/names.js";

function makeRecord(ns: Namespace, name: string): NsRecord {
  return {
    op: "make",
    t: 1,
    parent: 1,
    token: nameToken(1, name).toString("base64"),
    sealed: Buffer.from(name).toString("base64"),
    type: "file",
    mode: 0o644,
    uid: 0,
    gid: 0,
    rdev: 0,
    ino: ns.nextIno,
  };
}

describe("sliced checkpoint export", () => {
  it("yields the image frozen at capture time while the namespace keeps changing", async () => {
    const ns = new Namespace();
    for (let i = 0; i < 3000; i++) ns.apply(makeRecord(ns, `f${i}`));
    ns.apply({ op: "createSnapshot", t: 2, name: "s1" });
    for (let i = 0; i < 500; i++) ns.apply(makeRecord(ns, `g${i}`));
    const expected = ns.captureImage()();
    const before = dumpNamespace(ns);
    const sliced = ns.captureImageSliced(100)();
    let turns = 0;
    let done = false;
    void sliced.finally(() => {
      done = true;
    });
    // Mutate between slices: the frozen image must not see any of it.
    while (!done) {
      ns.apply(makeRecord(ns, `late${turns++}`));
      await new Promise<void>((r) => setImmediate(r));
    }
    const image = await sliced;
    expect(turns).toBeGreaterThan(10);
    expect(image.equals(expected)).toBe(true);
    expect(dumpNamespace(Namespace.importImage(image))).toEqual(before);
  });

  it("the journal keeps committing appends during a checkpoint", async () => {
    const store = new MemoryObjectStore("sliced");
    const opts = {
      store,
      cipher: new AtRestCipher(randomBytes(32)),
      restore: (image: Buffer | undefined) => (image ? Namespace.importImage(image) : new Namespace()),
      checkpointEveryRecords: 1_000_000,
      checkpointIntervalMs: 0,
    };
    const durable = await openDurableMeta<NsRecord, Namespace>(opts);
    const ns = durable.machine;
    const append = (record: NsRecord) => {
      ns.apply(record);
      return durable.journal.append({ version: ns.version, record });
    };
    const build: Promise<void>[] = [];
    for (let i = 0; i < 40_000; i++) build.push(append(makeRecord(ns, `f${i}`)));
    await Promise.all(build);

    let checkpointDone = false;
    const checkpoint = durable.journal.checkpoint().then(() => {
      checkpointDone = true;
    });
    await new Promise<void>((r) => setImmediate(r)); // the checkpoint has captured and started serialising
    let committedDuring = 0;
    while (!checkpointDone) {
      await append(makeRecord(ns, `during${committedDuring}`));
      if (!checkpointDone) committedDuring++;
      // Calls arrive through I/O callbacks in a real service; a loop of pure promise chains
      // would never let the event loop reach the export's setImmediate slices.
      await new Promise<void>((r) => setImmediate(r));
    }
    await checkpoint;
    expect(committedDuring).toBeGreaterThan(0);
    expect(durable.journal.stats.checkpointsWritten).toBe(1);
    const version = ns.version;
    await durable.journal.close();
    await durable.lease.release();

    const again = await openDurableMeta<NsRecord, Namespace>({ ...opts, lease: { takeover: true } });
    expect(again.machine.version).toBe(version);
    expect(again.machine.live.inodes.size).toBe(ns.live.inodes.size);
    await again.journal.close();
    await again.lease.release();
  }, 60_000);
});
