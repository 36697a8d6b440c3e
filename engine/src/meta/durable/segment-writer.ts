/**
 * Writing one journal segment: create-only where the store supports it (that is the fencing),
 * retrying transient failures with a timeout per attempt. A precondition failure is either our
 * own earlier attempt having landed with its reply lost (same writer id: success) or a newer
 * epoch owning the seq (FENCED).
 */
import { ObjectPreconditionFailedError } from "../../object/errors.js";
import type { LocalObjectCache } from "./cache.js";
import { withTimeout } from "./checkpoint.js";
import { FencedError, JournalFailedError } from "./errors.js";
import { fullKey, type SealedStore, segmentKey } from "./layout.js";
import { readSegment } from "./recovery.js";
import { encodeSegment, type SegmentHeader } from "./segment.js";

/**
 * Write one segment create-only (where supported), retrying transient failures. A precondition
 * failure is either our own earlier attempt having landed (fine) or a newer epoch (FENCED).
 */
export async function writeSegmentObject(
  s: SealedStore,
  header: SegmentHeader,
  encoded: Buffer[],
  retry: { putAttempts: number; putTimeoutMs: number },
  cache?: LocalObjectCache,
): Promise<{ etag: string; size: number }> {
  const key = segmentKey(header.seq);
  const full = fullKey(s, key);
  const sealed = s.cipher.seal(encodeSegment(header, encoded), Buffer.from(full));
  const conditional = s.store.capabilities.conditionalPut;
  let lastError: unknown;
  for (let attempt = 1; attempt <= retry.putAttempts; attempt++) {
    try {
      const { etag } = await withTimeout(retry.putTimeoutMs, (signal) =>
        s.store.put(full, sealed, conditional ? { ifNoneMatch: "*", signal } : { signal }),
      );
      await cache?.put(key, etag, sealed);
      return { etag, size: sealed.length };
    } catch (err) {
      if (err instanceof ObjectPreconditionFailedError) {
        const there = await readSegment(s, header.seq).catch(() => undefined);
        if (there?.header.writer === header.writer && there.header.epoch === header.epoch) {
          const { etag } = await s.store.head(full);
          return { etag, size: sealed.length };
        }
        throw new FencedError(
          `journal seq ${header.seq} was claimed by epoch ${there?.header.epoch ?? "?"}; this instance (epoch ${header.epoch}) is fenced`,
          { cause: err },
        );
      }
      lastError = err;
      if (attempt < retry.putAttempts) await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
    }
  }
  throw new JournalFailedError(`journal segment ${header.seq} could not be written`, { cause: lastError });
}
