/**
 * O_DIRECT for the disk cache: cache files are written and read around the kernel's page cache.
 *
 * Why: the page cache would hold a second copy of what we already cache (sealed blocks on disk,
 * plaintext in the memory cache, and the kernel keeps the FUSE file's own pages), and filling it
 * means touching fresh memory, which is what costs CPU on small VMs. Measured here (1 GiB, 4 MiB
 * requests): buffered write 2.97 s of system CPU, O_DIRECT 0.12 s; cold buffered read 1.18 s,
 * O_DIRECT 0.03 s. A cold stream writes every byte it fetches to the cache, so this was a third
 * of the mount's CPU per MiB (docs/data-path.md, "Memory that stays warm").
 *
 * Rules of O_DIRECT: buffer address, file offset and length are multiples of the device block
 * size. DIRECT_ALIGN (4096) covers 512-byte and 4 KiB devices. Buffers come from
 * `allocAligned` (the pools' buffers): JavaScript cannot see addresses, so a small native helper
 * (engine/native/src/io.cc) tells where the aligned part of an allocation starts. Writes round
 * the length up and truncate the file back; reads fetch the aligned range around what is asked
 * and return a view of it (hence `directCapacity`: room for that range).
 *
 * Fallbacks, never errors: no native helper, a filesystem without O_DIRECT (ramfs: open fails
 * with EINVAL; remembered per directory), or a buffer that is not aligned (a one-off
 * allocation) → ordinary buffered I/O.
 */
import { constants } from "node:fs";
import { type FileHandle, open, rename } from "node:fs/promises";
import { constants as osConstants } from "node:os";
import { dirname } from "node:path";
import { ioAddon } from "../platform/io-addon.js";

export const DIRECT_ALIGN = 4096;
/** x86-64 and arm64 transparent huge page size. */
const HUGE_PAGE = 2 * 1024 * 1024;

/** How cache I/O went, per thread (for tests and `filespace stats`). */
export const directIoStats = { directWrites: 0, bufferedWrites: 0, directReads: 0, bufferedReads: 0 };

/** Directories where O_DIRECT open failed (tmpfs and friends): buffered from then on. */
const noDirect = new Set<string>();
const O_DIRECT = constants.O_DIRECT ?? 0;

const roundUp = (n: number) => Math.ceil(n / DIRECT_ALIGN) * DIRECT_ALIGN;

/** Bytes an aligned buffer needs to read any `bytes`-long range of a file directly. */
export function directCapacity(bytes: number): number {
  return roundUp(bytes) + DIRECT_ALIGN;
}

/**
 * A buffer of exactly `bytes` whose first byte is DIRECT_ALIGN-aligned when the native helper is
 * there (else an ordinary buffer; I/O on it is then buffered). `shared`: backed by a
 * SharedArrayBuffer (fetch workers lend GET bodies to the main thread).
 */
export function allocAligned(bytes: number, shared = false): Buffer {
  const io = ioAddon();
  // Buffers of a huge page or more start on a huge-page boundary and ask for huge pages (the
  // slack is address space only: pages nobody touches cost no memory).
  const huge = io?.adviseHugePages && bytes >= HUGE_PAGE;
  const align = huge ? HUGE_PAGE : DIRECT_ALIGN;
  const raw = shared ? Buffer.from(new SharedArrayBuffer(bytes + align)) : Buffer.allocUnsafeSlow(bytes + align);
  const skip = io ? (align - io.addressModulo(raw, align)) % align : 0;
  const view = raw.subarray(skip, skip + bytes);
  if (huge) io.adviseHugePages!(view);
  return view;
}

/** Whether `view` starts aligned and its memory extends to at least `reach` bytes from there. */
function usable(view: Buffer, reach: number): boolean {
  const io = ioAddon();
  return (
    io !== null &&
    O_DIRECT !== 0 &&
    view.byteOffset + reach <= view.buffer.byteLength &&
    io.addressModulo(view, DIRECT_ALIGN) === 0
  );
}

/** Whether I/O on `file` through `view` (up to `reach` bytes) may go around the page cache. */
function directFor(file: string, view: Buffer, reach: number): boolean {
  return usable(view, reach) && !noDirect.has(dirname(file));
}

/** `file`'s filesystem refused O_DIRECT (EINVAL at open): buffered in its directory from now on. */
function refuseDirect(file: string): void {
  noDirect.add(dirname(file));
}

