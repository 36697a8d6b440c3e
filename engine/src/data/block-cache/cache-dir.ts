/**
 * The disk cache's directory: one file per RUN of consecutive sealed blocks of one chunk, as
 * they arrived in one range GET, at `<dir>/blocks/<first 2 chars of chunk id>/<run name>`
 * (run-name.ts), written to `<dir>/tmp/` and renamed into place; pinned chunk ids in
 * `<dir>/pins.json`.
 * - The index is rebuilt at start from directory listings alone: the name carries the key and the
 *   sizes, so no stat and no file read per file.
 * - Crash safety needs no journal: a rename is atomic; a file torn by a power loss keeps its name,
 *   but a block of it fails AEAD in the reader (or the file is shorter than its name says), and
 *   the whole run is dropped. Leftovers in `tmp/` are removed at open.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomically } from "../direct-io.js";
import { type Run, runOf } from "./run-name.js";

export class CacheDir {
  /** Shard directories known to exist (or being created). */
  private readonly shards = new Map<string, Promise<void>>();

  private constructor(readonly dir: string) {}

  /** Create the layout, clearing writes a previous process left unfinished in `tmp/`. */
  static async prepare(dir: string): Promise<CacheDir> {
    await rm(join(dir, "tmp"), { recursive: true, force: true });
    await mkdir(join(dir, "tmp"), { recursive: true });
    await mkdir(join(dir, "blocks"), { recursive: true });
    return new CacheDir(dir);
  }

  fileOf(r: Run): string {
    return join(this.dir, "blocks", r.chunkId.slice(0, 2), r.name);
  }

  /** Pinned chunk ids; none when the file is missing or torn (start unpinned rather than refuse to mount). */
  async loadPins(): Promise<string[]> {
    try {
      const pins = JSON.parse(await readFile(join(this.dir, "pins.json"), "utf8")) as unknown;
      if (Array.isArray(pins)) return pins.filter((id): id is string => typeof id === "string");
    } catch {
      // no pins yet, or a torn pins file
    }
    return [];
  }

  async savePins(chunkIds: readonly string[]): Promise<void> {
    const tmp = join(this.dir, "tmp", `pins-${randomBytes(6).toString("hex")}`);
    await writeFile(tmp, JSON.stringify(chunkIds));
    await rename(tmp, join(this.dir, "pins.json"));
  }

  /** Every run file, shard by shard in listing order (stray names are skipped). */
  async listRuns(): Promise<Run[]> {
    const shardNames = await readdir(join(this.dir, "blocks"));
    const listings = await Promise.all(
      shardNames.map((s) =>
        readdir(join(this.dir, "blocks", s)).then(
          (n) => [s, n] as const,
          () => undefined, // a stray file where a shard directory belongs
        ),
      ),
    );
    const runs: Run[] = [];
    for (const listing of listings) {
      if (!listing) continue;
      const [shard, names] = listing;
      this.shards.set(shard, Promise.resolve());
      for (const name of names) {
        const run = runOf(name);
        if (run) runs.push(run);
      }
    }
    return runs;
  }

  /** Write a run's file atomically (tmp + rename); rejects on any I/O error. */
  async writeRun(run: Run, sealed: Buffer): Promise<void> {
    await this.shardReady(run.chunkId.slice(0, 2));
    const tmp = join(this.dir, "tmp", randomBytes(8).toString("hex"));
    // Straight from the GET buffer, around the page cache when the buffer allows (direct-io.ts).
    await writeFileAtomically(tmp, this.fileOf(run), sealed);
  }

  private shardReady(shard: string): Promise<void> {
    let ready = this.shards.get(shard);
    if (!ready) {
      ready = mkdir(join(this.dir, "blocks", shard), { recursive: true }).then(() => {});
      this.shards.set(shard, ready);
      ready.catch(() => this.shards.delete(shard));
    }
    return ready;
  }
}
