/**
 * Scheme registry: each backend module registers the URL scheme it serves, so
 * `openObjectStore(url)` needs no switch over backends and new ones plug in from outside.
 */
import type { z } from "zod";
import { ObjectStoreError } from "./errors.js";
import type { RetryOptions } from "./retry.js";
import type { ObjectStore } from "./types.js";

/** Options for `openObjectStore`; secrets come from here or the environment, never the URL. */
export interface OpenObjectStoreOptions {
  /** Environment to read credentials from (default `process.env`); injectable for tests. */
  env?: Record<string, string | undefined>;
  /** S3: explicit credentials instead of the standard AWS chain. */
  s3?: { accessKeyId?: string; secretAccessKey?: string; sessionToken?: string };
  /** Azure: explicit credentials instead of AZURE_STORAGE_* variables. */
  azure?: { connectionString?: string; accountName?: string; accountKey?: string };
  /**
   * Client-side timeout per request for network backends (ms), until response headers
   * (uploads get extra time in proportion to their size on Azure). Default 30 s.
   */
  requestTimeoutMs?: number;
  /**
   * Network backends (s3, azure) are wrapped in the retry wrapper, which is the ONE retry
   * layer: the SDKs are configured not to retry. `false` returns the bare backend.
   */
  retry?: RetryOptions | false;
}

export type SchemeOpener = (url: URL, options: OpenObjectStoreOptions) => Promise<ObjectStore> | ObjectStore;

const openers = new Map<string, SchemeOpener>();

/** `scheme` without the colon, e.g. "s3". Registering twice replaces the opener. */
export function registerObjectStoreScheme(scheme: string, opener: SchemeOpener): void {
  openers.set(scheme.toLowerCase(), opener);
}

export function registeredSchemes(): string[] {
  return [...openers.keys()].sort();
}

export function openerFor(scheme: string): SchemeOpener {
  const opener = openers.get(scheme.toLowerCase());
  if (!opener) {
    throw new ObjectStoreError(
      `unsupported object store URL scheme "${scheme}:": expected one of ${registeredSchemes()
        .map((s) => `${s}://`)
        .join(", ")}`,
    );
  }
  return opener;
}

/** One part of a URL checked by `schema`; a failure throws an error that names that part. */
export function parseUrlPart<T>(url: URL, part: string, schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue?.path.length ? `${part}.${issue.path.join(".")}` : part;
  throw urlError(url, where, issue?.message ?? "invalid");
}

/** An error naming the part of the URL that is wrong and what was expected. */
export function urlError(url: URL, part: string, message: string): ObjectStoreError {
  return new ObjectStoreError(`invalid object store URL ${redact(url)}: ${part}: ${message}`);
}

/** The URL without credentials, for messages and `description`. */
export function redact(url: URL): string {
  const copy = new URL(url.href);
  copy.username = "";
  copy.password = "";
  return copy.href;
}

/** Query parameters as a plain object (last value wins), for zod validation. */
export function queryOf(url: URL): Record<string, string> {
  return Object.fromEntries(url.searchParams.entries());
}
