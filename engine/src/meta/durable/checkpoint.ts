/**
 * Checkpoint objects: `meta/checkpoints/<version>` = sealed("FSC1" | u32 len | header JSON | image).
 *
 * `fromSeq` is the first journal segment that may hold a record newer than `version`; recovery
 * replays from there, and segments below the oldest retained checkpoint's `fromSeq` are pruned.
 * A checkpoint is written only after every record up to `version` is durable in the journal, so
 * it always describes a prefix of the committed history (even one written by a zombie).
 */
import { IntegrityError } from "../../crypto/errors.js";
import { checkpointKey, type SealedStore } from "./layout.js";

const MAGIC = Buffer.from("FSC1");

export interface CheckpointHeader {
  version: number;
  epoch: number;
  fromSeq: number;
  /** ISO time written (informational). */
  createdAt: string;
}

export function encodeCheckpoint(header: CheckpointHeader, image: Buffer): Buffer {
  const h = Buffer.from(JSON.stringify(header));
  const len = Buffer.allocUnsafe(4);
  len.writeUInt32BE(h.length, 0);
  return Buffer.concat([MAGIC, len, h, image]);
}

export function decodeCheckpoint(body: Buffer): { header: CheckpointHeader; image: Buffer } {
  if (body.length < 8 || !body.subarray(0, 4).equals(MAGIC)) throw new IntegrityError("checkpoint: bad magic");
  const hl = body.readUInt32BE(4);
  if (8 + hl > body.length) throw new IntegrityError("checkpoint: truncated header");
  const header = JSON.parse(body.subarray(8, 8 + hl).toString()) as CheckpointHeader;
  return { header, image: body.subarray(8 + hl) };
}

/** Seal and store a checkpoint; returns the key, the etag and the sealed bytes (for the local cache). */
export async function writeCheckpoint(
  s: SealedStore,
  header: CheckpointHeader,
  image: Buffer,
): Promise<{ key: string; etag: string; sealed: Buffer }> {
  const key = checkpointKey(header.version);
  const plain = encodeCheckpoint(header, image);
  const full = `${s.prefix}${key}`;
  const sealed = s.cipher.seal(plain, Buffer.from(full));
  const { etag } = await s.store.put(full, sealed);
  return { key, etag, sealed };
}
