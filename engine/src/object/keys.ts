/**
 * Small helpers every backend shares: key validation, prefix joining, range arithmetic and
 * abort handling. Backends call these so the contract in types.ts is enforced in one place.
 */
import { ObjectAbortedError, ObjectStoreError } from "./errors.js";
import type { ByteRange } from "./types.js";

/** Temp files of the file backend start with this; such segments are reserved. */
export const RESERVED_SEGMENT_PREFIX = ".fs-tmp-";

/** Throws unless `key` is a relative '/'-separated path without empty, '.' or '..' segments. */
export function assertValidKey(key: string): void {
  const problem = keyProblem(key);
  if (problem) throw new ObjectStoreError(`invalid object key ${JSON.stringify(key)}: ${problem}`, key);
}

function keyProblem(key: string): string | undefined {
  if (typeof key !== "string" || key.length === 0) return "expected a non-empty string";
  if (key.startsWith("/")) return "must not start with '/'";
  if (key.includes("\0")) return "must not contain NUL";
  for (const segment of key.split("/")) {
    if (segment === "") return "must not contain empty segments ('//' or a trailing '/')";
    if (segment === "." || segment === "..") return "must not contain '.' or '..' segments";
    if (segment.startsWith(RESERVED_SEGMENT_PREFIX))
      return `segments starting with ${RESERVED_SEGMENT_PREFIX} are reserved`;
  }
  return undefined;
}

/** A listing prefix may be empty or end in '/', but otherwise follows key rules. */
export function assertValidListPrefix(prefix: string): void {
  if (prefix === "") return;
  assertValidKey(prefix.endsWith("/") ? prefix.slice(0, -1) : prefix);
}

/** Normalises a URL path into a store prefix: '' or 'a/b/' (always ending in '/'). */
export function normalizePrefix(path: string): string {
  const trimmed = path.replace(/^\/+|\/+$/g, "");
  if (trimmed === "") return "";
  assertValidKey(trimmed);
  return `${trimmed}/`;
}

/** Validates a range and returns [start, endExclusive] clipped to `size`. */
export function clipRange(range: ByteRange | undefined, size: number): [number, number] {
  if (!range) return [0, size];
  assertValidRange(range);
  const start = Math.min(range.offset, size);
  return [start, Math.min(size, range.offset + range.length)];
}

export function assertValidRange(range: ByteRange): void {
  const { offset, length } = range;
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw new ObjectStoreError(
      `invalid range {offset: ${offset}, length: ${length}}: expected non-negative safe integers`,
    );
  }
}

export function throwIfAborted(signal: AbortSignal | undefined, key?: string): void {
  if (signal?.aborted) throw new ObjectAbortedError(key, { cause: signal.reason });
}

/** Sleeps `ms`, rejecting with ObjectAbortedError if `signal` fires first. */
export function sleep(ms: number, signal?: AbortSignal, key?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new ObjectAbortedError(key, { cause: signal.reason }));
    const onAbort = () => {
      clearTimeout(timer);
      reject(new ObjectAbortedError(key, { cause: signal?.reason }));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Lexicographic comparison by UTF-8 bytes, the order S3 and Azure list in. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Rejects conditional-put options on a store that cannot honour them. */
export function hasCondition(options: { ifNoneMatch?: "*"; ifMatch?: string } | undefined): boolean {
  return options?.ifNoneMatch !== undefined || options?.ifMatch !== undefined;
}

/** Validates `limit` (1..1000, the S3 maximum every backend can honour); default 1000. */
export function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return 1000;
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new ObjectStoreError(`invalid list limit ${limit}: expected a positive integer`);
  }
  return Math.min(limit, 1000);
}
