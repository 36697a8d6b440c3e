/**
 * Names of the disk cache's run files: `<chunkId>.<first>.<count>x<stride>.<bytes>` (block
 * `first + i` lies at byte `i * stride`; only the last block may be shorter), and the previous
 * layout's one-block files `<chunkId>.<block>.<bytes>`, still read. The name carries everything
 * the index needs, so a restart rebuilds it from directory listings alone.
 */
const LEGACY_NAME = /^([A-Za-z0-9_-]+)\.(\d+)\.(\d+)$/;
const RUN_NAME = /^([A-Za-z0-9_-]+)\.(\d+)\.(\d+)x(\d+)\.(\d+)$/;
const SAFE_ID = /^[A-Za-z0-9_-]+$/;

export interface Run {
  chunkId: string;
  first: number;
  count: number;
  /** Bytes per block in the file (all but the last block are exactly this long). */
  stride: number;
  size: number;
  name: string;
}

/** Chunk ids become file names: base64url only, nothing that could escape the directory. */
export function isSafeChunkId(chunkId: string): boolean {
  return SAFE_ID.test(chunkId);
}

export function runName(chunkId: string, first: number, count: number, stride: number, bytes: number): string {
  return count === 1 ? `${chunkId}.${first}.${bytes}` : `${chunkId}.${first}.${count}x${stride}.${bytes}`;
}

/** The run a file name describes, or undefined for a stray or inconsistent name. */
export function runOf(name: string): Run | undefined {
  const m = RUN_NAME.exec(name);
  if (m) {
    const run = { chunkId: m[1]!, first: Number(m[2]), count: Number(m[3]), stride: Number(m[4]), size: Number(m[5]) };
    if (run.count < 1 || run.size > run.count * run.stride || run.size <= (run.count - 1) * run.stride)
      return undefined;
    return { ...run, name };
  }
  const l = LEGACY_NAME.exec(name);
  if (!l) return undefined;
  return { chunkId: l[1]!, first: Number(l[2]), count: 1, stride: Number(l[3]), size: Number(l[3]), name };
}
