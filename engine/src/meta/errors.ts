/**
 * The one error type the metadata API answers with. `code` is a POSIX errno *name* (the
 * FUSE layer maps it to a number, the gRPC layer to a status + this code in metadata) or
 * a service-level condition that has no errno.
 */

export const POSIX_ERROR_CODES = [
  "ENOENT",
  "EEXIST",
  "ENOTEMPTY",
  "ENOTDIR",
  "EISDIR",
  "EINVAL",
  "EDQUOT",
  "ENOSPC",
  "EACCES",
  "EPERM",
  "EROFS",
  "EXDEV",
  "ELOOP",
  "EMLINK",
  "ENAMETOOLONG",
  "ENODATA",
  "ERANGE",
  "EBADF",
  "EFBIG",
  "EBUSY",
] as const;

export const SERVICE_ERROR_CODES = [
  /** The session is unknown, closed or expired: open a new one (and re-open handles). */
  "STALE_SESSION",
  /** A newer lock token or a newer service epoch exists; this writer has been fenced off. */
  "FENCED",
  /** No protocol version in common between client and service. */
  "UNSUPPORTED_PROTOCOL",
  /** The access token is missing, malformed, forged or expired. */
  "UNAUTHENTICATED",
  /** The snapshot named in a read does not exist (or was deleted). */
  "NO_SNAPSHOT",
  /** The service stopped accepting writes (journal failure, shutting down, fenced by a newer epoch). */
  "UNAVAILABLE",
] as const;

export type PosixErrorCode = (typeof POSIX_ERROR_CODES)[number];
export type ServiceErrorCode = (typeof SERVICE_ERROR_CODES)[number];
export type MetaErrorCode = PosixErrorCode | ServiceErrorCode;

const ALL_CODES: ReadonlySet<string> = new Set<string>([...POSIX_ERROR_CODES, ...SERVICE_ERROR_CODES]);

export function isMetaErrorCode(code: unknown): code is MetaErrorCode {
  return typeof code === "string" && ALL_CODES.has(code);
}

export class MetaError extends Error {
  override name = "MetaError";
  constructor(
    readonly code: MetaErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${code}: ${message}`, options);
  }
}

export function isMetaError(err: unknown, code?: MetaErrorCode): err is MetaError {
  return err instanceof MetaError && (code === undefined || err.code === code);
}
