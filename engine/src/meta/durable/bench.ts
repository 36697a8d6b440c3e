/**
 * Recovery benchmark helpers for bench/meta (run against dist/).
 *
 * `timeRecovery` times one `openDurableMeta` (lease + checkpoint + journal replay + epoch claim)
 * for any state machine, e.g. the namespace with 1M inodes. `benchmarkRecovery` builds a
 * synthetic filespace first (a checkpoint image of `imageBytes`, then `tailRecords` journal
 * records of `recordBytes`) so the durability layer's own cost is measured apart from the
 * namespace's image decoding.
 */
import { randomBytes } from "node:crypto";
import { AtRestCipher } from "../../crypto/atrest.js";
import { MemoryObjectStore } from "../../object/memory.js";
import type { ObjectStore } from "../../object/types.js";
import type { JournalRecord } from "../replication.js";
import type { CheckpointSource } from "./journal.js";
import { type DurableMetaOptions, openDurableMeta } from "./open.js";

export interface RecoveryTiming {
  totalMs: number;
  checkpointMs: number;
  segmentsMs: number;
  replayMs: number;
  recordsReplayed: number;
  segments: number;
}

/** Time one start (recovery) of the service on `options.store`, then close it (without a new checkpoint). */
export async function timeRecovery<R, M extends CheckpointSource>(
  options: DurableMetaOptions<M>,
): Promise<RecoveryTiming & { machine: M }> {
  const t0 = performance.now();
  const opened = await openDurableMeta<R, M>({ ...options, checkpointOnClose: false });
  const totalMs = performance.now() - t0;
  await opened.journal.close();
  const r = opened.recovery;
  return {
    totalMs,
    checkpointMs: r.timing.checkpointMs,
    segmentsMs: r.timing.segmentsMs,
    replayMs: r.timing.replayMs,
    recordsReplayed: r.recordsReplayed,
    segments: r.segments.length,
    machine: opened.machine,
  };
}

/** A machine whose image is an opaque blob and whose records only count: measures the layer, not a namespace. */
class BlobMachine implements CheckpointSource {
  version = 0;
  bytes = 0;
  constructor(readonly image: Buffer) {}
  static restore(image: Buffer | undefined): BlobMachine {
    const m = new BlobMachine(image ?? Buffer.alloc(8));
    if (image) m.version = Number(image.readBigUInt64BE(0));
    return m;
  }
  replay(entry: JournalRecord<string>): void {
    this.version = entry.version;
    this.bytes += entry.record.length;
  }
  exportImage(): Buffer {
    const out = Buffer.from(this.image);
    out.writeBigUInt64BE(BigInt(this.version), 0);
    return out;
  }
}

export interface RecoveryBenchOptions {
  /** Checkpoint image size. Default 64 MiB. */
  imageBytes?: number;
  /** Records in the journal after the checkpoint. Default 100,000. */
  tailRecords?: number;
  /** Payload per record (JSON string). Default 200. */
  recordBytes?: number;
  /** Default: a fresh memory:// store. */
  store?: ObjectStore;
  cacheDir?: string;
}

export async function benchmarkRecovery(
  options: RecoveryBenchOptions = {},
): Promise<RecoveryTiming & { writeMs: number; appendMs: number; imageBytes: number; tailRecords: number }> {
  const store = options.store ?? new MemoryObjectStore(`recovery-bench-${process.pid}-${Date.now()}`);
  const cipher = new AtRestCipher(randomBytes(32));
  const imageBytes = Math.max(8, options.imageBytes ?? 64 * 1024 * 1024);
  const tailRecords = options.tailRecords ?? 100_000;
  const payload = "x".repeat(options.recordBytes ?? 200);
  const base = { store, cipher, checkpointIntervalMs: 0, checkpointEveryRecords: Number.MAX_SAFE_INTEGER };
  const t0 = performance.now();
  const first = await openDurableMeta<string, BlobMachine>({
    ...base,
    checkpointOnClose: false,
    restore: () => new BlobMachine(randomBytes(imageBytes)),
  });
  await first.journal.checkpoint();
  const tAppend = performance.now();
  const m = first.machine;
  const wave = 5_000;
  for (let done = 0; done < tailRecords; done += wave) {
    const acks: Promise<void>[] = [];
    for (let i = done; i < Math.min(tailRecords, done + wave); i++) {
      const entry = { version: m.version + 1, record: payload };
      m.replay(entry);
      acks.push(first.journal.append(entry));
    }
    await Promise.all(acks);
  }
  const appendMs = performance.now() - tAppend;
  await first.journal.close();
  const writeMs = performance.now() - t0;
  const timing = await timeRecovery<string, BlobMachine>({
    ...base,
    restore: BlobMachine.restore,
    ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}),
  });
  if (timing.machine.version !== tailRecords)
    throw new Error(`recovered ${timing.machine.version}, wrote ${tailRecords}`);
  const { machine: _m, ...rest } = timing;
  return { ...rest, writeMs, appendMs, imageBytes, tailRecords };
}
