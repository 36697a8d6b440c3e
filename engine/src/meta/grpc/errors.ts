/**
 * One mapping between MetaError and gRPC status, used by both ends. The status code is for
 * generic gRPC tooling (and retry decisions); the exact MetaError code travels in the
 * `x-meta-error` trailer so the client re-creates the very error the service threw.
 */

import type { ServiceError } from "@grpc/grpc-js";
import { Metadata, status } from "@grpc/grpc-js";
import { isMetaErrorCode, MetaError, type MetaErrorCode } from "../errors.js";
import { ERROR_CODE_TRAILER } from "./proto.js";

const STATUS_BY_CODE: Partial<Record<MetaErrorCode, status>> = {
  ENOENT: status.NOT_FOUND,
  NO_SNAPSHOT: status.NOT_FOUND,
  EEXIST: status.ALREADY_EXISTS,
  EACCES: status.PERMISSION_DENIED,
  EPERM: status.PERMISSION_DENIED,
  EROFS: status.PERMISSION_DENIED,
  EDQUOT: status.RESOURCE_EXHAUSTED,
  ENOSPC: status.RESOURCE_EXHAUSTED,
  EINVAL: status.INVALID_ARGUMENT,
  ENAMETOOLONG: status.INVALID_ARGUMENT,
  ERANGE: status.OUT_OF_RANGE,
  EFBIG: status.OUT_OF_RANGE,
  FENCED: status.ABORTED,
  UNSUPPORTED_PROTOCOL: status.UNIMPLEMENTED,
  UNAUTHENTICATED: status.UNAUTHENTICATED,
  UNAVAILABLE: status.UNAVAILABLE,
};

/** Status for a MetaError code; POSIX conditions not listed are FAILED_PRECONDITION. */
export function statusForCode(code: MetaErrorCode): status {
  return STATUS_BY_CODE[code] ?? status.FAILED_PRECONDITION;
}

/** What the server sends for a thrown error. Non-MetaErrors are INTERNAL (message kept, no stack). */
export function toServiceError(err: unknown): Partial<ServiceError> {
  const metadata = new Metadata();
  if (err instanceof MetaError) {
    metadata.set(ERROR_CODE_TRAILER, err.code);
    return { code: statusForCode(err.code), details: err.message, metadata };
  }
  const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return { code: status.INTERNAL, details: message, metadata };
}

/** A gRPC failure that carries no MetaError: transport trouble or a server bug. */
export class MetaTransportError extends Error {
  override name = "MetaTransportError";
  constructor(
    readonly status: status,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Client side: re-create the service's MetaError, or a MetaTransportError when there is none. */
export function fromServiceError(err: ServiceError, method: string): MetaError | MetaTransportError {
  const code = err.metadata?.get(ERROR_CODE_TRAILER)[0];
  if (typeof code === "string" && isMetaErrorCode(code)) {
    const details = err.details ?? "";
    const message = details.startsWith(`${code}: `) ? details.slice(code.length + 2) : details;
    return new MetaError(code, message, { cause: err });
  }
  if (err.code === status.UNAUTHENTICATED) return new MetaError("UNAUTHENTICATED", err.details, { cause: err });
  if (err.code === status.UNAVAILABLE || err.code === status.DEADLINE_EXCEEDED) {
    return new MetaError("UNAVAILABLE", `${method}: metadata service unreachable (${err.details})`, { cause: err });
  }
  return new MetaTransportError(err.code, `${method}: ${status[err.code]}: ${err.details}`, { cause: err });
}

/** Worth retrying: the request may not have reached a live service, and mutations are deduplicated. */
export function isRetryableStatus(err: ServiceError): boolean {
  if (err.code === status.DEADLINE_EXCEEDED) return true;
  return err.code === status.UNAVAILABLE;
}