async function openDirect(file: string, flags: number, mode?: number): Promise<FileHandle | undefined> {
  try {
    return await open(file, flags | O_DIRECT, mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EINVAL") throw err;
    refuseDirect(file);
    return undefined;
  }
}

/** Writes `data` as the whole content of a new file `file` (created or truncated). */
export async function writeWholeFile(file: string, data: Buffer): Promise<void> {
  const padded = roundUp(data.length);
  const fh = directFor(file, data, padded)
    ? await openDirect(file, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o644)
    : undefined;
  if (fh) {
    try {
      // The padding past the end is whatever the pooled buffer held (sealed bytes): cut off below.
      const span = Buffer.from(data.buffer, data.byteOffset, padded);
      let done = 0;
      while (done < padded) done += (await fh.write(span, done, padded - done, done)).bytesWritten;
      if (padded !== data.length) await fh.truncate(data.length);
      directIoStats.directWrites++;
      return;
    } finally {
      await fh.close();
    }
  }
  // One write call for the whole file (writeFile would cut it into 512 KiB calls, each a hop
  // into the thread pool that costs the event loop time on a busy machine).
  directIoStats.bufferedWrites++;
  const plain = await open(file, "w");
  try {
    let done = 0;
    while (done < data.length) done += (await plain.write(data, done, data.length - done, done)).bytesWritten;
  } finally {
    await plain.close();
  }
}

/**
 * Writes `data` as the whole content of `tmp` and renames it to `file` (a disk-cache run). With
 * the native helper that is one job in the thread pool (open, write, truncate, close, rename:
 * io-file.cc) instead of five round trips through fs/promises, each of which wakes a pool thread
 * and then the event loop — expensive on VMs, and a cold stream writes a run per GET.
 */
export async function writeFileAtomically(tmp: string, file: string, data: Buffer): Promise<void> {
  const native = ioAddon()?.writeFileAtomic;
  if (!native) {
    await writeWholeFile(tmp, data);
    await rename(tmp, file);
    return;
  }
  const padded = roundUp(data.length);
  let direct = directFor(tmp, data, padded);
  // Padding past the end is whatever the pooled buffer held (sealed bytes): truncated off.
  let result = await native(
    tmp,
    file,
    direct ? Buffer.from(data.buffer, data.byteOffset, padded) : data,
    data.length,
    direct,
  );
  if (direct && result === -osConstants.errno.EINVAL) {
    refuseDirect(tmp);
    direct = false;
    result = await native(tmp, file, data, data.length, false);
  }
  if (result !== 0) throw errnoError(result, tmp);
  if (direct) directIoStats.directWrites++;
  else directIoStats.bufferedWrites++;
}

/** A negative errno from the native helper as the error fs would have thrown. */
function errnoError(negativeErrno: number, path: string): NodeJS.ErrnoException {
  const code = Object.entries(osConstants.errno).find(([, n]) => n === -negativeErrno)?.[0] ?? "EIO";
  const err: NodeJS.ErrnoException = new Error(`${code}: cannot write ${path}`);
  Object.assign(err, { code, errno: negativeErrno, path, syscall: "write" });
  return err;
}

/**
 * `length` bytes of `file` at `offset`, read into `into`; returns a view of them (shorter when
 * the file is). Direct when `into` is aligned with room for the aligned range around the bytes
 * (`directCapacity(length)`), else buffered into the start of `into` (which then needs `length`).
 */
export async function readFileRange(file: string, offset: number, into: Buffer, length: number): Promise<Buffer> {
  const start = offset - (offset % DIRECT_ALIGN);
  const span = roundUp(offset + length) - start;
  // Within `into` itself: a pooled buffer may be one slice of an arena (buffer-pool.ts), and the
  // memory past it another caller's buffer.
  const fh =
    span <= into.length && directFor(file, into, span) ? await openDirect(file, constants.O_RDONLY) : undefined;
  if (fh) {
    try {
      const got = await readLoop(fh, Buffer.from(into.buffer, into.byteOffset, span), start, span, true);
      const skip = offset - start;
      directIoStats.directReads++;
      return into.subarray(skip, skip + Math.max(0, Math.min(length, got - skip)));
    } finally {
      await fh.close();
    }
  }
  directIoStats.bufferedReads++;
  const plain = await open(file, "r");
  try {
    return into.subarray(0, await readLoop(plain, into, offset, length, false));
  } finally {
    await plain.close();
  }
}

async function readLoop(
  fh: FileHandle,
  into: Buffer,
  offset: number,
  length: number,
  direct: boolean,
): Promise<number> {
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(into, got, length - got, offset + got);
    got += bytesRead;
    // A direct read that stops short of a block boundary hit the end of the file (and one more
    // read would start unaligned).
    if (bytesRead === 0 || (direct && got % DIRECT_ALIGN !== 0)) break;
  }
  return got;
}
