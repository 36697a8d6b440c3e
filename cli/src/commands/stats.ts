/** `filespace stats <dir>`: cache hits, egress, upload backlog and prefetch accuracy of a running mount. */
import { controlRequest, findMount } from "@filespaces/engine/mount";
import { Command } from "commander";
import { formatSize } from "../flags.js";

interface Stats {
  cache: Record<string, number>;
  egress: { bytes: number; requests: number };
  upload: { backlogBytes: number; backlogSegments: number; uploadedBytes: number; commits: number; lastError?: string };
  prefetch: { bytesIssued: number; blocksPrefetched: number; blocksUsed: number; accuracy: number | null };
  pins: string[];
}

const pct = (a: number, b: number) => (b > 0 ? `${((100 * a) / b).toFixed(1)} %` : "-");

export function statsCommand(): Command {
  return new Command("stats")
    .description("show a mount's cache hits, bytes from the store, upload backlog and prefetch accuracy")
    .argument("<dir>")
    .option("--json", "print JSON")
    .action(async (dir: string, raw: { json?: boolean }) => {
      const found = findMount(dir);
      const a = await controlRequest(found.socket, { op: "stats" });
      if (!a.ok) throw new Error(a.error);
      const s = a.stats as Stats;
      if (raw.json) {
        process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
        return;
      }
      const c = s.cache;
      const hits = (c.memoryHits ?? 0) + (c.diskHits ?? 0);
      const lines = [
        `mount          ${found.mountpoint}`,
        `cache hits     memory ${c.memoryHits}, disk ${c.diskHits} (hit rate ${pct(hits, hits + (c.diskMisses ?? 0))})`,
        `disk cache     ${formatSize(c.diskBytes ?? 0)} of ${formatSize(c.diskMaxBytes ?? 0)} (pinned ${formatSize(c.pinnedBytes ?? 0)})`,
        `memory         ${c.slabSlots ?? 0} plaintext slots, ${c.slabInUse ?? 0} in use, ${c.slabExhausted ?? 0} blocks found none free`,
        `disk cache I/O ${c.diskIoDirect ?? 0} direct, ${c.diskIoBuffered ?? 0} through the page cache`,
        `egress         ${formatSize(s.egress.bytes)} in ${s.egress.requests} range GETs`,
        `upload backlog ${formatSize(s.upload.backlogBytes)} in ${s.upload.backlogSegments} segment(s); uploaded ${formatSize(s.upload.uploadedBytes)}, ${s.upload.commits} commits`,
        `prefetch       ${formatSize(s.prefetch.bytesIssued)} issued; accuracy ${s.prefetch.accuracy === null ? "-" : pct(s.prefetch.blocksUsed, s.prefetch.blocksPrefetched)}`,
      ];
      if (s.upload.lastError) lines.push(`last error     ${s.upload.lastError}`);
      if (s.pins.length) lines.push(`pinned         ${s.pins.join(", ")}`);
      process.stdout.write(`${lines.join("\n")}\n`);
    });
}
