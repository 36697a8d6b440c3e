/**
 * A file's content fingerprint: SHA-256 over its size and resolved extent list, as getExtents
 * returns them (in offset order). Every write commits new chunk ids (never reused) and every
 * truncate changes the size or the list, so equal fingerprints mean "no content change since".
 * commitWrite's `ifContent` uses it as a compare-and-swap (compaction must not shadow a write
 * that landed after it read the file).
 */
import { createHash } from "node:crypto";
import type { Extent } from "../api.js";

export function contentFingerprint(size: number, extents: readonly Extent[]): string {
  const h = createHash("sha256");
  h.update(`${size}\n`);
  for (const e of extents) h.update(`${e.offset},${e.length},${e.chunkOffset},${e.chunk}\n`);
  return h.digest("base64url");
}
