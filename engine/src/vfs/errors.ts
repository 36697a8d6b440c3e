/**
 * File-system errors as the VFS throws them. A VFS never returns errno numbers: it throws
 * `FsError` with a POSIX code name, and the FUSE adapter maps the name to the kernel's errno in
 * one place (`errnoOf` below). Anything else a VFS throws is a bug and answers EIO.
 */
import { constants } from "node:os";

export type FsErrorCode =
  | "EPERM"
  | "ENOENT"
  | "EIO"
  | "EBADF"
  | "EAGAIN"
  | "EWOULDBLOCK"
  | "ENOMEM"
  | "EACCES"
  | "EBUSY"
  | "EEXIST"
  | "EXDEV"
  | "ENOTDIR"
  | "EISDIR"
  | "EINVAL"
  | "EFBIG"
  | "ENOSPC"
  | "EROFS"
  | "EMLINK"
  | "ERANGE"
  | "EDEADLK"
  | "ENAMETOOLONG"
  | "ENOLCK"
  | "ENOSYS"
  | "ENOTEMPTY"
  | "ELOOP"
  | "ENODATA"
  | "EOPNOTSUPP"
  | "EINTR"
  | "ESTALE"
  | "ETIMEDOUT";

export class FsError extends Error {
  override name = "FsError";
  readonly code: FsErrorCode;
  constructor(code: FsErrorCode, message?: string, options?: { cause?: unknown }) {
    // An expected answer (ENOENT of a probed name, ENODATA of an absent xattr) is not a bug: no
    // stack. Capturing one walks the optimized frames (V8 rebuilds their inlined functions) and
    // was the costliest line of a negative lookup. EIO keeps its stack: it is logged.
    const limit = Error.stackTraceLimit;
    if (code !== "EIO") Error.stackTraceLimit = 0;
    try {
      super(message ? `${code}: ${message}` : code, options);
    } finally {
      Error.stackTraceLimit = limit;
    }
    this.code = code;
  }
}

/** Shorthand used by VFS implementations: `throw fsError("ENOENT", name)`. */
export function fsError(code: FsErrorCode, message?: string): FsError {
  return new FsError(code, message);
}

/** Linux errno numbers for the codes (ENODATA is not in os.constants on every platform). */
const extraErrno: Record<string, number> = { ENODATA: 61, ENOTSUP: 95, EOPNOTSUPP: 95 };

/** The one place where a thrown value becomes an errno (positive number). */
export function errnoOf(err: unknown): number {
  if (err instanceof FsError) {
    const n = (constants.errno as Record<string, number>)[err.code] ?? extraErrno[err.code];
    if (n !== undefined) return n;
  }
  return constants.errno.EIO;
}

/** True when the error is an expected file-system answer (not a bug worth logging). */
export function isExpectedFsError(err: unknown): boolean {
  return err instanceof FsError && err.code !== "EIO";
}
