/**
 * `filespace gc <store-url>`: delete chunks that no live file, snapshot or open handle references
 * and that are older than `--grace` (younger ones may be uploads about to be committed). A running
 * `meta serve` does this on its own schedule; this is the manual run (or the dry run).
 */
import { collectGarbage } from "@filespaces/engine/meta/gc";
import { Command } from "commander";
import { z } from "zod";
import { formatSize, parseFlags } from "../flags.js";
import { withStore } from "../store.js";
import { maintenanceFlags, openMaintenanceContext, withMaintenanceOptions } from "./maintenance-context.js";

const gcFlags = z.object({ ...maintenanceFlags, dryRun: z.boolean().optional(), json: z.boolean().optional() });

export function gcCommand(): Command {
  return withMaintenanceOptions(new Command("gc"))
    .description("delete chunks nothing references (older than --grace)")
    .option("--dry-run", "report what would be deleted, delete nothing")
    .option("--json", "print the report as JSON")
    .action(async (url: string, raw: unknown) => {
      const flags = parseFlags(gcFlags, raw);
      await withStore(url, async (store) => {
        const ctx = await openMaintenanceContext(store, flags);
        let version = 0;
        const report = await collectGarbage({
          store,
          referenced: async () => {
            const loaded = await ctx.loadReferences();
            version = loaded.version;
            return loaded.references.map((r) => r.chunkId);
          },
          graceMs: flags.grace,
          dryRun: flags.dryRun ?? false,
        }).finally(() => ctx.close());
        if (flags.json) {
          process.stdout.write(`${JSON.stringify({ source: ctx.source, version, ...report }, null, 2)}\n`);
        } else {
          const verb = report.dryRun ? "would delete" : "deleted";
          const lines = [
            `references: ${ctx.source}, version ${version}`,
            `${verb} ${report.deleted} chunk(s) (${formatSize(report.deletedBytes)}) of ${report.scanned} scanned; ` +
              `${report.live} live, ${report.young} younger than the grace period (kept)`,
            ...report.deletedIds.map((id) => `  ${report.dryRun ? "would delete" : "deleted"} ${id}`),
            ...report.errors.map((e) => `  FAILED to delete ${e.id}: ${e.error}`),
          ];
          process.stdout.write(`${lines.join("\n")}\n`);
        }
        if (report.errors.length) throw new Error(`${report.errors.length} chunk(s) could not be deleted (retry)`);
      });
    });
}
