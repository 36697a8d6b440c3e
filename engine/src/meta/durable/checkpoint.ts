/**
 * Checkpoint objects: `meta/checkpoints/<version>` = sealed("FSC1" | u32 len | header JSON | image).
 *
 * `fromSeq` is the first journal segment that may hold a record newer than `version`; recovery
 * replays from there, and segments below the oldest retained checkpoint's `fromSeq` are pruned.
 * A checkpoint is written only after every record up to `version` is durable in the journal, so
 * it always describes a prefix of the committed history (even one written by a zombie).
 */
import { IntegrityError } from "../../crypto/errors.js";
import { ObjectAbortedError } from "../../object/errors.js";
import { checkpointKey, type SealedStore } from "./layout.js";
import { checkpointHeaderSchema, parseStored } from "./schemas.js";

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
  const header = parseStored(checkpointHeaderSchema, "checkpoint header", body.subarray(8, 8 + hl));
  return { header, image: body.subarray(8 + hl) };
}

/** Seal and store a checkpoint; returns the key, the etag and the sealed bytes (for the local cache). */
export async function writeCheckpoint(
  s: SealedStore,
  header: CheckpointHeader,
  image: Buffer,
  timeoutMs = 10 * 60_000,
): Promise<{ key: string; etag: string; sealed: Buffer }> {
  const key = checkpointKey(header.version);
  const plain = encodeCheckpoint(header, image);
  const full = `${s.prefix}${key}`;
  const sealed = s.cipher.seal(plain, Buffer.from(full));
  // A hung upload must not block every later checkpoint: give up and let the next one retry.
  const { etag } = await withTimeout(timeoutMs, (signal) => s.store.put(full, sealed, { signal }));
  return { key, etag, sealed };
}

/** Run `fn` with an abort signal that fires after `ms`; reject at that moment even if `fn` ignores the signal. */
export async function withTimeout<T>(ms: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new ObjectAbortedError(undefined, { cause: new Error(`object store put timed out after ${ms} ms`) }));
    }, ms);
  });
  try {
    return await Promise.race([fn(controller.signal), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
