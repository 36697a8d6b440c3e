/**
 * A real process crash: a child process running the built write-back (dist/) is SIGKILLed
 * while writing, with uploads that never completed. Reopening its log directory must commit
 * every fsynced byte, and what survives after the fsync is a clean prefix of the writes
 * (a record torn by the kill is cut, never half-applied).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { Keyring, writeBackLogKeys } from "../../src/crypto/index.js";
import {
  BlockFetcher,
  DataReader,
  LocalRunSource,
  MemoryBlockCache,
  RequestScheduler,
  WriteBack,
} from "../../src/data/index.js";
import { MemoryMeta, makeCodec, newChunkId, TestStore, tempDir } from "./helpers.js";

const child = fileURLToPath(new URL("./fixtures/writeback-child.mjs", import.meta.url));
const RECORD = 3000;
const SYNCED = 200;

describe("write-back survives SIGKILL of the mount process", () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });

  it("commits everything fsynced and a clean prefix of the rest", async () => {
    const dir = tempDir("wb-crash");
    cleanups.push(dir.cleanup);
    const key = randomBytes(32);
    const logKeys = writeBackLogKeys(new Keyring([[1, key]]));
    const proc: ChildProcess = spawn(
      process.execPath,
      [child, dir.path, String(RECORD), String(SYNCED), key.toString("hex")],
      {
        stdio: ["ignore", "pipe", "inherit"],
        detached: true,
      },
    );
    cleanups.push(() => {
      try {
        process.kill(-proc.pid!, "SIGKILL");
      } catch {
        // already gone
      }
    });
    await new Promise<void>((resolve, reject) => {
      proc.on("exit", (code) => reject(new Error(`child exited early (${code})`)));
      proc.stdout!.on("data", (d: Buffer) => {
        if (d.toString().includes("synced")) resolve();
      });
    });
    await new Promise((r) => setTimeout(r, 150)); // let it write (unsynced) for a while
    proc.removeAllListeners("exit");
    const exited = new Promise((r) => proc.on("exit", r));
    process.kill(-proc.pid!, "SIGKILL");
    await exited;

    const store = new TestStore();
    const meta = new MemoryMeta();
    const codec = makeCodec();
    const wb = await WriteBack.open(
      { dir: dir.path, store, codec, sink: meta, newChunkId, logKeys },
      {
        chunkBytes: 1 << 20,
        segmentBytes: 1 << 20,
        flushDelayMs: 1000,
        uploadConcurrency: 4,
        maxBacklogBytes: 1 << 30,
        backlogFullWaitMs: 1000,
        retryBaseMs: 5,
        retryMaxMs: 50,
      },
    );
    const recovered = wb.pendingSize(1) ?? 0;
    await wb.drain();
    const size = meta.sizeOf(1);
    expect(size).toBe(recovered);
    expect(size % RECORD).toBe(0);
    // the child kept writing after its fsync; all of that survived too (a process kill keeps
    // the page cache), except possibly one record torn by the kill
    expect(size / RECORD).toBeGreaterThan(SYNCED);
    // read the committed file back through the stored chunks and compare with the writes
    const reader = new DataReader(
      meta,
      new BlockFetcher(
        new LocalRunSource(store, codec, 1 << 20),
        codec,
        new MemoryBlockCache(64 << 20),
        undefined,
        new RequestScheduler({ demand: 8, prefetch: 2 }),
        1 << 20,
      ),
      codec.blockSize,
    );
    const data = await reader.read(1, 0, size);
    for (let i = 0; i < size / RECORD; i++) {
      const rec = data.subarray(i * RECORD, (i + 1) * RECORD);
      expect(
        rec.every((b) => b === ((i * 7 + 1) & 0xff)),
        `record ${i}`,
      ).toBe(true);
    }
  });
});
