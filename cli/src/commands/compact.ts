/**
 * `filespace compact <store-url>`: rewrite heavily fragmented files into full chunks (see
 * engine meta/maintenance/compaction.ts for the policy and why a concurrent write is never lost).
 * Runs here because only a key holder can re-seal data. Through `--meta` it goes through the
 * running service; without it, it runs a short-lived service of its own (refused while another
 * one holds the filespace). The old chunks become garbage for the next GC.
 */
import { randomUUID } from "node:crypto";
import { ChunkCodec } from "@filespaces/engine";
import type { CallContext, MetaApi } from "@filespaces/engine/meta";
import { compactTree, openMaintenanceService } from "@filespaces/engine/meta/maintenance";
import { Command } from "commander";
import { z } from "zod";
import { formatSize, parseFlags } from "../flags.js";
import { withStore } from "../store.js";
import { asUsageError, connectFlags, connectMeta, unlockFilespace, withConnectOptions } from "./maintenance-context.js";

const compactFlags = z.object({
  ...connectFlags,
  ino: z.coerce.number().int().positive("expected an inode number (1 = the whole filespace)"),
  force: z.boolean().optional(),
  dryRun: z.boolean().optional(),
  json: z.boolean().optional(),
});

export function compactCommand(): Command {
  return withConnectOptions(new Command("compact"))
    .description("rewrite heavily fragmented files into full chunks (old chunks become garbage for gc)")
    .option("--ino <n>", "compact the tree below this directory inode", "1")
    .option("--force", "rewrite every file, fragmented or not")
    .option("--dry-run", "list fragmented files, rewrite nothing")
    .option("--json", "print the report as JSON")
    .action(async (url: string, raw: unknown) => {
      const flags = parseFlags(compactFlags, raw);
      await withStore(url, async (store) => {
        const { header, keyring, metaKey } = await unlockFilespace(store, flags);
        let api: MetaApi;
        let token: string;
        let close: () => Promise<void>;
        if (flags.meta === "embedded") {
          const own = await openMaintenanceService({ store, metaKey }).catch(asUsageError);
          ({ api, token } = own);
          close = () => own.close();
        } else {
          const remote = await connectMeta(flags, metaKey);
          ({ client: api, token } = remote);
          close = async () => remote.client.close();
        }
        try {
          const { sessionId } = await api.openSession({ token }, { requestId: randomUUID(), clientName: "compact" });
          const ctx: CallContext = { token, sessionId };
          const result = await compactTree(
            {
              api,
              ctx,
              store,
              codec: new ChunkCodec(keyring, { blockSize: header.blockSize }),
              chunkSize: header.chunkSize,
              compress: header.compression !== "none",
            },
            flags.ino,
            { force: flags.force ?? false, dryRun: flags.dryRun ?? false },
          );
          await api.closeSession(ctx, { requestId: randomUUID() }).catch(() => undefined);
          if (flags.json) {
            process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
          } else {
            const bytes = result.files.reduce((n, f) => n + f.bytesRewritten, 0);
            const lines = result.files.map(
              (f) => `  inode ${f.ino}: ${f.extentsBefore} → ${f.extentsAfter} extents (${f.reason})`,
            );
            lines.unshift(
              `${flags.dryRun ? "would compact" : "compacted"} ${result.files.length} of ${result.filesScanned} file(s)` +
                (flags.dryRun ? "" : `, ${formatSize(bytes)} rewritten`),
            );
            for (const f of result.failed) lines.push(`  FAILED inode ${f.ino}: ${f.error}`);
            process.stdout.write(`${lines.join("\n")}\n`);
          }
          if (result.failed.length) throw new Error(`${result.failed.length} file(s) could not be compacted`);
        } finally {
          await close();
        }
      });
    });
}
