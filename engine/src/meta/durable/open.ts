/**
 * Start the durability layer of one filespace's metadata service — the one-line wiring:
 *
 *   const { machine, journal } = await openDurableMeta({ store, cipher, restore: (img) => Namespace.fromImage(img) });
 *
 * Order: take the lease (refuse if another service holds it) → recover (checkpoint + journal)
 * → claim the next journal seq with an epoch-start segment (create-only; if a zombie's segment
 * got there first it is committed history: replay it and try the next seq) → renew the lease
 * in the background; losing it fences the journal.
 *
 * What the state machine must provide (engine/src/meta/replication.ts): `version`, `replay`,
 * `exportImage`, and ideally `captureImage()` (see journal.ts). `restore(undefined)` must give
 * an empty filespace at version 0; `restore(image)` the state at the image's version.
 */
import type { AtRestCipher } from "../../crypto/atrest.js";
import type { ObjectStore } from "../../object/types.js";
import { LocalObjectCache } from "./cache.js";
import { FencedError, RecoveryError } from "./errors.js";
import { type CheckpointSource, type JournalOptions, ObjectStoreJournal } from "./journal.js";
import type { SealedStore } from "./layout.js";
import { Lease, type LeaseOptions } from "./lease.js";
import { type Recovered, type RestoreMachine, readSegment, recover } from "./recovery.js";
import { validateOptions } from "./schemas.js";
import { writeSegmentObject } from "./segment-writer.js";

export interface DurableMetaOptions<M> extends JournalOptions {
  store: ObjectStore;
  cipher: AtRestCipher;
  restore: RestoreMachine<M>;
  /** Filespace prefix in the store ("" or ending in "/"). */
  prefix?: string;
  /** Optional local cache directory (only ever a cache; the store is the truth). */
  cacheDir?: string;
  lease?: LeaseOptions;
  /** Parallel downloads during recovery. Default 8. */
  recoveryConcurrency?: number;
  /** Called once if the journal stops for good (fenced or store failure): stop serving. */
  onFailure?: (err: Error) => void;
}

export interface DurableMeta<M, R> {
  machine: M;
  journal: ObjectStoreJournal<R>;
  lease: Lease;
  epoch: number;
  recovery: Omit<Recovered<M>, "machine">;
}

export async function openDurableMeta<R, M extends CheckpointSource>(
  options: DurableMetaOptions<M>,
): Promise<DurableMeta<M, R>> {
  const { store: _store, cipher: _cipher, restore: _restore, onFailure: _onFailure, ...plain } = options;
  validateOptions(plain);
  const prefix = options.prefix ?? "";
  const s: SealedStore = { store: options.store, cipher: options.cipher, prefix };
  const cache = options.cacheDir ? new LocalObjectCache(options.cacheDir) : undefined;
  const lease = await Lease.acquire(s, options.lease);
  try {
    const rec = await recover<R, M>(s, {
      restore: options.restore,
      ...(cache ? { cache } : {}),
      concurrency: options.recoveryConcurrency ?? 8,
    });
    const machine = rec.machine;
    let epoch = lease.epoch;
    if (rec.lastEpoch >= epoch) {
      epoch = rec.lastEpoch + 1;
      await lease.setEpoch(epoch);
    }
    // Claim the next seq. A taken seq is committed history (a zombie's last segment): replay it.
    let seq = rec.nextSeq;
    for (;;) {
      const header = {
        epoch,
        seq,
        writer: lease.holder.instanceId,
        epochStartSeq: seq,
        baseVersion: machine.version,
        count: 0,
      };
      try {
        await writeSegmentObject(
          s,
          header,
          [],
          { putAttempts: options.putAttempts ?? 3, putTimeoutMs: options.putTimeoutMs ?? 30_000 },
          cache,
        );
        break;
      } catch (err) {
        if (!(err instanceof FencedError)) throw err;
        const seg = await readSegment<R>(s, seq);
        if (seg.header.epoch >= epoch) throw err; // another new instance: should not happen under the lease
        if (seg.header.baseVersion > machine.version) {
          throw new RecoveryError(
            `journal segment ${seq} starts after version ${seg.header.baseVersion}, state is at ${machine.version}`,
          );
        }
        for (const entry of seg.records) if (entry.version > machine.version) machine.replay(entry);
        rec.segments.push({ seq, lastVersion: seg.header.baseVersion + seg.header.count });
        seq++;
      }
    }
    rec.segments.push({ seq, lastVersion: machine.version });
    const journal = new ObjectStoreJournal<R>(
      s,
      lease,
      machine,
      {
        epoch,
        epochStartSeq: seq,
        nextSeq: seq + 1,
        version: machine.version,
        segments: rec.segments,
        checkpoints: rec.checkpoints,
        sinceCheckpoint: rec.recordsReplayed,
      },
      options,
      cache,
    );
    if (options.onFailure) journal.onFailure(options.onFailure);
    lease.startRenewing((err) => journal.fence(err));
    const { machine: _m, ...recovery } = rec;
    return { machine, journal, lease, epoch, recovery };
  } catch (err) {
    lease.stopRenewing();
    await lease.release().catch(() => undefined);
    throw err;
  }
}
