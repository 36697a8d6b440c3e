/**
 * `filespace fsck <store-url>`: every referenced chunk exists and authenticates (downloaded and
 * opened with the filespace key), extent ranges lie inside their chunks (when read offline),
 * the metadata journal and checkpoints authenticate and are continuous, and unreferenced chunks
 * (orphans) are reported with their bytes — removed with `--remove-orphans`, but never while
 * younger than `--grace` (they may be uploads whose commit is still coming).
 *
 * Exit 0 when nothing is damaged (orphans are waste, not damage), 1 when something is.
 */
import { AtRestCipher, ChunkCodec } from "@filespaces/engine";
import { checkChunks, checkMetadata, type FsckReport, type MetaFsckReport } from "@filespaces/engine/meta/fsck";
import { Command } from "commander";
import { z } from "zod";
import { formatSize, parseFlags } from "../flags.js";
import { withStore } from "../store.js";
import {
  maintenanceFlags,
  openMaintenanceContext,
  unlockFilespace,
  withMaintenanceOptions,
} from "./maintenance-context.js";

/** The filespace has damage fsck cannot repair (exit 1 after the report). */
export class FilespaceDamagedError extends Error {
  override name = "FilespaceDamagedError";
}

const fsckFlags = z.object({
  ...maintenanceFlags,
  removeOrphans: z.boolean().optional(),
  json: z.boolean().optional(),
  concurrency: z.coerce.number().int().min(1).max(64, "expected 1–64 parallel downloads"),
});

export function describeFsck(
  chunks: FsckReport | undefined,
  meta: MetaFsckReport,
  source: string,
  version: number,
): string[] {
  const lines = [
    `references: ${source}, version ${version}`,
    `metadata: ${meta.checkpoints.length} checkpoint(s), ${meta.segments} journal segment(s) after the newest good checkpoint`,
  ];
  for (const c of meta.checkpoints) if (c.error) lines.push(`  DAMAGED checkpoint at version ${c.version}: ${c.error}`);
  for (const s of meta.badSegments) lines.push(`  DAMAGED journal segment ${s.seq}: ${s.error}`);
  for (const g of meta.gaps) lines.push(`  MISSING journal segments after ${g.afterSeq} (next is ${g.nextSeq})`);
  for (const v of meta.versionGaps) {
    lines.push(`  VERSION GAP at journal segment ${v.seq}: expected version ${v.expected}, found ${v.found}`);
  }
  if (!chunks) return lines;
  lines.push(
    `chunks: ${chunks.referencedChunks} referenced, ${chunks.checkedChunks} present and checked ` +
      `(${formatSize(chunks.checkedBytes)})`,
  );
  for (const id of chunks.missing) lines.push(`  MISSING chunk ${id}: referenced but not in the store`);
  for (const c of chunks.corrupt) lines.push(`  CORRUPT chunk ${c.chunkId}: ${c.error}`);
  for (const r of chunks.outOfRange) {
    lines.push(
      `  OUT OF RANGE chunk ${r.chunkId}: an extent uses ${r.offset}+${r.length} of a ${r.chunkLength}-byte chunk`,
    );
  }
  for (const o of chunks.orphans) {
    lines.push(`  ORPHAN chunk ${o.chunkId} (${o.size} B)${chunks.orphansRemoved ? " — removed" : ""}`);
  }
  if (chunks.orphans.length) {
    lines.push(
      `orphans: ${chunks.orphans.length} (${formatSize(chunks.orphanBytes)})` +
        (chunks.orphansRemoved ? `, ${chunks.orphansRemoved} removed` : "; --remove-orphans deletes them"),
    );
  }
  if (chunks.pending)
    lines.push(`pending: ${chunks.pending} unreferenced chunk(s) younger than the grace period (kept)`);
  for (const key of chunks.foreign) lines.push(`  FOREIGN object ${key} under chunks/ (not touched)`);
  return lines;
}

export function fsckCommand(): Command {
  return withMaintenanceOptions(new Command("fsck"))
    .description("verify that every referenced chunk exists and authenticates; report (and remove) orphans")
    .option("--remove-orphans", "delete unreferenced chunks older than --grace")
    .option("--json", "print the report as JSON")
    .option("--concurrency <n>", "parallel chunk downloads", "4")
    .action(async (url: string, raw: unknown) => {
      const flags = parseFlags(fsckFlags, raw);
      await withStore(url, async (store) => {
        const { header, keyring, metaKey } = await unlockFilespace(store, flags);
        const sealed = { store, cipher: new AtRestCipher(metaKey), prefix: "" };
        let ctx: Awaited<ReturnType<typeof openMaintenanceContext>>;
        try {
          ctx = await openMaintenanceContext(store, flags, { header, keyring, metaKey });
        } catch (err) {
          if ((err as Error).name === "UsageError") throw err;
          // Offline recovery failed: the metadata itself is damaged. Say where, then fail.
          const meta = await checkMetadata(sealed);
          const lines = describeFsck(undefined, meta, "metadata read from the store", 0);
          lines.push(`UNRECOVERABLE metadata: ${(err as Error).message}`, "result: DAMAGED");
          process.stdout.write(`${lines.join("\n")}\n`);
          throw new FilespaceDamagedError(`the filespace is damaged: its metadata cannot be recovered`, { cause: err });
        }
        const codec = new ChunkCodec(keyring, { blockSize: header.blockSize });
        let version = 0;
        // checkChunks lists the store before it pulls the references (see gc/collect.ts).
        async function* references() {
          const loaded = await ctx.loadReferences();
          version = loaded.version;
          yield* loaded.references;
        }
        let meta = await checkMetadata(sealed);
        // A running service prunes old segments and checkpoints while we read them: a damaged
        // result counts only if a second look confirms it.
        if (!meta.healthy && flags.meta !== "embedded") meta = await checkMetadata(sealed);
        const chunks = await checkChunks({
          store,
          references: references(),
          authenticate: (id, sealed) => codec.open(id, sealed).length,
          removeOrphans: flags.removeOrphans ?? false,
          graceMs: flags.grace,
          concurrency: flags.concurrency,
        }).finally(() => ctx.close());
        // A damaged checkpoint is damage even when recovery could fall back to an older one.
        const metaHealthy = meta.healthy && !meta.checkpoints.some((c) => c.error);
        const healthy = chunks.healthy && metaHealthy;
        if (flags.json) {
          const report = { healthy, source: ctx.source, version, metadata: meta, chunks };
          process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        } else {
          const lines = describeFsck(chunks, meta, ctx.source, version);
          lines.push(healthy ? "result: healthy" : "result: DAMAGED");
          process.stdout.write(`${lines.join("\n")}\n`);
        }
        if (!healthy) {
          const parts = [
            chunks.missing.length && `${chunks.missing.length} missing chunk(s)`,
            chunks.corrupt.length && `${chunks.corrupt.length} corrupt chunk(s)`,
            chunks.outOfRange.length && `${chunks.outOfRange.length} out-of-range extent(s)`,
            !metaHealthy && "damaged metadata",
          ].filter(Boolean);
          throw new FilespaceDamagedError(`the filespace is damaged: ${parts.join(", ")}`);
        }
      });
    });
}
