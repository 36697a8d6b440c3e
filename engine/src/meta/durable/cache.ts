/**
 * Optional local disk cache of sealed journal/checkpoint objects, keyed by (key, etag).
 *
 * Never trusted over the store: recovery always lists the store, so the store decides which
 * objects exist and which version (etag) is current; the cache only saves downloading bytes
 * the store already told us about, and what it returns is authenticated (AEAD, object key as
 * associated data) like anything fetched. An empty or wiped cache directory gives the same state.
 */
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

export class LocalObjectCache {
  readonly #dir: string;
  #ready: Promise<unknown> | undefined;

  constructor(dir: string) {
    this.#dir = dir;
  }

  #name(key: string, etag: string): string {
    return createHash("sha256").update(key).update("\0").update(etag).digest("hex");
  }

  async get(key: string, etag: string): Promise<Buffer | undefined> {
    try {
      return await readFile(join(this.#dir, this.#name(key, etag)));
    } catch {
      return undefined;
    }
  }

  /** Best effort: a cache that cannot be written only costs speed. */
  async put(key: string, etag: string, sealed: Buffer): Promise<void> {
    try {
      this.#ready ??= mkdir(this.#dir, { recursive: true });
      await this.#ready;
      const name = this.#name(key, etag);
      const tmp = join(this.#dir, `${name}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
      await writeFile(tmp, sealed);
      await rename(tmp, join(this.#dir, name));
    } catch {
      // ignore: the cache is an optimisation
    }
  }

  /** Delete every cached object except these (key, etag) pairs. */
  async retain(keep: Iterable<{ key: string; etag: string }>): Promise<void> {
    const names = new Set<string>();
    for (const k of keep) names.add(this.#name(k.key, k.etag));
    let entries: string[];
    try {
      entries = await readdir(this.#dir);
    } catch {
      return;
    }
    await Promise.all(entries.filter((e) => !names.has(e)).map((e) => rm(join(this.#dir, e), { force: true })));
  }
}
