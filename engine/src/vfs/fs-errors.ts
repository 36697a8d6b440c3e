/**
 * One mapping from what the layers below throw to the FsError the FUSE adapter turns into an
 * errno. Unknown errors become EIO (and are logged by the adapter).
 */
import { IntegrityError } from "../crypto/errors.js";
import { WriteBackClosedError, WriteBackFullError } from "../data/errors.js";
import { MetaError, POSIX_ERROR_CODES } from "../meta/errors.js";
import { FsError, type FsErrorCode } from "./errors.js";

/** Metadata codes that are errnos pass through as they are (unless SERVICE maps them below). */
const DIRECT = new Set<string>(POSIX_ERROR_CODES);

/** Service conditions without an errno of their own, and EDQUOT (the kernel sees ENOSPC). */
const SERVICE: Record<string, FsErrorCode> = {
  EDQUOT: "ENOSPC",
  STALE_SESSION: "ESTALE",
  FENCED: "EIO",
  UNSUPPORTED_PROTOCOL: "EIO",
  UNAUTHENTICATED: "EACCES",
  NO_SNAPSHOT: "ENOENT",
  UNAVAILABLE: "EIO",
};

/** The FsError for anything thrown below the VFS. */
export function toFsError(err: unknown): FsError {
  if (err instanceof FsError) return err;
  if (err instanceof MetaError) {
    const code = SERVICE[err.code] ?? (DIRECT.has(err.code) ? (err.code as FsErrorCode) : "EIO");
    return new FsError(code, err.message, { cause: err });
  }
  if (err instanceof WriteBackFullError) return new FsError("ENOSPC", err.message, { cause: err });
  if (err instanceof WriteBackClosedError) return new FsError("EROFS", err.message, { cause: err });
  if (err instanceof IntegrityError) return new FsError("EIO", err.message, { cause: err });
  return new FsError("EIO", err instanceof Error ? err.message : String(err), { cause: err });
}

/** Runs `fn`, rethrowing failures as FsError. */
export async function fsCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toFsError(err);
  }
}

/** True for answers that mean "the file is gone" (commits for it can be dropped). */
export function isGone(err: unknown): boolean {
  return err instanceof MetaError && (err.code === "ENOENT" || err.code === "EBADF");
}
