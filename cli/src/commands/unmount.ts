/** `filespace unmount <dir> [--force]`: returns when every upload is committed (or, forced, says how many wait). */
import { controlRequest, findMount } from "@filespaces/engine/mount";
import { Command } from "commander";
import { formatSize } from "../flags.js";

export function unmountCommand(): Command {
  return new Command("unmount")
    .description("unmount a filespace (waits until every upload is committed)")
    .argument("<dir>")
    .option("--force", "unmount now; pending uploads stay queued locally for the next mount")
    .action(async (dir: string, raw: { force?: boolean }) => {
      const found = findMount(dir);
      const a = await controlRequest(found.socket, { op: "unmount", force: raw.force ?? false });
      if (!a.ok) throw new Error(a.error);
      const segs = Number(a.pendingSegments ?? 0);
      if (segs > 0)
        process.stdout.write(
          `unmounted ${found.mountpoint}; ${segs} write-back segment(s) (${formatSize(Number(a.pendingBytes))}) left queued for the next mount\n`,
        );
      else process.stdout.write(`unmounted ${found.mountpoint}; every upload committed\n`);
    });
}
