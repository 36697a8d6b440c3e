/**
 * Per-key mutual exclusion for the file backend, within and across processes.
 *
 * In-process, callers queue on a promise chain keyed by absolute path (cheap, fair). Across
 * processes, the holder creates `<dir>/.fs-tmp-lock-<hash of name>` with O_EXCL and removes
 * it when done; others poll with jittered sleeps. The lock only covers the commit step of a
 * put (etag check + rename/link) or a delete — milliseconds — so a lock file older than
 * STALE_LOCK_MS belongs to a crashed process and is broken. Breaking renames the stale file
 * aside first and checks it is the inode that was judged stale; the remaining race (two
 * contenders breaking the same stale lock at once) needs a crash first and is accepted.
 */
import { createHash, randomBytes } from "node:crypto";
import { open, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { ObjectTransientError } from "./errors.js";
import { RESERVED_SEGMENT_PREFIX, sleep } from "./keys.js";

/** A lock file this old is left over from a crash (holders keep it for milliseconds). */
export const STALE_LOCK_MS = 10_000;
/** Give up waiting after this long (a transient error: the caller may retry). */
const WAIT_BUDGET_MS = 30_000;

const queues = new Map<string, Promise<unknown>>();

/** Runs `op` while holding the lock for `path` in this process and on disk. */
export async function withKeyLock<T>(path: string, signal: AbortSignal | undefined, op: () => Promise<T>): Promise<T> {
  const previous = queues.get(path) ?? Promise.resolve();
  const run = previous.then(
    () => withLockFile(path, signal, op),
    () => withLockFile(path, signal, op),
  );
  const tail = run.catch(() => {});
  queues.set(path, tail);
  try {
    return await run;
  } finally {
    if (queues.get(path) === tail) queues.delete(path);
  }
}

export function lockFileOf(path: string): string {
  const name = createHash("sha256").update(basename(path)).digest("hex").slice(0, 32);
  return join(dirname(path), `${RESERVED_SEGMENT_PREFIX}lock-${name}`);
}

async function withLockFile<T>(path: string, signal: AbortSignal | undefined, op: () => Promise<T>): Promise<T> {
  const lock = lockFileOf(path);
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    try {
      await (await open(lock, "wx", 0o600)).close();
      break;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException)?.code;
      if (code === "ENOENT") return op(); // no directory: nothing to protect yet (delete of a missing key)
      if (code !== "EEXIST") throw err;
    }
    await breakIfStale(lock);
    if (Date.now() - started > WAIT_BUDGET_MS) {
      throw new ObjectTransientError(`file store key lock ${lock} busy for ${WAIT_BUDGET_MS} ms`, undefined);
    }
    await sleep(1 + Math.random() * Math.min(50, 2 ** attempt), signal);
  }
  try {
    return await op();
  } finally {
    await unlink(lock).catch(() => {});
  }
}

async function breakIfStale(lock: string): Promise<void> {
  const seen = await stat(lock).catch(() => undefined);
  if (!seen || Date.now() - seen.mtimeMs < STALE_LOCK_MS) return;
  const aside = `${lock}-stale-${randomBytes(4).toString("hex")}`;
  if (
    !(await rename(lock, aside).then(
      () => true,
      () => false,
    ))
  )
    return;
  const moved = await stat(aside).catch(() => undefined);
  if (moved && moved.ino !== seen.ino) {
    // Someone broke it first and re-locked; we moved their fresh lock: put it back if we can.
    await rename(aside, lock).catch(() => {});
    return;
  }
  await unlink(aside).catch(() => {});
}
