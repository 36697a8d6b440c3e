/** Typed object-store errors: every backend maps its own failures onto these. */

export class ObjectStoreError extends Error {
  override name = "ObjectStoreError";
  constructor(
    message: string,
    readonly key?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class ObjectNotFoundError extends ObjectStoreError {
  override name = "ObjectNotFoundError";
  constructor(key: string, options?: { cause?: unknown }) {
    super(`object not found: ${key}`, key, options);
  }
}

export class ObjectPreconditionFailedError extends ObjectStoreError {
  override name = "ObjectPreconditionFailedError";
  constructor(key: string, options?: { cause?: unknown }) {
    super(`precondition failed for object: ${key}`, key, options);
  }
}

export class ObjectAbortedError extends ObjectStoreError {
  override name = "ObjectAbortedError";
  constructor(key?: string, options?: { cause?: unknown }) {
    super(key ? `aborted: ${key}` : "aborted", key, options);
  }
}

export class ObjectUnsupportedError extends ObjectStoreError {
  override name = "ObjectUnsupportedError";
}

/**
 * A failure worth retrying (throttling, 5xx, connection reset, timeout).
 * Backends wrap such failures in this class so the retry wrapper needs no backend knowledge.
 */
export class ObjectTransientError extends ObjectStoreError {
  override name = "ObjectTransientError";
  constructor(
    message: string,
    key?: string,
    readonly throttled = false,
    options?: { cause?: unknown },
  ) {
    super(message, key, options);
  }
}

/** Retries exhausted: carries the last cause and how many attempts were made. */
export class ObjectRetriesExhaustedError extends ObjectStoreError {
  override name = "ObjectRetriesExhaustedError";
  constructor(
    readonly attempts: number,
    key: string | undefined,
    cause: unknown,
  ) {
    super(
      `object store still failing after ${attempts} attempts${key ? ` (${key})` : ""}: ${(cause as Error)?.message ?? cause}`,
      key,
      { cause },
    );
  }
}
