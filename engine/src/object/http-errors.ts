/**
 * One mapping from SDK/HTTP failures to the typed errors, shared by the s3 and azure
 * backends: 404 → not found, 412 → precondition failed, 408/429/503/SlowDown → transient
 * (throttled), other 5xx, connection resets and timeouts → transient, anything else → a
 * plain ObjectStoreError (a bug or a permission problem that retrying will not fix).
 */
import {
  ObjectAbortedError,
  ObjectNotFoundError,
  ObjectPreconditionFailedError,
  ObjectStoreError,
  ObjectTransientError,
} from "./errors.js";

const NETWORK_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "UND_ERR_SOCKET",
  "REQUEST_SEND_ERROR",
]);
const THROTTLE_NAMES = new Set(["SlowDown", "Throttling", "ThrottlingException", "TooManyRequests", "ServerBusy"]);
const NOT_FOUND_NAMES = new Set(["NoSuchKey", "NotFound", "BlobNotFound"]);
const TIMEOUT_NAMES = new Set(["TimeoutError", "RequestTimeout", "RequestTimeoutException", "OperationTimeoutError"]);

export interface HttpishError {
  name?: string;
  code?: string;
  statusCode?: number;
  $metadata?: { httpStatusCode?: number };
  Code?: string;
}

export function statusOf(err: unknown): number | undefined {
  const e = err as HttpishError | undefined;
  return e?.$metadata?.httpStatusCode ?? e?.statusCode;
}

/** Maps `err` (from any SDK call on `key`) to the typed error hierarchy. */
export function mapStoreError(err: unknown, key: string | undefined, signal?: AbortSignal): ObjectStoreError {
  if (err instanceof ObjectStoreError) return err;
  const e = (err ?? {}) as HttpishError;
  const name = e.name ?? "";
  const code = e.code ?? e.Code ?? "";
  if (signal?.aborted || name === "AbortError") return new ObjectAbortedError(key, { cause: err });
  const status = statusOf(err);
  if (status === 404 || NOT_FOUND_NAMES.has(name) || NOT_FOUND_NAMES.has(code)) {
    return key !== undefined ? new ObjectNotFoundError(key, { cause: err }) : plain(err, key, status);
  }
  if (status === 412 || name === "PreconditionFailed" || code === "ConditionNotMet") {
    return new ObjectPreconditionFailedError(key ?? "", { cause: err });
  }
  if (status === 409 && (name === "ConditionalRequestConflict" || code === "ConditionalRequestConflict")) {
    // S3: a concurrent conditional write won; the caller must re-read, exactly like 412.
    return new ObjectPreconditionFailedError(key ?? "", { cause: err });
  }
  const throttled = status === 429 || status === 503 || THROTTLE_NAMES.has(name) || THROTTLE_NAMES.has(code);
  if (throttled) return new ObjectTransientError(describe(err, status), key, true, { cause: err });
  if (
    (status !== undefined && status >= 500) ||
    status === 408 ||
    NETWORK_CODES.has(code) ||
    TIMEOUT_NAMES.has(name) ||
    TIMEOUT_NAMES.has(code)
  ) {
    return new ObjectTransientError(describe(err, status), key, false, { cause: err });
  }
  return plain(err, key, status);
}

function plain(err: unknown, key: string | undefined, status: number | undefined): ObjectStoreError {
  return new ObjectStoreError(describe(err, status), key, { cause: err });
}

function describe(err: unknown, status: number | undefined): string {
  const e = err as Error & HttpishError;
  const what = [e?.name, e?.code ?? e?.Code, status ? `HTTP ${status}` : undefined].filter(Boolean).join(" ");
  return `${what || "object store request failed"}: ${e?.message ?? String(err)}`;
}
