/** `filespace warm <path>`: prefetch a file or tree into the mount's cache, with a progress bar. */
import { controlRequest, findMount } from "@filespaces/engine/mount";
import cliProgress from "cli-progress";
import { Command } from "commander";
import { formatSize } from "../flags.js";

export function warmCommand(): Command {
  return new Command("warm")
    .description("prefetch a file or a tree into the mount's cache")
    .argument("<path>")
    .action(async (path: string) => {
      const found = findMount(path);
      const bar = process.stderr.isTTY
        ? new cliProgress.SingleBar(
            { format: "warming [{bar}] {percentage}% | {files}/{totalFiles} files | {done}", stream: process.stderr },
            cliProgress.Presets.shades_classic,
          )
        : undefined;
      let started = false;
      const a = await controlRequest(found.socket, { op: "warm", path: found.relPath }, (p) => {
        const total = Number(p.totalBytes) || 1;
        const payload = { files: p.files, totalFiles: p.totalFiles, done: formatSize(Number(p.bytes)) };
        if (!started) bar?.start(total, 0, payload);
        started = true;
        bar?.update(Number(p.bytes), payload);
      });
      bar?.stop();
      if (!a.ok) throw new Error(a.error);
      process.stdout.write(`warmed ${a.files} files, ${formatSize(Number(a.bytes))}\n`);
    });
}
