/** `filespace cache resize <dir> <size>`: change a running mount's disk cache bound. */
import { controlRequest, findMount } from "@filespaces/engine/mount";
import { Command } from "commander";
import { z } from "zod";
import { formatSize, parseFlags, sizeFlag } from "../flags.js";

export function cacheCommand(): Command {
  const resize = new Command("resize")
    .description("change the disk cache bound of a running mount (shrinking evicts)")
    .argument("<dir>")
    .argument("<size>")
    .action(async (dir: string, size: string) => {
      const { size: bytes } = parseFlags(z.object({ size: sizeFlag }), { size });
      const found = findMount(dir);
      const a = await controlRequest(found.socket, { op: "cache-resize", bytes });
      if (!a.ok) throw new Error(a.error);
      process.stdout.write(`disk cache of ${found.mountpoint} is now ${formatSize(bytes)}\n`);
    });
  return new Command("cache").description("manage a running mount's cache").addCommand(resize);
}
